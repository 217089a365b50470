// Loads labelled records through the real FHIR API (transaction bundles, a system client token) and reads the
// persons the MPI formed, for database-backed accuracy figures.
import type { Bundle, BundleEntry, Person } from '@medplum/fhirtypes';
import { systemContext } from '../../src/access/context.ts';
import { pairwiseMetrics, UnionFind, type PairwiseMetrics } from '../../src/mpi/cluster.ts';
import type { MpiRecord } from '../../src/mpi/normalize.ts';
import type { RunningServer } from '../../src/server.ts';
import { run } from '../../src/store/database.ts';
import { sql } from '../../src/store/sql.ts';
import { systemClientToken } from '../../test/support/tokens.ts';
import { recordToPatient, validFhirDate } from './fhir-patients.ts';

export interface ApiSource {
  token: string;
  organizationId: string;
}

/** An Organization and a SMART backend-services client sending for it. */
export async function apiSource(server: RunningServer, clientId = 'mpi-eval'): Promise<ApiSource> {
  const org = await server.services.gate.run(systemContext('mpi eval'), { action: 'create' }, (scope) =>
    server.services.records.create(scope, { resourceType: 'Organization', name: 'MPI evaluation source' }));
  const organizationId = org.resource.id!;
  return { organizationId, token: await systemClientToken(server, clientId, organizationId) };
}

function transaction(records: readonly MpiRecord[]): Bundle {
  const entry: BundleEntry[] = records.map((r) => ({ resource: recordToPatient(r), request: { method: 'POST', url: 'Patient' } }));
  return { resourceType: 'Bundle', type: 'transaction', entry };
}

export interface LoadResult {
  /** Patient id per record, in record order. */
  patientIds: string[];
  seconds: number;
  /** Records whose birth date was dropped because it is not a valid FHIR date. */
  droppedDates: number;
}

/** Posts the records in order, `batch` per transaction bundle; every Patient is linked before its bundle returns. */
export async function loadThroughApi(server: RunningServer, source: ApiSource, records: readonly MpiRecord[], batch = 50, onProgress?: (n: number) => void): Promise<LoadResult> {
  const patientIds: string[] = [];
  const t0 = performance.now();
  for (let i = 0; i < records.length; i += batch) {
    const res = await server.app.inject({
      method: 'POST', url: '/fhir',
      headers: { authorization: `Bearer ${source.token}`, 'content-type': 'application/fhir+json' },
      payload: JSON.stringify(transaction(records.slice(i, i + batch))),
    });
    if (res.statusCode !== 200) throw new Error(`transaction at record ${i} failed (${res.statusCode}): ${res.body.slice(0, 500)}`);
    for (const e of (res.json() as Bundle).entry ?? []) {
      const id = /Patient\/([^/]+)/.exec(e.response?.location ?? '')?.[1];
      if (!id) throw new Error(`no Patient location in response at record ${i}`);
      patientIds.push(id);
    }
    onProgress?.(patientIds.length);
  }
  const droppedDates = records.filter((r) => r.birthDate && !validFhirDate(r.birthDate)).length;
  return { patientIds, seconds: (performance.now() - t0) / 1000, droppedDates };
}

/** Person id per Patient id, from the link table the Person resources mirror. */
export async function personsOf(server: RunningServer, patientIds: readonly string[]): Promise<string[]> {
  const rows = await run<{ patient_id: string; person_id: string }>(server.services.db, sql`select patient_id, person_id from mpi_links where patient_id = any(${[...patientIds]}::text[])`);
  const byPatient = new Map(rows.map((r) => [r.patient_id, r.person_id]));
  return patientIds.map((id) => byPatient.get(id) ?? `unlinked:${id}`);
}

/** Person id per Patient id read back through GET /fhir/Person (the FHIR view of the same links), paging through. */
export async function personsViaFhir(server: RunningServer, token: string, patientIds: readonly string[]): Promise<string[]> {
  const byPatient = new Map<string, string>();
  let url: string | undefined = '/fhir/Person?_count=500';
  while (url) {
    const res = await server.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
    if (res.statusCode !== 200) throw new Error(`GET Person failed (${res.statusCode}): ${res.body.slice(0, 300)}`);
    const bundle = res.json() as Bundle;
    for (const e of bundle.entry ?? []) {
      for (const l of (e.resource as Person).link ?? []) {
        // level2 entries are records of other persons awaiting review, not members of this one.
        if (l.assurance === 'level2') continue;
        const pid = l.target.reference?.replace(/^Patient\//, '');
        if (pid) byPatient.set(pid, e.resource!.id!);
      }
    }
    const next = bundle.link?.find((l) => l.relation === 'next')?.url;
    url = next ? next.slice(next.indexOf('/fhir/')) : undefined;
  }
  return patientIds.map((id) => byPatient.get(id) ?? `unlinked:${id}`);
}

export async function openTaskCount(server: RunningServer): Promise<number> {
  const rows = await run<{ n: number }>(server.services.db, sql`select count(*)::int as n from mpi_tasks where status = 'open'`);
  return rows[0].n;
}

export interface ApiAccuracy extends PairwiseMetrics {
  persons: number;
  openTasks: number;
  /** Recall if a perfect steward confirmed every open task whose two records are one true person. */
  recallAfterReview: number;
}

/** Pairwise metrics of the persons against the truth, and the review queue a steward would work. */
export async function apiAccuracy(server: RunningServer, patientIds: readonly string[], persons: readonly string[], truth: readonly string[]): Promise<ApiAccuracy> {
  const metrics = pairwiseMetrics(persons, truth);
  const tasks = await run<{ patient_a: string; patient_b: string }>(server.services.db, sql`select patient_a, patient_b from mpi_tasks where status = 'open'`);
  const index = new Map(patientIds.map((id, i) => [id, i]));
  // Union-find over records: start from the persons, then join the pairs a perfect steward would confirm.
  const uf = new UnionFind(persons.length);
  const firstOf = new Map<string, number>();
  persons.forEach((p, i) => (firstOf.has(p) ? uf.union(firstOf.get(p)!, i) : firstOf.set(p, i)));
  for (const t of tasks) {
    const a = index.get(t.patient_a);
    const b = index.get(t.patient_b);
    if (a !== undefined && b !== undefined && truth[a] === truth[b]) uf.union(a, b);
  }
  const merged = persons.map((_, i) => uf.find(i));
  return { ...metrics, persons: new Set(persons).size, openTasks: tasks.length, recallAfterReview: pairwiseMetrics(merged, truth).recall };
}
