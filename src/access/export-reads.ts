import type { Group, Resource } from '@medplum/fhirtypes';
import { run } from '../store/database.ts';
import { join, sql, type Sql } from '../store/sql.ts';
import { authorizeRead } from './authorize.ts';
import type { GateScope } from './gate-scope.ts';
import { exportFilter } from './privacy-filter.ts';
import { scopeAllows } from './scopes.ts';
import type { ResultRow } from './search-engine.ts';

/** Which rows a bulk export covers, before the privacy filter. */
export interface ExportSelection {
  types: string[];
  /** Undefined: every row (system level); `compartment`: rows that belong to a person (Patient level); or these persons (Group level). */
  persons?: 'compartment' | string[];
  /** Only rows changed at or after this instant. */
  since?: string;
  /** The export's transactionTime: a resource created later waits for the next export (`_since`). */
  until: string;
  /** `_typeFilter`: per type, search criteria a resource must meet one of; other types are exported whole. */
  typeFilters?: Record<string, Array<Array<[string, string]>>>;
}

/** A file's share of a type: ids from `from` (inclusive) up to `to` (exclusive; null = the rest). */
export interface ExportRange {
  type: string;
  from: string;
  to: string | null;
}

/** The audit log and the MPI's own bookkeeping are not part of the exported record. */
const NEVER_EXPORTED = ['AuditEvent'];

/**
 * The resource types an export covers: those asked for, each checked against the caller's scopes (403 when one is
 * not readable), or else every type stored that the scopes let the caller read.
 */
export async function exportTypes(scope: GateScope, requested: string[] | undefined): Promise<string[]> {
  if (requested) {
    for (const type of requested) authorizeRead(scope.ctx, type);
    return requested;
  }
  // The distinct types in the primary key's order, one index probe per type rather than a scan of every row.
  const stored = await run<{ resource_type: string }>(scope.tx, sql`with recursive t(resource_type) as (
      (select resource_type from resources order by resource_type limit 1)
      union all
      select (select r.resource_type from resources r where r.resource_type > t.resource_type order by r.resource_type limit 1)
      from t where t.resource_type is not null)
    select resource_type from t where resource_type is not null`);
  return stored.map((r) => r.resource_type)
    .filter((t) => !NEVER_EXPORTED.includes(t) && (scope.ctx.internal || scopeAllows(scope.ctx.scopes, t, 'r') || scopeAllows(scope.ctx.scopes, t, 's')));
}

/** The enterprise persons of source Patients (ids). */
async function personsOf(scope: GateScope, patients: string[]): Promise<string[]> {
  if (patients.length === 0) return [];
  const rows = await run<{ person_id: string }>(scope.tx, sql`select distinct person_id from mpi_links where patient_id = any(${patients}::text[])`);
  return rows.map((r) => r.person_id);
}

/** The enterprise persons of a Group's member Patients; the Group must be readable by the caller (404 otherwise). */
export async function groupPersons(scope: GateScope, groupId: string): Promise<string[]> {
  const group = (await scope.read('Group', groupId)) as Group;
  const patients = (group.member ?? [])
    .map((m) => /^Patient\/([^/]+)$/.exec(m.entity?.reference ?? '')?.[1])
    .filter((id): id is string => !!id);
  return personsOf(scope, patients);
}

/** The enterprise persons of the Patients a `patient` parameter names; each must be readable by the caller (404 otherwise). */
export async function patientPersons(scope: GateScope, patients: string[]): Promise<string[]> {
  for (const id of patients) await scope.read('Patient', id);
  return personsOf(scope, patients);
}

/** The `_typeFilter` condition of a selection: rows of a filtered type meet one of its criteria. */
function typeCriteria(scope: GateScope, sel: ExportSelection, filter: (alias: string) => Sql): Sql {
  const filtered = Object.entries(sel.typeFilters ?? {}).filter(([type]) => sel.types.includes(type));
  if (filtered.length === 0) return sql``;
  const each = filtered.map(([type, queries]) => sql`(r.resource_type = ${type} and ${scope.criteria(type, queries, filter)})`);
  return sql`and (r.resource_type <> all(${filtered.map(([type]) => type)}::text[]) or ${join(each, ' or ')})`;
}

/** Parses every `_typeFilter` criteria strictly, as each file will: an unknown parameter or malformed value is a 400 now. */
export function checkTypeFilters(scope: GateScope, typeFilters: Record<string, Array<Array<[string, string]>>>): void {
  const filter = exportFilter(scope.ctx, scope.settings);
  for (const [type, queries] of Object.entries(typeFilters)) scope.criteria(type, queries, filter);
}

/** Whose rows a selection covers (alias `r`). */
function personsCondition(sel: ExportSelection): Sql {
  return sel.persons === undefined ? sql``
    : sel.persons === 'compartment' ? sql`and r.person_id is not null`
      : sql`and r.person_id = any(${sel.persons}::text[])`;
}

/** The rows of a selection the caller may export (alias `r`). */
function selected(scope: GateScope, sel: ExportSelection): Sql {
  const filter = exportFilter(scope.ctx, scope.settings);
  const persons = personsCondition(sel);
  // Existed at the transactionTime: unchanged since (the common case), or an earlier version is in the history.
  const existed = sql`(r.last_updated <= ${sel.until} or exists (select 1 from resource_history h
    where h.resource_type = r.resource_type and h.id = r.id and h.last_updated <= ${sel.until}))`;
  return sql`r.deleted = false and r.resource_type = any(${sel.types}::text[]) ${persons}
    ${sel.since ? sql`and r.last_updated >= ${sel.since}` : sql``} ${typeCriteria(scope, sel, filter)} and ${existed} and ${filter('r')}`;
}

/**
 * How an export splits into files of at most `size` resources: per type, every `size`-th id among the rows the
 * caller may export. Nothing is delivered here; each file is read when it is downloaded.
 */
export async function exportPlan(scope: GateScope, sel: ExportSelection, size: number): Promise<Array<{ type: string; from: string }>> {
  if (sel.types.length === 0 || (Array.isArray(sel.persons) && sel.persons.length === 0)) return [];
  const rows = await run<{ resource_type: string; id: string }>(scope.tx, sql`select resource_type, id from (
      select r.resource_type, r.id, row_number() over (partition by r.resource_type order by r.id) - 1 as n
      from resources r where ${selected(scope, sel)}) x
    where n % ${size} = 0 order by resource_type, id`);
  return rows.map((r) => ({ type: r.resource_type, from: r.id }));
}

/**
 * Up to `limit` resources of one file after `after`, through the gate's outgoing check and audited as an export.
 * `last` is the id to continue after (rows withheld by the outgoing check count: they are not read again).
 */
export async function exportChunk(scope: GateScope, sel: ExportSelection, range: ExportRange, after: string | undefined, limit: number, query: string): Promise<{ resources: Resource[]; last?: string; more: boolean }> {
  authorizeRead(scope.ctx, range.type);
  const rows = await run<ResultRow>(scope.tx, sql`select r.resource_type, r.id, r.content, r.person_id, r.source_org, r.security
    from resources r where ${selected(scope, { ...sel, types: [range.type] })}
      and r.id >= ${range.from} ${range.to === null ? sql`` : sql`and r.id < ${range.to}`} ${after === undefined ? sql`` : sql`and r.id > ${after}`}
    order by r.id limit ${limit}`);
  const resources = rows.length ? await scope.deliver(rows, 'export', { query, wholeOnly: true }) : [];
  return { resources, last: rows.at(-1)?.id, more: rows.length === limit };
}

/** A deletion an incremental export reports: the resource, and the person it belonged to. */
export interface DeletedKey {
  resource_type: string;
  id: string;
  person_id: string | null;
}

/**
 * Resources of the selection deleted since `_since` (up to the transactionTime) that the caller could see when they
 * existed, `limit` at a time after `after` (`Type/id`), audited as an export. A deletion row keeps the deleted
 * version's labels, so a withheld resource's deletion is withheld with it.
 */
export async function exportDeleted(scope: GateScope, sel: ExportSelection, after: string | undefined, limit: number, query: string): Promise<{ keys: DeletedKey[]; more: boolean }> {
  if (!sel.since || sel.types.length === 0 || (Array.isArray(sel.persons) && sel.persons.length === 0)) return { keys: [], more: false };
  const [afterType, afterId] = after ? [after.slice(0, after.indexOf('/')), after.slice(after.indexOf('/') + 1)] : ['', ''];
  const keys = await run<DeletedKey>(scope.tx, sql`select r.resource_type, r.id, r.person_id from resources r
    where r.deleted = true and r.resource_type = any(${sel.types}::text[])
      and r.last_updated >= ${sel.since} and r.last_updated <= ${sel.until} and (r.resource_type, r.id) > (${afterType}, ${afterId})
      and ${exportFilter(scope.ctx, scope.settings)('r')} ${personsCondition(sel)}
    order by r.resource_type, r.id limit ${limit}`);
  if (keys.length) {
    const touched = [...new Set(keys.flatMap((k) => (k.person_id ? [k.person_id] : [])))];
    scope.note('export', touched, keys.map((k) => `${k.resource_type}/${k.id}`), { query });
  }
  return { keys, more: keys.length === limit };
}
