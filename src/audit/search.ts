import type { AuditEvent } from '@medplum/fhirtypes';
import type { AccessContext } from '../access/context.ts';
import { earlierMemberships, patientsAt, type EarlierMembership } from '../mpi/link-periods.ts';
import { run, type Queryable } from '../store/database.ts';
import { approximateRange, or } from '../store/search/conditions.ts';
import { join, plannedPerValues, raw, sql, type Sql } from '../store/sql.ts';
import { AUDIT_COLUMNS, eventOfRow, type AuditRow } from './entry.ts';
import { withSourcePatients } from './events.ts';
import type { AuditFilter, AuditQuery, DateValue } from './search-query.ts';

export interface AuditSearchResult {
  total: number;
  events: AuditEvent[];
  /** The seq the pages are pinned to (`_before` of the paging links). */
  before: number;
}

export interface AuditSearchOptions {
  /** The enterprise person of a source Patient (`patient=`), undefined when unknown. */
  personOf: (patientId: string) => Promise<string | undefined>;
  /** For `ap` (approximately), whose range depends on the distance from now. */
  now?: number;
}

const at = (t: string) => sql`${t}::timestamptz`;
const from = (t: string) => sql`recorded >= ${at(t)}`;
const before = (t: string) => sql`recorded < ${at(t)}`;

/**
 * `recorded` is an instant to the millisecond, i.e. the range [r, r + 1 ms) that `dateCondition` of store/search
 * compares for each prefix; on that grid its `hi > x` is `r >= x` and `hi <= x` is `r < x`. Written on r alone so
 * the index on recorded serves every prefix.
 */
function recordedCondition(v: DateValue, now: number): Sql {
  const within = (lo: string, hi: string) => sql`(${from(lo)} and ${before(hi)})`;
  switch (v.prefix) {
    case 'eq': return within(v.lo, v.hi);
    case 'ne': return sql`not ${within(v.lo, v.hi)}`;
    case 'gt': case 'sa': return from(v.hi);
    case 'lt': case 'eb': return before(v.lo);
    case 'ge': return from(v.lo);
    case 'le': return before(v.hi);
    case 'ap': {
      const w = approximateRange(v, now);
      return within(w.lo, w.hi);
    }
  }
}

const anyOf = (parts: Sql[]) => (parts.length ? or(parts) : raw('false'));

/** The person of a Patient that `patient=` names, and the persons its person's records belonged to before, with when. */
interface PatientPersons {
  personId: string;
  earlier: EarlierMembership[];
}

/**
 * Events about the patients' persons, and, as the patient access report counts them, events about a person one of
 * their records belonged to before (a merge, a move), recorded while it did.
 */
function patientCondition(found: PatientPersons[]): Sql {
  if (found.length === 0) return raw('false');
  const current = found.map((p) => p.personId);
  const earlier = found.flatMap((p) => p.earlier);
  // Every person goes into the indexed `&&`; an earlier person's events then count only inside its periods.
  return sql`(person_ids && ${[...current, ...earlier.map((e) => e.personId)]}::text[] and (person_ids && ${current}::text[] or exists (
    select 1 from unnest(${earlier.map((e) => e.personId)}::text[], ${earlier.map((e) => e.from.toISOString())}::timestamptz[],
        ${earlier.map((e) => e.until?.toISOString() ?? null)}::timestamptz[]) as e(person_id, linked_from, linked_until)
     where person_ids @> array[e.person_id] and recorded >= e.linked_from and (e.linked_until is null or recorded < e.linked_until))))`;
}

function condition(f: AuditFilter, persons: Map<string, PatientPersons>, now: number): Sql {
  switch (f.on) {
    case 'date': return anyOf(f.values.map((v) => recordedCondition(v, now)));
    case 'agent': return anyOf(f.values.map(({ id, organizationOnly }) =>
      organizationOnly ? sql`agent_org = ${id}` : sql`(agent_user_id = ${id} or agent_client = ${id} or agent_org = ${id})`));
    case 'patient': return patientCondition(f.patientIds.flatMap((p) => persons.get(p) ?? []));
    case 'entity': return anyOf([
      ...(f.refs.length ? [sql`entity_refs && ${f.refs}::text[]`] : []),
      ...(f.personIds.length || f.ids.length ? [sql`person_ids && ${[...f.personIds, ...f.ids]}::text[]`] : []),
      ...(f.ids.length ? [sql`exists (select 1 from unnest(entity_refs) ref where split_part(ref, '/', 2) = any(${f.ids}::text[]))`] : []),
    ]);
    case 'action': return anyOf([
      ...(f.actions.length ? [sql`action = any(${f.actions}::text[])`] : []),
      ...(f.namingPersons.length ? [sql`(action = any(${f.namingPersons}::text[]) and person_ids <> '{}')`] : []),
    ]);
    case 'outcome': return f.outcomes.length ? sql`outcome = any(${f.outcomes}::text[])` : raw('false');
    case 'purpose': return f.anyPurpose ? sql`purpose is not null` : f.codes.length ? sql`purpose = any(${f.codes}::text[])` : raw('false');
  }
}

/** The persons of every Patient a `patient=` names (a Patient of no known person matches nothing). */
async function personsOf(db: Queryable, filters: AuditFilter[], personOf: AuditSearchOptions['personOf']): Promise<Map<string, PatientPersons>> {
  const persons = new Map<string, PatientPersons>();
  for (const f of filters) {
    if (f.on !== 'patient') continue;
    for (const p of f.patientIds) {
      if (persons.has(p)) continue;
      const personId = await personOf(p);
      if (personId) persons.set(p, { personId, earlier: await earlierMemberships(db, [personId]) });
    }
  }
  return persons;
}

/**
 * The entries as AuditEvents, each Person entity followed by its source Patients as linked when the entry was
 * recorded (`mpi_link_periods`, as the access report reads it): IHE BALP names the patient by a Patient.
 */
async function eventsOf(db: Queryable, rows: AuditRow[]): Promise<AuditEvent[]> {
  const key = (seq: AuditRow['seq'], personId: string) => `${seq} ${personId}`;
  const patients = await patientsAt(db, rows.flatMap((r) => (r.person_ids ?? []).map((personId) =>
    ({ key: key(r.seq, personId), personId, at: new Date(r.recorded).toISOString() }))));
  return rows.map((r) => withSourcePatients(eventOfRow(r), (personId) => patients.get(key(r.seq, personId)) ?? []));
}

/** Only privacy officers search the log (patients get their own report; clinicians never see it). */
export function mayReadAuditLog(ctx: AccessContext): boolean {
  return ctx.role === 'privacy-officer';
}

/**
 * Searches the log, newest first. Pages are pinned to the newest event when the first page was asked for
 * (`before`): offsets then count over a set that does not grow, although every search appends an event itself.
 */
export async function searchAudit(db: Queryable, query: AuditQuery, opts: AuditSearchOptions): Promise<AuditSearchResult> {
  const now = opts.now ?? Date.now();
  const persons = await personsOf(db, query.filters, opts.personOf);
  const pin = query.before ?? Number((await run<{ n: number | string }>(db, sql`select coalesce(max(seq), 0) as n from audit_log`))[0].n);
  const where = join([sql`seq <= ${pin}`, ...query.filters.map((f) => condition(f, persons, now))], ' and ');
  const [totalRow] = await run<{ n: number | string }>(db, plannedPerValues(sql`select count(*) as n from audit_log where ${where}`));
  const rows = query.count === 0 ? [] : await run<AuditRow>(db, plannedPerValues(
    sql`select ${raw(AUDIT_COLUMNS)} from audit_log where ${where} order by seq desc limit ${query.count} offset ${query.offset}`,
  ));
  return { total: Number(totalRow.n), events: await eventsOf(db, rows), before: pin };
}

/** One entry of the log as its AuditEvent; undefined when no entry has that id. */
export async function readAuditEvent(db: Queryable, id: string): Promise<AuditEvent | undefined> {
  if (!/^[1-9]\d{0,17}$/.test(id)) return undefined;
  const [row] = await run<AuditRow>(db, sql`select ${raw(AUDIT_COLUMNS)} from audit_log where seq = ${id}::bigint`);
  return row && (await eventsOf(db, [row]))[0];
}
