import { badRequest } from '../../fhir/outcome.ts';
import { isStorableType } from '../../fhir/definitions.ts';
import type { ParseContext } from './parse-context.ts';
import { unsupported } from './parse-context.ts';
import { shown } from './parse-values.ts';
import { getSearchParam } from './search-parameters.ts';
import type { IncludeSpec, SearchRequest } from './types.ts';
import { MAX_COUNT } from './types.ts';

const UNSUPPORTED = new Set(['_text', '_content', '_list', '_query', '_filter', '_type', '_contained', '_containedType']);
const ELEMENT = /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$/;

function integer(name: string, value: string, max: number): number {
  if (!/^\d{1,9}$/.test(value)) throw badRequest(`${name} must be a non-negative integer`, [name]);
  return Math.min(Number(value), max);
}

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw badRequest(`${name} must be one of ${allowed.join(', ')}`, [name]);
  return value as T;
}

function parseSort(ctx: ParseContext, request: SearchRequest, value: string): void {
  for (const item of value.split(',').filter(Boolean)) {
    const descending = item.startsWith('-');
    const def = getSearchParam(ctx.resourceType, descending ? item.slice(1) : item);
    if (def) request.sort.push({ param: def, descending });
    else unsupported(ctx, `Unknown sort parameter '${shown(item)}'`);
  }
}

function parseInclude(ctx: ParseContext, value: string, iterate: boolean, reverse: boolean): IncludeSpec | undefined {
  // `*` follows every reference parameter: of the searched type, or, iterated, of whatever was included.
  if (value === '*') return { sourceType: reverse || iterate ? '*' : ctx.resourceType, iterate };
  const [sourceType, code, targetType, ...more] = value.split(':');
  const param = sourceType && code && isStorableType(sourceType) ? getSearchParam(sourceType, code) : undefined;
  const targetOk = !targetType || (param?.targets.includes(targetType) ?? false);
  if (!param || param.type !== 'reference' || !targetOk || more.length) {
    unsupported(ctx, `Invalid ${reverse ? '_revinclude' : '_include'} '${shown(value)}'`);
    return undefined;
  }
  return { sourceType, param, ...(targetType ? { targetType } : {}), iterate };
}

function includes(ctx: ParseContext, request: SearchRequest, key: string, value: string): boolean {
  const m = /^_(rev)?include(?::(iterate|recurse))?$/.exec(key);
  if (!m) return false;
  for (const item of value.split(',').filter(Boolean)) {
    const spec = parseInclude(ctx, item, !!m[2], !!m[1]);
    if (spec) (m[1] ? request.revinclude : request.include).push(spec);
  }
  return true;
}

/** The element names of `_elements` (search, read and vread alike). */
export function parseElements(value: string): string[] {
  const elements = value.split(',').map((e) => e.trim()).filter(Boolean);
  if (elements.some((e) => !ELEMENT.test(e))) throw badRequest('_elements must list element names', ['_elements']);
  return elements;
}

/** Result-shaping parameters (`_count`, `_sort`, `_include`, …); false when `key` is not one of them. */
export function parseControl(ctx: ParseContext, request: SearchRequest, key: string, value: string): boolean {
  switch (key) {
    case '_count': request.count = integer(key, value, MAX_COUNT); return true;
    case '_offset': request.offset = integer(key, value, 100_000_000); return true;
    case '_total': request.total = oneOf(key, value, ['accurate', 'none', 'estimate'] as const); return true;
    case '_summary': request.summary = oneOf(key, value, ['count', 'true', 'data', 'text', 'false'] as const); return true;
    case '_sort': parseSort(ctx, request, value); return true;
    case '_elements': request.elements = parseElements(value); return true;
  }
  if (UNSUPPORTED.has(key.split(':')[0])) {
    unsupported(ctx, `Search parameter '${key.split(':')[0]}' is not supported`);
    return true;
  }
  return includes(ctx, request, key, value);
}
