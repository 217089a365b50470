import { loadValueSets } from '../privacy/labels/value-sets.ts';
import type { Database } from '../store/database.ts';
import { run } from '../store/database.ts';
import { sql } from '../store/sql.ts';
import { formatRelabel, relabelAll } from './relabel.ts';
import { formatVerification, verifyPurge } from './verify-purge.ts';

/** Accepts a person id, or the id of one of their source Patients (what an operator usually has at hand). */
async function resolvePerson(db: Database, id: string): Promise<string | undefined> {
  const rows = await run<{ person_id: string }>(db, sql`select person_id from mpi_links where person_id = ${id} or patient_id = ${id} limit 1`);
  return rows[0]?.person_id;
}

/** `privacy verify-purge`: 0 when the person's purge is verified; 1 when anything is left, they have not opted out, or are unknown. */
export async function verifyPurgeCommand(db: Database, id: string, print: (line: string) => void): Promise<number> {
  const personId = await resolvePerson(db, id);
  if (!personId) {
    print(`no person or source patient with id ${id.slice(0, 64)}`);
    return 1;
  }
  const v = await verifyPurge(db, personId);
  print(formatVerification(v));
  return v.ok ? 0 : 1;
}

/** `privacy relabel`: prints the counts; always 0 (a failure throws). `base`: this server's FHIR base. */
export async function relabelCommand(db: Database, print: (line: string) => void, base: string): Promise<number> {
  print(formatRelabel(await relabelAll(db, loadValueSets(), base)));
  return 0;
}
