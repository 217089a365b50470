import type { Sql } from '../sql.ts';
import { join, plannedPerValues, raw, sql } from '../sql.ts';
import type { RowFilter } from './compile.ts';
import type { IncludeSpec, SearchRequest } from './types.ts';

export interface PageRow {
  resourceType: string;
  id: string;
}

/** Keys (resource_type, id) that `spec` reaches from the rows of CTE `from`. */
function includeKeys(spec: IncludeSpec, from: string, reverse: boolean): Sql {
  const f = raw(from);
  const param = spec.param ? sql` and t.param = ${spec.param.code}` : sql``;
  const source = spec.sourceType === '*' ? sql`` : sql` and t.resource_type = ${spec.sourceType}`;
  const target = spec.targetType ? sql` and t.target_type = ${spec.targetType}` : sql``;
  if (reverse) {
    return sql`select t.resource_type, t.id from search_reference t join ${f} s on t.target_type = s.resource_type and t.target_id = s.id where true${source}${param}${target}`;
  }
  return sql`select t.target_type, t.target_id from search_reference t join ${f} s on t.resource_type = s.resource_type and t.id = s.id where t.target_id is not null${source}${param}${target}`;
}

function level(specs: Array<{ spec: IncludeSpec; reverse: boolean }>, from: string): Sql | undefined {
  if (specs.length === 0) return undefined;
  return join(specs.map(({ spec, reverse }) => includeKeys(spec, from, reverse)), ' union ');
}

/** Live, visible resources for a key set (privacy filter applied before anything can iterate from them). */
function rows(keys: Sql, filter: RowFilter): Sql {
  return sql`select r.resource_type, r.id, r.content, r.last_updated, r.version_id, r.person_id, r.source_org, r.security from resources r join (${keys}) k (resource_type, id) on r.resource_type = k.resource_type and r.id = k.id where r.deleted = false and (${filter('r')})`;
}

/**
 * The `_include`d and `_revinclude`d resources of a page (plus one level of `:iterate` applied to those), deduplicated,
 * without the page's own rows, each marked `search_mode = 'include'`. Undefined when nothing is to be included.
 */
export function compileIncludes(req: SearchRequest, page: PageRow[], opts: { filter: RowFilter }): Sql | undefined {
  const all = [
    ...req.include.map((spec) => ({ spec, reverse: false })),
    ...req.revinclude.map((spec) => ({ spec, reverse: true })),
  ];
  const first = level(all, 'page');
  if (!first || page.length === 0) return undefined;
  const iterate = level(all.filter((s) => s.spec.iterate), 'lvl1');
  const types = page.map((p) => p.resourceType);
  const ids = page.map((p) => p.id);
  const second = iterate ? sql`, lvl2 as (${rows(iterate, opts.filter)})` : sql``;
  const union = iterate ? sql`select * from lvl1 union all select * from lvl2` : sql`select * from lvl1`;
  return plannedPerValues(sql`with page (resource_type, id) as (select * from unnest(${types}::text[], ${ids}::text[])), lvl1 as (${rows(first, opts.filter)})${second}
select distinct on (x.resource_type, x.id) x.resource_type, x.id, x.content, x.last_updated, x.version_id, x.person_id, x.source_org, x.security, 'include' as search_mode from (${union}) x
where not exists (select 1 from page p where p.resource_type = x.resource_type and p.id = x.id)`);
}
