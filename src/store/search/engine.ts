import type { ParsedSearch, SearchEngine } from '../../access/search-engine.ts';
import { compileCriteria, compileSearch } from './compile.ts';
import { compileIncludes } from './includes.ts';
import { deleteIndex, writeIndex } from './index-writer.ts';
import { parseSearch } from './parse.ts';
import type { SearchRequest } from './types.ts';

type Parsed = ParsedSearch & { request: SearchRequest };

/** The generic search implementation behind the gate's `SearchEngine` seam. */
export function createSearchEngine(): SearchEngine {
  const inner = (p: ParsedSearch) => (p as Parsed).request;
  return {
    parse(resourceType, query, strict, protectedHashes) {
      const { request, warnings } = parseSearch(resourceType, query, { strict, protectedHashes });
      const parsed: Parsed = {
        resourceType,
        count: request.count,
        offset: request.offset,
        total: request.total ?? 'accurate',
        summary: request.summary,
        elements: request.elements,
        hasIncludes: request.include.length + request.revinclude.length > 0,
        request,
      };
      return { request: parsed, warnings };
    },
    page: (p, filter, columns) => compileSearch(inner(p), { filter, columns }).page,
    pageWithTotal: (p, filter, columns, perPerson) => compileSearch(inner(p), { filter, columns, perPerson }).pageWithTotal,
    count: (p, filter, perPerson) => compileSearch(inner(p), { filter, perPerson }).count,
    criteria: (p, filter) => compileCriteria(inner(p), filter),
    includes: (p, page, filter) =>
      compileIncludes(inner(p), page.map((r) => ({ resourceType: r.resource_type, id: r.id })), { filter }),
    writeIndex: (tx, resources, opts) => writeIndex(tx, resources, opts),
    deleteIndex: (tx, keys) => deleteIndex(tx, keys),
  };
}
