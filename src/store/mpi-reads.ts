// The MPI's reads of source Patients, each one statement, because they run inside every Patient write: the
// candidates behind a record's block keys, and the members of persons with the demographics their Person shows.
// Unfiltered, like `readPatients`: only the MPI's link store calls these.
import type { HumanName, Resource } from '@medplum/fhirtypes';
import type { Queryable } from './database.ts';
import { run } from './database.ts';
import { sql } from './sql.ts';

export interface CandidateRow {
  patient_id: string;
  person_id: string;
  content: Resource;
  /** The sealed SSN, when the Patient has one. */
  ssn_ciphertext: string | null;
}

/**
 * Linked, stored source Patients sharing a usable block key with the record: a key is read through the primary
 * key with a limit one past `maxBlockSize`, so that work is bounded by the number of keys, never by the size of
 * the key table; keys with more members than `maxBlockSize` are ignored. The `limit` records sharing the most
 * keys are kept (ties by id in byte order, as the batch linker breaks them). Pairs a steward marked not-link with
 * `exclude` (stored in both directions) are then left out, as is `exclude` itself.
 */
export async function readBlockCandidates(tx: Queryable, opts: { keys: string[]; exclude: string; maxBlockSize: number; limit: number }): Promise<CandidateRow[]> {
  if (opts.keys.length === 0) return [];
  return run<CandidateRow>(tx, sql`
    with hits as (
      select u.key, b.patient_id from unnest(${opts.keys}::text[]) as u(key)
      cross join lateral (select patient_id from mpi_block_keys b where b.key = u.key limit ${opts.maxBlockSize + 1}) b),
    usable as (select key from hits group by key having count(*) <= ${opts.maxBlockSize}),
    found as (select h.patient_id from hits h join usable using (key) where h.patient_id <> ${opts.exclude}
      group by h.patient_id order by count(*) desc, h.patient_id collate "C" limit ${opts.limit})
    select l.patient_id, l.person_id, r.content, pv.ciphertext as ssn_ciphertext
    from found f
    join mpi_links l on l.patient_id = f.patient_id
    join resources r on r.resource_type = 'Patient' and r.id = f.patient_id and r.deleted = false
    left join protected_values pv on pv.resource_type = 'Patient' and pv.id = f.patient_id and pv.kind = 'ssn'
    where not exists (select 1 from mpi_not_links n where n.patient_a = ${opts.exclude} and n.patient_b = f.patient_id)`);
}

export interface PersonMemberRow {
  person_id: string;
  patient_id: string;
  /** `level2` for a probable member: a record of another person that an open review task proposes for this one. */
  assurance: string;
  /** Whether the source Patient is stored (not deleted); the demographics below are null otherwise. */
  stored: boolean;
  name: HumanName[] | null;
  gender: string | null;
  birth_date: string | null;
  /** The person's privacy choice (same on every row of a person). */
  opted_out: boolean;
}

/**
 * Members of the persons, ordered by person then source Patient id, with what their Person resource shows. Links
 * are looked up per person and the Patient and privacy rows per member (lateral subqueries, kept apart by
 * `offset 0` / `limit 1`, which the planner cannot flatten into joins), so the plan stays index lookups for a
 * chunk of persons; joins let the planner scan all links and Patients (up to 600 ms per 1,000 persons at 100,000
 * records, right after a batch load when the statistics still describe empty tables).
 *
 * Then the probable members (`level2`, no demographics): records of other persons that an open review task proposes
 * for one of these members, read per member through the open-task index in the same statement. They are not in the
 * compartment (that is `mpi_links` alone); a record already in the person is not listed twice.
 */
export async function readPersonMembers(tx: Queryable, personIds: string[]): Promise<PersonMemberRow[]> {
  if (personIds.length === 0) return [];
  return run<PersonMemberRow>(tx, sql`
    with members as (
      select l.person_id, l.patient_id, l.assurance from unnest(${personIds}::text[]) as p(person_id)
      cross join lateral (select person_id, patient_id, assurance from mpi_links where person_id = p.person_id offset 0) l),
    probable as (
      select distinct m.person_id, t.patient_a as patient_id from members m
      cross join lateral (select patient_a from mpi_tasks where patient_b = m.patient_id and status = 'open' offset 0) t
      where not exists (select 1 from mpi_links a where a.patient_id = t.patient_a and a.person_id = m.person_id))
    select m.person_id, m.patient_id, m.assurance, r.id is not null as stored, r.name, r.gender, r.birth_date, coalesce(pp.opted_out, false) as opted_out
    from members m
    left join lateral (select r.id, r.content->'name' as name, r.content->>'gender' as gender, r.content->>'birthDate' as birth_date
      from resources r where r.resource_type = 'Patient' and r.id = m.patient_id and r.deleted = false limit 1) r on true
    left join lateral (select opted_out from person_privacy where person_id = m.person_id limit 1) pp on true
    union all
    select person_id, patient_id, 'level2', false, null, null, null, false from probable
    order by person_id, patient_id`);
}
