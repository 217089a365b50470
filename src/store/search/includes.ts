import type { Sql } from '../sql.ts';
import { join, plannedPerValues, raw, sql } from '../sql.ts';
import type { RowFilter } from './compile.ts';
import type { IncludeSpec, SearchRequest } from './types.ts';

export interface PageRow {
  resourceType: string;
  id: string;
}

/** Keys (resource_type, id) that `spec` reaches from the rows of CTE `from`, each once (`*` may reach one by several parameters). */
function includeKeys(spec: IncludeSpec, from: string, reverse: boolean): Sql {
  const f = raw(from);
  const param = spec.param ? sql` and t.param = ${spec.param.code}` : sql``;
  const source = spec.sourceType === '*' ? sql`` : sql` and t.resource_type = ${spec.sourceType}`;
  const target = spec.targetType ? sql` and t.target_type = ${spec.targetType}` : sql``;
  if (reverse) {
    return sql`select distinct t.resource_type, t.id from search_reference t join ${f} s on t.target_type = s.resource_type and t.target_id = s.id where true${source}${param}${target}`;
  }
  return sql`select distinct t.target_type, t.target_id from search_reference t join ${f} s on t.resource_type = s.resource_type and t.id = s.id where t.target_id is not null${source}${param}${target}`;
}

function level(specs: Array<{ spec: IncludeSpec; reverse: boolean }>, from: string): Sql | undefined {
  if (specs.length === 0) return undefined;
  return join(specs.map(({ spec, reverse }) => includeKeys(spec, from, reverse)), ' union ');
}

/**
 * Up to `limit` live, visible resources for a key set that are not already among `seen` (privacy filter applied
 * before anything can iterate from them). Limited level by level, so a wide `_revinclude=*` stops reading early.
 */
function rows(keys: Sql, filter: RowFilter, depth: number, seen: string[], limit: number): Sql {
  const unseen = seen.map((s) => sql` and not exists (select 1 from ${raw(s)} seen where seen.resource_type = r.resource_type and seen.id = r.id)`);
  return sql`select r.resource_type, r.id, r.content, r.last_updated, r.version_id, r.person_id, r.source_org, r.security, ${depth}::int as lvl from resources r join (${keys}) k (resource_type, id) on r.resource_type = k.resource_type and r.id = k.id where r.deleted = false and (${filter('r')})${join(unseen, '')} limit ${limit}`;
}

/** Levels of included resources at most: the first (from the page) and up to three more of `:iterate`. */
export const MAX_INCLUDE_DEPTH = 4;

/**
 * The `_include`d and `_revinclude`d resources of a page, without the page's own rows, each once and marked
 * `search_mode = 'include'`; at most `limit`, nearer levels first. `:iterate` specs are applied again to what the
 * previous level added until a level adds nothing, at most `MAX_INCLUDE_DEPTH` levels: each level leaves out the page
 * and every level before it, so a cycle of references ends. Every row's `beyond_depth` says whether a further level
 * would have added a resource the caller may see (so the answer can say it is incomplete). Undefined when nothing is
 * to be included.
 */
export function compileIncludes(req: SearchRequest, page: PageRow[], opts: { filter: RowFilter; limit: number }): Sql | undefined {
  const all = [
    ...req.include.map((spec) => ({ spec, reverse: false })),
    ...req.revinclude.map((spec) => ({ spec, reverse: true })),
  ];
  const first = level(all, 'page');
  if (!first || page.length === 0) return undefined;
  const iterated = all.filter((s) => s.spec.iterate);
  const types = page.map((p) => p.resourceType);
  const ids = page.map((p) => p.id);
  const levels = [sql`lvl1 as (${rows(first, opts.filter, 1, ['page'], opts.limit)})`];
  const seen = ['page', 'lvl1'];
  for (let depth = 2; iterated.length && depth <= MAX_INCLUDE_DEPTH; depth++) {
    levels.push(sql`${raw(`lvl${depth}`)} as (${rows(level(iterated, `lvl${depth - 1}`)!, opts.filter, depth, seen, opts.limit)})`);
    seen.push(`lvl${depth}`);
  }
  const union = join(seen.slice(1).map((l) => sql`select * from ${raw(l)}`), ' union all ');
  // One row of the level after the last is enough to know the depth left something out; it is never returned.
  const beyond = iterated.length
    ? sql`exists (${rows(level(iterated, `lvl${MAX_INCLUDE_DEPTH}`)!, opts.filter, MAX_INCLUDE_DEPTH + 1, seen, 1)})`
    : sql`false`;
  return plannedPerValues(sql`with page (resource_type, id) as (select * from unnest(${types}::text[], ${ids}::text[])), ${join(levels, ', ')}
select x.resource_type, x.id, x.content, x.last_updated, x.version_id, x.person_id, x.source_org, x.security, 'include' as search_mode, ${beyond} as beyond_depth from (${union}) x
order by x.lvl, x.resource_type, x.id limit ${opts.limit}`);
}
