import type { Sql } from '../sql.ts';
import { join, plannedPerValues, raw, sql } from '../sql.ts';
import { dateCondition, or, valueCondition } from './conditions.ts';
import type { SearchParamDef, SearchParamType } from './search-parameters.ts';
import type { ChainFilter, Filter, HasFilter, ParamFilter, SearchRequest, SortKey } from './types.ts';

/** A boolean SQL condition on a `resources` alias, supplied by the access gate (privacy filter). */
export type RowFilter = (alias: string) => Sql;

/**
 * The same filter split per person (the access gate's `PerPersonFilter`): `columns` works out facts about one person
 * (an SQL expression), `condition` decides a row at one alias from its person's facts at another.
 */
export interface PerPersonRowFilter {
  columns(person: Sql): Sql;
  /** The columns `columns` gives, as alias `f` holds them; the page rows carry them out (no second look-up). */
  carried(f: string): Sql;
  condition(alias: string, facts: string): Sql;
}

export interface CompileOptions {
  filter: RowFilter;
  /** When given, a page with its total and a count look facts up once per person among the matches (see `compileSearch`). */
  perPerson?: PerPersonRowFilter;
  /** More columns the caller wants on every page row (over alias `r`), e.g. the access gate's facts about its person. */
  columns?: (alias: string) => Sql;
}

/** Aliases are generated here (r, r1, i1, …), never taken from input. */
interface Ctx {
  filter: RowFilter;
  n: number;
}

export const INDEX_TABLE: Record<SearchParamType, string> = {
  string: 'search_string',
  token: 'search_token',
  date: 'search_date',
  reference: 'search_reference',
  quantity: 'search_quantity',
  number: 'search_number',
  uri: 'search_uri',
};

const alias = (ctx: Ctx, prefix: string) => `${prefix}${++ctx.n}`;

/** Rows of `def`'s index table belonging to the resource at alias `r`: `from <table> i where …`. */
function indexRows(ctx: Ctx, type: string, r: string, def: SearchParamDef): { i: string; from: Sql } {
  const i = alias(ctx, 'i');
  const from = sql`from ${raw(INDEX_TABLE[def.type])} ${raw(i)} where ${raw(i)}.resource_type = ${type} and ${raw(i)}.id = ${raw(r)}.id and ${raw(i)}.param = ${def.code}`;
  return { i, from };
}

/** The `:missing` values asked for, OR-ed: `true,false` asks for both. */
const missingWanted = (f: ParamFilter) => new Set(f.values.map((v) => v.kind === 'missing' && v.missing));

function columnCondition(r: string, f: ParamFilter): Sql {
  // The row always has its id and last_updated.
  if (f.modifier === 'missing') return missingWanted(f).has(false) ? sql`true` : sql`false`;
  if (f.param.column === 'id') {
    const ids = f.values.flatMap((v) => (v.kind === 'token' && v.code !== undefined ? [v.code] : []));
    const cond = sql`${raw(r)}.id = any(${ids}::text[])`;
    return f.modifier === 'not' ? sql`not ${cond}` : cond;
  }
  const at = raw(`${r}.last_updated`);
  return or(f.values.map((v) => (v.kind === 'date' ? dateCondition(at, sql`${at} + interval '1 millisecond'`, v) : sql`false`)));
}

/** The condition a parameter filter puts on the resource at alias `r` of type `type`. */
export function paramCondition(ctx: Ctx, type: string, r: string, f: ParamFilter): Sql {
  if (f.param.column) return columnCondition(r, f);
  const { i, from } = indexRows(ctx, type, r, f.param);
  if (f.modifier === 'missing') {
    const wanted = missingWanted(f);
    if (wanted.size === 2) return sql`true`;
    return wanted.has(true) ? sql`not exists (select 1 ${from})` : sql`exists (select 1 ${from})`;
  }
  const indexed = sql`exists (select 1 ${from} and ${or(f.values.map((v) => valueCondition(i, v, f)))})`;
  const match = f.protectedHashes?.length ? or([...(f.values.length ? [indexed] : []), protectedMatch(type, r, f.protectedHashes)]) : indexed;
  return f.modifier === 'not' ? sql`not ${match}` : match;
}

/** The resource has a protected value (an SSN) with one of these keyed hashes. */
function protectedMatch(type: string, r: string, hashes: string[]): Sql {
  return sql`exists (select 1 from protected_values pv where pv.kind = 'ssn' and pv.hmac = any(${hashes}::text[]) and pv.resource_type = ${type} and pv.id = ${raw(r)}.id)`;
}

/** A `resources` row other than the main one: live and visible to the caller (the privacy filter applies here too). */
function visible(ctx: Ctx, r: string): Sql {
  return sql`${raw(r)}.deleted = false and (${ctx.filter(r)})`;
}

function chainCondition(ctx: Ctx, type: string, r: string, f: ChainFilter): Sql {
  const { i, from } = indexRows(ctx, type, r, f.param);
  const targets = f.inner.map(({ targetType, filter }) => {
    const t = alias(ctx, 'r');
    return sql`(${raw(i)}.target_type = ${targetType} and exists (select 1 from resources ${raw(t)} where ${raw(t)}.resource_type = ${targetType} and ${raw(t)}.id = ${raw(i)}.target_id and ${visible(ctx, t)} and ${paramCondition(ctx, targetType, t, filter)}))`;
  });
  return sql`exists (select 1 ${from} and ${or(targets)})`;
}

function hasCondition(ctx: Ctx, type: string, r: string, f: HasFilter): Sql {
  const i = alias(ctx, 'i');
  const s = alias(ctx, 'r');
  return sql`exists (select 1 from search_reference ${raw(i)} join resources ${raw(s)} on ${raw(s)}.resource_type = ${raw(i)}.resource_type and ${raw(s)}.id = ${raw(i)}.id where ${raw(i)}.resource_type = ${f.sourceType} and ${raw(i)}.param = ${f.refParam.code} and ${raw(i)}.target_type = ${type} and ${raw(i)}.target_id = ${raw(r)}.id and ${visible(ctx, s)} and ${paramCondition(ctx, f.sourceType, s, f.filter)})`;
}

function filterCondition(ctx: Ctx, type: string, r: string, f: Filter): Sql {
  if (f.kind === 'chain') return chainCondition(ctx, type, r, f);
  if (f.kind === 'has') return hasCondition(ctx, type, r, f);
  return paramCondition(ctx, type, r, f);
}

const SORT_COLUMN: Record<SearchParamType, string> = {
  string: 'value', token: 'value', date: 'lo', reference: 'ref', quantity: 'value', number: 'value', uri: 'value',
};

function sortKey(ctx: Ctx, type: string, key: SortKey): Sql {
  const dir = raw(key.descending ? 'desc nulls last' : 'asc nulls last');
  if (key.param.column) return sql`r.${raw(key.param.column)} ${dir}`;
  const { i, from } = indexRows(ctx, type, 'r', key.param);
  const agg = raw(`${key.descending ? 'max' : 'min'}(${i}.${SORT_COLUMN[key.param.type]})`);
  return sql`(select ${agg} ${from}) ${dir}`;
}

/** The sort keys in order, ended by the id: unique within the type, it makes every order total and paging stable. */
function orderBy(ctx: Ctx, req: SearchRequest): Sql {
  const keys: Sql[] = [];
  for (const key of req.sort) {
    keys.push(sortKey(ctx, req.resourceType, key));
    if (key.param.column === 'id') return join(keys, ', ');
  }
  return join([...keys, sql`r.id asc`], ', ');
}

/**
 * Whether a search is anchored on a key: an identifier or id without modifier, other plain parameters at most, no
 * sort. A key matches a handful of rows whatever its value, so the best plan is the same for every value and the
 * statement may run from a prepared one: the conditional creates and updates of every bundle and HL7 message are
 * such lookups, and planning them was half of their time (3.5 → 1.8 ms a statement in the HL7 bench). Every other
 * search is planned for its values.
 */
function anchoredOnKey(req: SearchRequest): boolean {
  const key = (f: Filter) => f.kind === 'param' && !f.modifier && (f.param.code === 'identifier' || f.param.column === 'id');
  return req.sort.length === 0 && req.filters.some(key) && req.filters.every((f) => f.kind === 'param');
}

/**
 * `page` (the requested slice, in a stable order), `pageWithTotal` (the same slice, each row also carrying the
 * number of all matches, so one statement serves a page and its total) and `count` (total matches alone).
 */
export function compileSearch(req: SearchRequest, opts: CompileOptions): { page: Sql; pageWithTotal: Sql; count: Sql } {
  const ctx: Ctx = { filter: opts.filter, n: 0 };
  const pp = opts.perPerson;
  const rowFilter = sql`(${opts.filter('r')})`;
  const conditions = req.filters.map((f) => filterCondition(ctx, req.resourceType, 'r', f));
  const live = [sql`r.resource_type = ${req.resourceType}`, sql`r.deleted = false`];
  const filtered = join([...live, rowFilter, ...conditions], ' and ');
  const matching = join([...live, ...conditions], ' and ');
  const carried = (alias: string) => (pp ? sql`, ${pp.carried(alias)}` : sql``);
  const tail = (slice?: Sql) => (slice ? sql` ${slice}` : sql``);
  // Visible matches as `r`, the row filter on each: lets PostgreSQL stop early when it can (a page without total).
  const perRow = (what: Sql, slice?: Sql) => sql`select ${what} from resources r where ${filtered}${tail(slice)}`;
  // Visible matches as `r`, found first (every one is needed for a total anyway), then filtered. With a per-person
  // filter the caller's standing is looked up once per person among them and joined: a search of 5,600 rows of 41
  // persons for a clinician of an organization with 300,000 patients in its care took 117 ms with the standing looked
  // up per row (PostgreSQL hashed every care relationship of the organization) and 39 ms without any filter; now 28 ms.
  // Without one, the keys first keep PostgreSQL from walking every row of the type in id order to skip the sort.
  const keysFirst = (what: Sql, slice?: Sql, carry = false) => {
    if (!pp) {
      return sql`with matched as materialized (select r.resource_type, r.id, r.last_updated from resources r where ${filtered})
      select ${what} from matched r${tail(slice)}`;
    }
    return sql`with matched as materialized (select r.resource_type, r.id, r.last_updated, r.person_id, r.security, r.source_org from resources r where ${matching}),
      facts as materialized (select p.person_id, ${pp.columns(sql`p.person_id`)} from (select distinct person_id from matched where person_id is not null) p)
      select ${what}${carry ? carried('f') : sql``} from matched r left join facts f on f.person_id = r.person_id where ${pp.condition('r', 'f')}${tail(slice)}`;
  };
  const extra = opts.columns ? sql`, ${opts.columns('r')}` : sql``;
  const columns = sql`r.resource_type, r.id, r.content, r.last_updated, r.version_id, r.person_id, r.source_org, r.security${extra}`;
  const slice = sql`order by ${orderBy(ctx, req)} limit ${req.count} offset ${req.offset}`;
  // The slice is chosen from keys alone; content and the caller's extra columns are read for the page's rows only
  // (with a total, every match passes the window function: 250 matches fetched 250 contents and facts for 20 rows).
  // The outer query sorts the page again by the same total order, and numbers its rows (`ord`) so that a statement
  // built around the page can keep its order.
  const planned = anchoredOnKey(req) ? (statement: Sql) => statement : plannedPerValues;
  const rows = (keys: Sql, more: Sql) => sql`select ${columns}${more}, row_number() over (order by ${orderBy(ctx, req)}) as ord from (${keys}) m join resources r on r.resource_type = m.resource_type and r.id = m.id order by ord`;
  return {
    page: planned(rows(perRow(sql`r.resource_type, r.id`, slice), sql``)),
    pageWithTotal: planned(rows(keysFirst(sql`r.resource_type, r.id, count(*) over ()::int as total_matches`, slice, true), sql`, m.total_matches${carried('m')}`)),
    count: planned(pp ? keysFirst(sql`count(*)::int as total`) : perRow(sql`count(*)::int as total`)),
  };
}

/**
 * The search's criteria alone, as one condition on the resource at alias `r` (no paging, sort or total): for callers
 * that select rows their own way, such as a bulk export's `_typeFilter`. `filter` decides about rows reached through
 * chains and `_has`.
 */
export function compileCriteria(req: SearchRequest, filter: RowFilter): Sql {
  const ctx: Ctx = { filter, n: 0 };
  const conditions = req.filters.map((f) => filterCondition(ctx, req.resourceType, 'r', f));
  return conditions.length ? sql`(${join(conditions, ' and ')})` : sql`true`;
}

export { compileIncludes } from './includes.ts';
