// The source Patients of an MPI person, for the SMART launch context of a patient signing in. Unfiltered: the
// caller decides who may learn the id (only the person themself, see auth/token-endpoint.ts).
import type { Queryable } from './database.ts';
import { run } from './database.ts';
import { sql } from './sql.ts';

/**
 * The person's most recently updated stored (not deleted) source Patient, ties by id in byte order; undefined when
 * the person has none. A person may have one Patient per sending organization: the newest is the freshest
 * demographics, and a fixed order keeps the answer the same from one token to the next.
 */
export async function newestPatientOfPerson(tx: Queryable, personId: string): Promise<string | undefined> {
  const rows = await run<{ id: string }>(tx, sql`
    select r.id from mpi_links l
    join resources r on r.resource_type = 'Patient' and r.id = l.patient_id and r.deleted = false
    where l.person_id = ${personId}
    order by r.last_updated desc, r.id collate "C" desc limit 1`);
  return rows[0]?.id;
}
