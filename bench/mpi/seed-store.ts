// Bench-only shortcut: writes source Patients straight into the store tables (resources, history, sealed SSNs)
// without linking, so a large population can be batch-linked. No search index rows and no audit: this is not a
// write path, only a way to have N stored records to link. Linking itself goes through the real MPI code.
import { randomUUID } from 'node:crypto';
import type { Patient } from '@medplum/fhirtypes';
import { maskSsn } from '../../src/auth/field-crypto.ts';
import type { MpiRecord } from '../../src/mpi/normalize.ts';
import { SSN_SYSTEM } from '../../src/mpi/normalize.ts';
import type { RunningServer } from '../../src/server.ts';
import { run } from '../../src/store/database.ts';
import { sql } from '../../src/store/sql.ts';
import { recordToPatient } from './fhir-patients.ts';

const CHUNK = 2000;

function sealed(p: Patient, id: string, at: string): { content: Patient; ssn?: string } {
  const ssn = p.identifier?.find((i) => i.system === SSN_SYSTEM)?.value;
  const identifier = (p.identifier ?? []).map((i) => (i.system === SSN_SYSTEM ? { ...i, value: maskSsn(i.value!) } : i));
  return { content: { ...p, id, identifier, meta: { versionId: '1', lastUpdated: at } }, ssn };
}

/** Inserts the records as stored, unlinked Patients of `organizationId`; returns their ids in record order. */
export async function seedPatients(server: RunningServer, organizationId: string, records: readonly MpiRecord[], onProgress?: (n: number) => void): Promise<string[]> {
  const ids: string[] = [];
  const crypto = server.services.auth.fieldCrypto;
  for (let i = 0; i < records.length; i += CHUNK) {
    // Distinct, increasing timestamps keep the arrival order for the batch linker.
    const rows = records.slice(i, i + CHUNK).map((r, k) => {
      const id = randomUUID();
      const at = new Date(Date.UTC(2020, 0, 1) + (i + k) * 1000).toISOString();
      return { id, at, ...sealed(recordToPatient(r), id, at) };
    });
    await server.services.db.transaction(async (tx) => {
      const idsArr = rows.map((r) => r.id);
      const ats = rows.map((r) => r.at);
      const contents = rows.map((r) => JSON.stringify(r.content));
      await run(tx, sql`insert into resources (resource_type, id, version_id, last_updated, deleted, patient_id, source_org, content)
        select 'Patient', id, 1, at::timestamptz, false, id, ${organizationId}, c::jsonb from unnest(${idsArr}::text[], ${ats}::text[], ${contents}::text[]) as t(id, at, c)`);
      await run(tx, sql`insert into resource_history (resource_type, id, version_id, last_updated, deleted, content)
        select 'Patient', id, 1, at::timestamptz, false, c::jsonb from unnest(${idsArr}::text[], ${ats}::text[], ${contents}::text[]) as t(id, at, c)`);
      const withSsn = rows.filter((r) => r.ssn);
      await run(tx, sql`insert into protected_values (resource_type, id, kind, ciphertext, hmac)
        select 'Patient', id, 'ssn', c, h from unnest(${withSsn.map((r) => r.id)}::text[], ${withSsn.map((r) => crypto.encrypt(r.ssn!))}::text[], ${withSsn.map((r) => crypto.keyedHash(r.ssn!))}::text[]) as t(id, c, h)`);
    });
    ids.push(...rows.map((r) => r.id));
    onProgress?.(ids.length);
  }
  // Autovacuum would analyze the grown tables within a minute or so; the bench measures that steady state at once.
  await server.services.db.query('analyze resources, resource_history, protected_values');
  return ids;
}
