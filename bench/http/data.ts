import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { exportJWK, generateKeyPair } from 'jose';
import { systemContext, type AccessContext } from '../../src/access/context.ts';
import type { StatementStat } from './sql-profile.ts';
import type { BenchStack } from './stack.ts';

export const SYNTHEA_DIR = resolve(process.cwd(), '../shared/corpora/synthea-r4/bundles');
export const BENCH_CODE = { system: 'http://loinc.org', code: '2345-7', display: 'Glucose' };
const GENERATED_OBSERVATIONS = 250;
const INGEST_CONCURRENCY = 2;
/** Bundles ingested (of 40): enough for a stable rate while keeping the whole bench under 10 minutes. */
export const INGEST_BUNDLES = 12;
export const INGEST_WARMUP = 3;
const DAY = 86_400_000;

export interface IngestFigures {
  bundles: number;
  resources: number;
  seconds: number;
  failures: number;
  /** SQL statements per ingested resource and where the time went. */
  statementsPerResource: number;
  top: StatementStat[];
}

export interface BenchData {
  orgId: string;
  systemToken: string;
  clinicianToken: string;
  systemCtx: AccessContext;
  clinicianCtx: AccessContext;
  internalCtx: AccessContext;
  patientId: string;
  observationId: string;
  /** Patient + code + date, 20 per page; more than 200 match. */
  searchPath: string;
  searchTotal: number;
  createBody: string;
  ingest?: IngestFigures;
}

async function post(url: string, token: string, body: unknown): Promise<{ status: number; json: Bundle & Resource }> {
  const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Bundle & Resource };
}

/** An organization, its EHR system client and one of its clinicians, with tokens from the auth service. */
async function principals(stack: BenchStack): Promise<Pick<BenchData, 'orgId' | 'systemToken' | 'clinicianToken' | 'systemCtx' | 'clinicianCtx' | 'internalCtx'>> {
  const { gate, records, auth } = stack.services;
  const internalCtx = systemContext('bench');
  const org = await gate.run(internalCtx, { action: 'create' }, (scope) => records.create(scope, { resourceType: 'Organization', name: 'Bench Clinic' }));
  const orgId = org.resource.id!;
  const { publicKey } = await generateKeyPair('ES384');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench-k1', alg: 'ES384' };
  await auth.addClient({ clientId: 'bench-ehr', name: 'Bench EHR', organizationId: orgId, scopes: ['system/*.cruds'], jwks: { keys: [jwk] } });
  await auth.addUser({ username: 'bench.clinician', password: 'bench-password-123', role: 'clinician', displayName: 'Bench Clinician', organizationId: orgId });
  const systemToken = (await auth.mintTokenForClient('bench-ehr')).accessToken;
  const clinicianToken = (await auth.mintTokenForUser('bench.clinician')).accessToken;
  return {
    orgId, systemToken, clinicianToken, internalCtx: { ...internalCtx, organizationId: orgId },
    systemCtx: await auth.verify(systemToken), clinicianCtx: await auth.verify(clinicianToken),
  };
}

/** POSTs a bundle's text as it is: the client's own JSON work would be counted against the server in this process. */
async function postText(url: string, token: string, body: string): Promise<number> {
  const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' }, body });
  await res.arrayBuffer();
  return res.status;
}

/**
 * (e) Synthea transaction bundles POSTed by the EHR client, a small number at a time; wall-clock resources/s. The last
 * `INGEST_WARMUP` bundles (by file name) go first, untimed, so the figure is the sustained rate rather than the first
 * seconds of a cold process (code not yet compiled by V8 cost twice the CPU per resource); then the first
 * `INGEST_BUNDLES` are timed.
 */
export async function ingestSynthea(stack: BenchStack, token: string): Promise<IngestFigures | undefined> {
  if (!existsSync(SYNTHEA_DIR)) {
    console.warn(`NOTICE: corpus ${SYNTHEA_DIR} absent: skipping bundle ingest`);
    return undefined;
  }
  const all = (await readdir(SYNTHEA_DIR)).filter((f) => f.endsWith('.json')).sort();
  const read = async (files: string[]) => Promise.all(files.map(async (f) => {
    const text = await readFile(resolve(SYNTHEA_DIR, f), 'utf8');
    return { text, resources: (JSON.parse(text) as Bundle).entry?.length ?? 0 };
  }));
  const send = async (bundles: Array<{ text: string; resources: number }>, figures?: IngestFigures) => {
    let next = 0;
    const worker = async () => {
      while (next < bundles.length) {
        const bundle = bundles[next++];
        const status = await postText(`${stack.urls.full}/fhir`, token, bundle.text);
        if (!figures) continue;
        if (status === 200) figures.resources += bundle.resources;
        else figures.failures += 1;
      }
    };
    await Promise.all(Array.from({ length: INGEST_CONCURRENCY }, worker));
  };
  await send(await read(all.slice(-INGEST_WARMUP)));
  const timed = await read(all.slice(0, INGEST_BUNDLES));
  const figures: IngestFigures = { bundles: timed.length, resources: 0, seconds: 0, failures: 0, statementsPerResource: 0, top: [] };
  stack.db.start();
  const t0 = performance.now();
  await send(timed, figures);
  figures.seconds = (performance.now() - t0) / 1000;
  const profile = stack.db.stop();
  figures.statementsPerResource = profile.statements.reduce((n, st) => n + (st.statement.startsWith('(') ? 0 : st.count), 0) / Math.max(1, figures.resources);
  figures.top = profile.statements.slice(0, 8);
  return figures;
}

function observation(subject: string, i: number): Resource {
  return {
    resourceType: 'Observation', status: 'final', code: { coding: [BENCH_CODE] }, subject: { reference: subject },
    effectiveDateTime: new Date(Date.now() - (i + 1) * 2 * DAY).toISOString(),
    valueQuantity: { value: 4 + (i % 30) / 10, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
  } as Resource;
}

/** One patient of the clinic with a recent encounter (the care relationship) and 250 glucose results. */
async function benchPatient(stack: BenchStack, token: string): Promise<{ patientId: string; observationId: string }> {
  const entry = (fullUrl: string, resource: Resource): BundleEntry => ({ fullUrl, resource, request: { method: 'POST', url: resource.resourceType } });
  const patient = { resourceType: 'Patient', name: [{ family: 'Benchmark', given: ['Bea'] }], gender: 'female', birthDate: '1961-03-14' } as Resource;
  const encounter = {
    resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
    subject: { reference: 'urn:uuid:bench-patient' }, period: { start: new Date(Date.now() - 10 * DAY).toISOString(), end: new Date(Date.now() - 10 * DAY).toISOString() },
  } as Resource;
  const entries = [entry('urn:uuid:bench-patient', patient), entry('urn:uuid:bench-encounter', encounter)];
  for (let i = 0; i < GENERATED_OBSERVATIONS; i++) entries.push(entry(`urn:uuid:bench-obs-${i}`, observation('urn:uuid:bench-patient', i)));
  const { status, json } = await post(`${stack.urls.full}/fhir`, token, { resourceType: 'Bundle', type: 'transaction', entry: entries });
  if (status !== 200) throw new Error(`bench patient bundle failed: ${status} ${JSON.stringify(json).slice(0, 400)}`);
  const ids = (json.entry ?? []).map((e) => e.response?.location?.split('/')[1] ?? '');
  return { patientId: ids[0], observationId: ids[2] };
}

export async function loadBenchData(stack: BenchStack): Promise<BenchData> {
  const who = await principals(stack);
  const ingest = await ingestSynthea(stack, who.systemToken);
  const { patientId, observationId } = await benchPatient(stack, who.systemToken);
  // A running server's tables have planner statistics (autovacuum analyzes them); freshly loaded ones do not, and
  // without them PostgreSQL estimates one row everywhere and picks nested loops over every index.
  await stack.db.query('analyze');
  const since = new Date(Date.now() - 3 * 365 * DAY).toISOString().slice(0, 10);
  const searchPath = `/fhir/Observation?subject=Patient/${patientId}&code=${encodeURIComponent(`${BENCH_CODE.system}|${BENCH_CODE.code}`)}&date=ge${since}&_count=20`;
  const check = await fetch(`${stack.urls.full}${searchPath}`, { headers: { authorization: `Bearer ${who.clinicianToken}` } });
  const bundle = (await check.json()) as Bundle;
  if (check.status !== 200 || bundle.entry?.length !== 20) throw new Error(`bench search returned ${check.status} with ${bundle.entry?.length ?? 0} entries`);
  // Created results are vital signs, not glucose: the search must find the same 250 rows in every round, whatever
  // the create runs before it added.
  const created = observation(`Patient/${patientId}`, 0) as Resource & { code: object };
  created.code = { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] };
  const createBody = JSON.stringify(created);
  return { ...who, ingest, patientId, observationId, searchPath, searchTotal: bundle.total ?? 0, createBody };
}
