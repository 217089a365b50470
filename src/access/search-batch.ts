import type { Resource } from '@medplum/fhirtypes';
import type { Queryable } from '../store/database.ts';
import { run } from '../store/database.ts';
import type { Sql } from '../store/sql.ts';
import { join, raw, sql } from '../store/sql.ts';
import type { AuditAction } from './audit-sink.ts';
import type { AccessContext } from './context.ts';
import { authorizeRead } from './authorize.ts';
import type { ResultRow, SearchEngine } from './search-engine.ts';

/** What a batch of searches needs from the gate scope it runs in. */
export interface SearchBatchScope {
  tx: Queryable;
  ctx: AccessContext;
  filter: (alias: string) => Sql;
  protectedHashes: (system: string, value: string) => string[] | undefined;
  deliver(rows: ResultRow[], action: AuditAction, opts: { query?: string }): Promise<Resource[]>;
}

/**
 * Several small searches (conditional creates and updates of one bundle) in one statement: each page, privacy
 * filter included, becomes one branch of a `union all` tagged with its position. What leaves goes through the
 * same outgoing check as any search, in one `deliver` (one audit record naming every query).
 */
export async function searchBatch(
  scope: SearchBatchScope,
  engine: SearchEngine,
  queries: Array<{ type: string; query: Array<[string, string]> }>,
): Promise<Resource[][]> {
  if (queries.length === 0) return [];
  const pages = queries.map(({ type, query }, i) => {
    authorizeRead(scope.ctx, type, 's');
    const { request } = engine.parse(type, query, false, scope.protectedHashes);
    if (request.hasIncludes || request.summary === 'count') throw new Error('searchBatch: plain searches only');
    return sql`select ${raw(String(i))} as q, p.* from (${engine.page(request, scope.filter)}) as p`;
  });
  const rows = await run<ResultRow & { q: number }>(scope.tx, join(pages, ' union all '));
  const text = queries.map(({ type, query }) => `${type}?${new URLSearchParams(query).toString()}`).join(' ; ').slice(0, 2000);
  const delivered = await scope.deliver(rows.map(({ q: _q, ...row }) => row), 'search', { query: text });
  const byKey = new Map(delivered.map((r) => [`${r.resourceType}/${r.id}`, r]));
  return queries.map((_, i) => rows.filter((r) => r.q === i).flatMap((r) => byKey.get(`${r.resource_type}/${r.id}`) ?? []));
}
