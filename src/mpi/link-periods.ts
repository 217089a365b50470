import type { Queryable } from '../store/database.ts';

/** A stretch of time during which one of a person's source records belonged to another person. */
export interface EarlierMembership {
  personId: string;
  from: Date;
  /** Null while it still does (never for an earlier person; kept for the type's honesty). */
  until: Date | null;
}

/**
 * The other persons that the persons' current source records belonged to before (merges, moves, unlinks), with
 * when (`mpi_link_periods`, kept by a trigger on `mpi_links`). Accesses made then were audited under those persons.
 */
export async function earlierMemberships(db: Queryable, personIds: string[]): Promise<EarlierMembership[]> {
  if (personIds.length === 0) return [];
  const rows = (await db.query<{ person_id: string; linked_from: Date | string; linked_until: Date | string | null }>(
    `select distinct p.person_id, p.linked_from, p.linked_until
       from mpi_links l join mpi_link_periods p on p.patient_id = l.patient_id
      where l.person_id = any($1::text[]) and p.person_id <> all($1::text[])
      order by p.linked_from`,
    [personIds],
  )).rows;
  return rows.map((r) => ({ personId: r.person_id, from: new Date(r.linked_from), until: r.linked_until === null ? null : new Date(r.linked_until) }));
}

/** A person named by an audit entry, and when the entry was recorded. */
export interface PersonAt {
  key: string;
  personId: string;
  at: string;
}

/** For each person at a moment, its source Patients linked then (`mpi_link_periods`), by `key`. */
export async function patientsAt(db: Queryable, asked: PersonAt[]): Promise<Map<string, string[]>> {
  if (asked.length === 0) return new Map();
  const rows = (await db.query<{ key: string; patients: string[] }>(
    `select a.key, array_agg(p.patient_id order by p.patient_id) as patients
       from unnest($1::text[], $2::text[], $3::timestamptz[]) as a(key, person_id, at)
       join mpi_link_periods p on p.person_id = a.person_id and p.linked_from <= a.at and (p.linked_until is null or a.at < p.linked_until)
      group by a.key`,
    [asked.map((a) => a.key), asked.map((a) => a.personId), asked.map((a) => a.at)],
  )).rows;
  return new Map(rows.map((r) => [r.key, r.patients]));
}
