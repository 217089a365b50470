import type { AuditEvent } from '@medplum/fhirtypes';
import type { AccessContext } from '../access/context.ts';
import { run, type Queryable } from '../store/database.ts';
import { approximateRange, or } from '../store/search/conditions.ts';
import { join, plannedPerValues, raw, sql, type Sql } from '../store/sql.ts';
import { AUDIT_COLUMNS, eventOfRow, type AuditRow } from './entry.ts';
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

function condition(f: AuditFilter, persons: Map<string, string>, now: number): Sql {
  switch (f.on) {
    case 'date': return anyOf(f.values.map((v) => recordedCondition(v, now)));
    case 'agent': return anyOf(f.values.map(({ id, organizationOnly }) =>
      organizationOnly ? sql`agent_org = ${id}` : sql`(agent_user_id = ${id} or agent_client = ${id} or agent_org = ${id})`));
    case 'patient': {
      const ids = f.patientIds.flatMap((p) => persons.get(p) ?? []);
      return ids.length ? sql`person_ids && ${ids}::text[]` : raw('false');
    }
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
async function personsOf(filters: AuditFilter[], personOf: AuditSearchOptions['personOf']): Promise<Map<string, string>> {
  const persons = new Map<string, string>();
  for (const f of filters) {
    if (f.on !== 'patient') continue;
    for (const p of f.patientIds) {
      const person = persons.get(p) ?? (await personOf(p));
      if (person) persons.set(p, person);
    }
  }
  return persons;
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
  const persons = await personsOf(query.filters, opts.personOf);
  const pin = query.before ?? Number((await run<{ n: number | string }>(db, sql`select coalesce(max(seq), 0) as n from audit_log`))[0].n);
  const where = join([sql`seq <= ${pin}`, ...query.filters.map((f) => condition(f, persons, now))], ' and ');
  const [totalRow] = await run<{ n: number | string }>(db, plannedPerValues(sql`select count(*) as n from audit_log where ${where}`));
  const rows = query.count === 0 ? [] : await run<AuditRow>(db, plannedPerValues(
    sql`select ${raw(AUDIT_COLUMNS)} from audit_log where ${where} order by seq desc limit ${query.count} offset ${query.offset}`,
  ));
  return { total: Number(totalRow.n), events: rows.map(eventOfRow), before: pin };
}

/** One entry of the log as its AuditEvent; undefined when no entry has that id. */
export async function readAuditEvent(db: Queryable, id: string): Promise<AuditEvent | undefined> {
  if (!/^[1-9]\d{0,17}$/.test(id)) return undefined;
  const [row] = await run<AuditRow>(db, sql`select ${raw(AUDIT_COLUMNS)} from audit_log where seq = ${id}::bigint`);
  return row && eventOfRow(row);
}
