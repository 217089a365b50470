import type { SearchParamDef } from './search-parameters.ts';

export type Prefix = 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le' | 'sa' | 'eb' | 'ap';

/** One OR-alternative of a parameter, already parsed and validated for the parameter's type. */
export type SearchValue =
  | { kind: 'string'; text: string }
  | { kind: 'token'; system?: string; code?: string; text?: string; typeSystem?: string; typeCode?: string }
  | { kind: 'date'; prefix: Prefix; lo: string; hi: string }
  /** number and quantity: `half` is half a unit of the last given digit (eq 5.4 means [5.35, 5.45)). */
  | { kind: 'number'; prefix: Prefix; value: string; half: string; system?: string; code?: string }
  | { kind: 'reference'; type?: string; id?: string; url?: string }
  | { kind: 'uri'; value: string }
  | { kind: 'missing'; missing: boolean };

/** `param[:modifier]=v1,v2` on the searched type: values are OR-ed. */
export interface ParamFilter {
  kind: 'param';
  param: SearchParamDef;
  modifier?: 'exact' | 'contains' | 'missing' | 'not' | 'text' | 'of-type' | 'above' | 'below';
  values: SearchValue[];
  /** Identifier values kept only as keyed hashes (SSNs), OR-ed with `values`: matched in `protected_values`. */
  protectedHashes?: string[];
}

/** `ref[:Type].inner=v` — one level; `inner` is the parsed inner filter per allowed target type. */
export interface ChainFilter {
  kind: 'chain';
  param: SearchParamDef;
  inner: Array<{ targetType: string; filter: ParamFilter }>;
}

/** `_has:Type:refParam:inner=v` — resources referenced by a `Type` whose `refParam` points here and that matches `inner`. */
export interface HasFilter {
  kind: 'has';
  sourceType: string;
  refParam: SearchParamDef;
  filter: ParamFilter;
}

export type Filter = ParamFilter | ChainFilter | HasFilter;

export interface SortKey {
  param: SearchParamDef;
  descending: boolean;
}

/** `_include=Source:param[:Target]` / `_revinclude=…`; `param` undefined for the `*` wildcard. */
export interface IncludeSpec {
  sourceType: string;
  param?: SearchParamDef;
  targetType?: string;
  iterate: boolean;
}

export interface SearchRequest {
  resourceType: string;
  /** AND-ed: every filter must match. */
  filters: Filter[];
  sort: SortKey[];
  count: number;
  offset: number;
  total?: 'accurate' | 'none' | 'estimate';
  summary?: 'count' | 'true' | 'data' | 'text' | 'false';
  elements?: string[];
  include: IncludeSpec[];
  revinclude: IncludeSpec[];
}

export const DEFAULT_COUNT = 20;
export const MAX_COUNT = 1000;
