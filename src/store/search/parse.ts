import { isResourceType } from '@medplum/core';
import { badRequest } from '../../fhir/outcome.ts';
import { isStorableType } from '../../fhir/definitions.ts';
import { notATarget, parseValue, shown, splitEscaped } from './parse-values.ts';
import { parseControl } from './parse-control.ts';
import type { ParseContext, ParseOptions } from './parse-context.ts';
import { unsupported } from './parse-context.ts';
import type { SearchParamDef } from './search-parameters.ts';
import { getSearchParam } from './search-parameters.ts';
export type { ParseOptions } from './parse-context.ts';
import type { ChainFilter, Filter, HasFilter, ParamFilter, SearchRequest } from './types.ts';
import { DEFAULT_COUNT } from './types.ts';

const MAX_VALUE_LENGTH = 4096;
const IGNORED = new Set(['_format', '_pretty']);
const MODIFIERS: Record<string, string[]> = {
  string: ['exact', 'contains', 'missing'],
  token: ['not', 'text', 'of-type', 'missing'],
  reference: ['missing'],
  date: ['missing'],
  number: ['missing'],
  quantity: ['missing'],
  uri: ['above', 'below', 'missing'],
};

/** `code[:modifier]` → a validated ParamFilter for `type` (undefined when the code is unknown). */
export function paramFilter(ctx: ParseContext, type: string, key: string, value: string): ParamFilter | undefined {
  const [code, modifier, ...more] = key.split(':');
  const def = getSearchParam(type, code);
  if (!def) return undefined;
  if (more.length) throw badRequest(`Invalid modifier on search parameter '${def.code}'`, [def.code]);
  let mod: ParamFilter['modifier'];
  let typeModifier: string | undefined;
  if (modifier !== undefined) {
    if (def.type === 'reference' && modifier !== 'missing') {
      if (def.targets.length && isResourceType(modifier) && !def.targets.includes(modifier)) throw notATarget(def, modifier);
      if (!def.targets.includes(modifier)) throw badRequest(`Unsupported modifier ':${shown(modifier)}' on '${def.code}'`, [def.code]);
      typeModifier = modifier;
    } else if (MODIFIERS[def.type].includes(modifier) && !(def.column && modifier !== 'missing' && modifier !== 'not')) {
      mod = modifier as ParamFilter['modifier'];
    } else throw badRequest(`Unsupported modifier ':${shown(modifier)}' on '${def.code}'`, [def.code]);
  }
  const texts = splitEscaped(value, ',').filter((t) => t !== '');
  if (texts.length === 0) return undefined;
  return { kind: 'param', param: def, ...(mod ? { modifier: mod } : {}), values: texts.map((t) => parseValue(def, mod, typeModifier, t, ctx.baseUrl)) };
}

function chainFilter(ctx: ParseContext, key: string, value: string): ChainFilter | undefined {
  const dot = key.indexOf('.');
  const [code, typeModifier, ...more] = key.slice(0, dot).split(':');
  const innerKey = key.slice(dot + 1);
  const def = getSearchParam(ctx.resourceType, code);
  if (!def || def.type !== 'reference' || more.length || innerKey.includes('.')) return undefined;
  if (typeModifier && def.targets.length && isResourceType(typeModifier) && !def.targets.includes(typeModifier)) throw notATarget(def, typeModifier);
  if (typeModifier && !def.targets.includes(typeModifier)) return undefined;
  const targets = typeModifier ? [typeModifier] : def.targets;
  const inner: ChainFilter['inner'] = [];
  for (const targetType of targets) {
    const filter = getSearchParam(targetType, innerKey.split(':')[0]) && paramFilter(ctx, targetType, innerKey, value);
    if (filter) inner.push({ targetType, filter });
  }
  return inner.length ? { kind: 'chain', param: def, inner } : undefined;
}

function hasFilter(ctx: ParseContext, key: string, value: string): HasFilter | undefined {
  const [, sourceType, refCode, ...rest] = key.split(':');
  if (!sourceType || !refCode || rest.length === 0 || rest[0] === '_has' || !isStorableType(sourceType)) return undefined;
  const refParam = getSearchParam(sourceType, refCode);
  if (!refParam || refParam.type !== 'reference') return undefined;
  if (refParam.targets.length && !refParam.targets.includes(ctx.resourceType)) return undefined;
  const filter = paramFilter(ctx, sourceType, rest.join(':'), value);
  return filter && { kind: 'has', sourceType, refParam, filter };
}

function searchFilter(ctx: ParseContext, key: string, value: string): Filter | undefined {
  if (key.startsWith('_has:')) return hasFilter(ctx, key, value);
  if (key.includes('.')) return chainFilter(ctx, key, value);
  return paramFilter(ctx, ctx.resourceType, key, value);
}

/** Parses a FHIR search query (pairs in URL order; repeated keys AND, commas OR) into a validated SearchRequest. */
export function parseSearch(
  resourceType: string,
  query: Array<[string, string]>,
  opts: ParseOptions,
): { request: SearchRequest; warnings: string[] } {
  if (!isStorableType(resourceType)) throw badRequest(`Unknown resource type '${shown(resourceType)}'`);
  const ctx: ParseContext = { ...opts, resourceType, warnings: [] };
  const request: SearchRequest = { resourceType, filters: [], sort: [], count: DEFAULT_COUNT, offset: 0, include: [], revinclude: [] };
  for (const [key, value] of query) {
    if (IGNORED.has(key)) continue;
    if (value.length > MAX_VALUE_LENGTH) throw badRequest(`Value of search parameter '${shown(key)}' is too long`);
    if (parseControl(ctx, request, key, value)) continue;
    const filter = searchFilter(ctx, key, value);
    if (filter) request.filters.push(withProtectedValues(filter, opts));
    else if (!isEmptyKnown(resourceType, key)) unsupported(ctx, `Unknown or unsupported search parameter '${shown(key)}'`);
  }
  return { request, warnings: ctx.warnings };
}

/**
 * Identifier values the store keeps only as keyed hashes (SSNs) move from the filter's values to its hashes, so they
 * are matched where they are kept; everywhere (chains and `_has` included), for plain and `:not` searches.
 */
function withProtectedValues<F extends Filter>(filter: F, opts: ParseOptions): F {
  const hash = opts.protectedHashes;
  if (!hash) return filter;
  if (filter.kind === 'chain') return { ...filter, inner: filter.inner.map((i) => ({ ...i, filter: withProtectedValues(i.filter, opts) })) };
  if (filter.kind === 'has') return { ...filter, filter: withProtectedValues(filter.filter, opts) };
  const f = filter as ParamFilter;
  if (f.param.code !== 'identifier' || (f.modifier && f.modifier !== 'not')) return filter;
  const hashes: string[] = [];
  const values = f.values.filter((v) => {
    const h = v.kind === 'token' && v.system && v.code ? hash(v.system, v.code) : undefined;
    if (h) hashes.push(...h);
    return !h;
  });
  return hashes.length ? { ...filter, values, protectedHashes: hashes } : filter;
}

/** `name=` with an empty value is a known parameter with nothing to match: ignored, as the spec says. */
function isEmptyKnown(type: string, key: string): boolean {
  const def: SearchParamDef | undefined = getSearchParam(type, key.split(':')[0]);
  return !!def && !key.includes('.');
}
