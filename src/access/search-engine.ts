import type { Resource } from '@medplum/fhirtypes';
import type { Queryable } from '../store/database.ts';
import type { Sql } from '../store/sql.ts';
import type { PerPersonFilter } from './privacy-filter.ts';

/** A resource row as the search compiler returns it: content plus the columns the gate re-checks. */
export interface ResultRow {
  resource_type: string;
  id: string;
  content: Resource;
  person_id: string | null;
  source_org: string | null;
  security: string[];
}

/** An `_include`d row; `beyond_depth`: `:iterate` stopped at its deepest level with more it would have included. */
export interface IncludeRow extends ResultRow {
  beyond_depth: boolean;
}

export interface ParsedSearch {
  resourceType: string;
  count: number;
  offset: number;
  total: 'accurate' | 'none' | 'estimate';
  summary?: string;
  elements?: string[];
  hasIncludes: boolean;
}

/** The seam between the gate and the generic search implementation in store/search. */
export interface SearchEngine {
  /** This server's FHIR base: an absolute reference or attachment URL under it names a local resource. */
  readonly fhirBase: string;
  /** `protectedHashes`: see `ParseOptions` (the gate's field protector supplies it). */
  parse(
    resourceType: string, query: Array<[string, string]>, strict: boolean,
    protectedHashes?: (system: string, value: string) => string[] | undefined,
  ): { request: ParsedSearch; warnings: string[] };
  /** The requested page; `columns` adds columns to every row (the gate's facts about the row's person). */
  page(request: ParsedSearch, filter: (alias: string) => Sql, columns?: (alias: string) => Sql): Sql;
  /**
   * The page with a `total_matches` column on every row: the count of all matches, in the same statement.
   * `perPerson`: the same filter split per person, used for the matches when given (`filter` still decides about rows
   * they reach through chains and `_has`); the rows then carry their person's standing columns.
   */
  pageWithTotal(request: ParsedSearch, filter: (alias: string) => Sql, columns?: (alias: string) => Sql, perPerson?: PerPersonFilter): Sql;
  count(request: ParsedSearch, filter: (alias: string) => Sql, perPerson?: PerPersonFilter): Sql;
  /** The request's criteria as one condition on alias `r` (no paging, sort or total); `filter` as for chains above. */
  criteria(request: ParsedSearch, filter: (alias: string) => Sql): Sql;
  /** The page's included rows (`IncludeRow`). */
  includes(request: ParsedSearch, page: ResultRow[], filter: (alias: string) => Sql): Sql | undefined;
  writeIndex(tx: Queryable, resources: Resource[], opts?: { fresh?: boolean }): Promise<void>;
  deleteIndex(tx: Queryable, keys: Array<{ resourceType: string; id: string }>): Promise<void>;
}
