import type { Patient } from '@medplum/fhirtypes';
import { systemContext } from '../access/context.ts';
import { run } from '../store/database.ts';
import { sql } from '../store/sql.ts';
import type { Services } from '../services.ts';
import { train, type MatchModel } from './model.ts';
import { saveMatchModel } from './model-store.ts';
import type { MpiRecord } from './normalize.ts';

const BATCH = 200;

async function patientIds(s: Services, after: string, limit: number): Promise<string[]> {
  const rows = await run<{ id: string }>(s.db, sql`select id from resources where resource_type = 'Patient' and deleted = false and id > ${after} order by id limit ${limit}`);
  return rows.map((r) => r.id);
}

/** Refits the match model on the stored source records (unsupervised: no labels) and stores it as a new version. */
export async function trainFromStore(s: Services, maxRecords = 200_000): Promise<{ version: number; records: number; model: MatchModel }> {
  const records: MpiRecord[] = [];
  for (let after = ''; records.length < maxRecords; ) {
    const ids = await patientIds(s, after, BATCH);
    if (ids.length === 0) break;
    const batch = await s.gate.run(systemContext('mpi train'), { action: 'read', query: 'mpi train' }, (scope) => s.links.records(scope, ids));
    records.push(...batch);
    after = ids[ids.length - 1];
  }
  const model = train(records, { now: new Date() });
  const version = await saveMatchModel(s.db, model);
  s.model.current = { ...model, version };
  return { version, records: records.length, model };
}

/**
 * Re-links every source record with the current model, a batch per transaction, so the server keeps serving
 * (no downtime). Confirmed links (level4) are kept as stewards decided them.
 */
export async function relinkAll(s: Services, onProgress?: (done: number) => void): Promise<{ examined: number; moved: number }> {
  let examined = 0;
  let moved = 0;
  for (let after = ''; ; ) {
    const ids = await patientIds(s, after, BATCH);
    if (ids.length === 0) break;
    await s.gate.run(systemContext('mpi relink'), { action: 'mpi-link', query: 'batch relink' }, async (scope) => {
      // The batch's link rows are locked first, in patient order: each link below takes privacy locks that a clinical
      // write of a record linked later in the batch may wait for while holding that record's row (`linksLockedFirst`).
      await run(scope.tx, sql`select 1 from mpi_links where patient_id = any(${ids}::text[]) order by patient_id for no key update`);
      const records = new Map((await s.links.records(scope, ids)).map((r) => [r.id, r]));
      for (const id of ids) {
        const before = await s.links.personOf(scope, id);
        const patient = (await scope.rowsFor([{ resource_type: 'Patient', id }]))[0]?.content as Patient | undefined;
        const record = records.get(id);
        if (!patient || !record) continue;
        const ssn = record.ssn ? [{ system: 'http://hl7.org/fhir/sid/us-ssn', value: record.ssn }] : [];
        const after = await s.links.link(scope, { ...patient, id, identifier: [...(patient.identifier ?? []).filter((i) => i.system !== 'http://hl7.org/fhir/sid/us-ssn'), ...ssn] });
        if (before !== after) moved++;
        examined++;
      }
    });
    after = ids[ids.length - 1];
    onProgress?.(examined);
  }
  return { examined, moved };
}
