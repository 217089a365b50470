import type { ParsedSearch, SearchEngine } from '../../access/search-engine.ts';
import { compileCriteria, compileSearch } from './compile.ts';
import { compileIncludes } from './includes.ts';
import { deleteIndex, writeIndex } from './index-writer.ts';
import { parseSearch } from './parse.ts';
import type { SearchRequest } from './types.ts';

type Parsed = ParsedSearch & { request: SearchRequest };

export interface SearchEngineOptions {
  /** This server's FHIR base: absolute references under it are local, in the index and in searches. */
  fhirBase: string;
  /** Most `_include`d and `_revinclude`d resources per page. */
  maxIncludes: number;
}

/** The generic search implementation behind the gate's `SearchEngine` seam. */
export function createSearchEngine(opts: SearchEngineOptions): SearchEngine {
  const inner = (p: ParsedSearch) => (p as Parsed).request;
  return {
    fhirBase: opts.fhirBase,
    parse(resourceType, query, strict, protectedHashes) {
      const { request, warnings } = parseSearch(resourceType, query, { strict, protectedHashes, baseUrl: opts.fhirBase });
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
      compileIncludes(inner(p), page.map((r) => ({ resourceType: r.resource_type, id: r.id })), { filter, limit: opts.maxIncludes }),
    writeIndex: (tx, resources, write) => writeIndex(tx, resources, { ...write, base: opts.fhirBase }),
    deleteIndex: (tx, keys) => deleteIndex(tx, keys),
  };
}
