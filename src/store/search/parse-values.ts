import { isResourceType } from '@medplum/core';
import { badRequest } from '../../fhir/outcome.ts';
import { dateRange } from './date-range.ts';
import { parseReference, relativeTo } from './index-values.ts';
import type { SearchParamDef } from './search-parameters.ts';
import type { ParamFilter, Prefix, SearchValue } from './types.ts';

const PREFIXES = new Set(['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap']);
const NUMBER = /^[+-]?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;
const ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** Shortened for messages: never echo large or arbitrary input back. */
export function shown(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 40 ? `${clean.slice(0, 40)}…` : clean;
}

const bad = (def: SearchParamDef, what: string) => badRequest(`Invalid value for search parameter '${def.code}': ${what}`, [def.code]);

/**
 * A reference parameter searched for a type it cannot refer to, as `Type/id` or `:Type` (when the parameter declares
 * its target types): an error rather than a search that can only match what should not have been stored.
 */
export function notATarget(def: SearchParamDef, type: string) {
  return badRequest(`Search parameter '${def.code}' cannot refer to ${shown(type)}: its target types are ${[...def.targets].sort().join(', ')}`, [def.code]);
}

/** Splits on commas not escaped with `\`; splitOn('|') likewise for token/quantity parts. */
export function splitEscaped(text: string, sep: string, limit = Infinity): string[] {
  const out: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\' && i + 1 < text.length) {
      current += ch + text[++i];
    } else if (ch === sep && out.length < limit - 1) {
      out.push(current);
      current = '';
    } else current += ch;
  }
  out.push(current);
  return out;
}

export const unescape = (text: string) => text.replace(/\\([\\,|$])/g, '$1');

function prefixed(def: SearchParamDef, text: string): { prefix: Prefix; rest: string } {
  const m = /^([a-z]{2})(.*)$/s.exec(text);
  if (!m) return { prefix: 'eq', rest: text };
  if (!PREFIXES.has(m[1])) throw bad(def, `unknown prefix '${shown(m[1])}'`);
  return { prefix: m[1] as Prefix, rest: m[2] };
}

function dateValue(def: SearchParamDef, text: string): SearchValue {
  const { prefix, rest } = prefixed(def, text);
  const range = dateRange(rest);
  if (!range) throw bad(def, `'${shown(text)}' is not a FHIR date`);
  return { kind: 'date', prefix, ...range };
}

/** Half a unit of the last digit given, `places` after the point (less the exponent): `100` → 0.5, `5.40` → 0.005, `1e2` → 50. */
function halfUnit(places: number): string {
  return places >= 0 ? `0.${'0'.repeat(places)}5` : `5${'0'.repeat(-places - 1)}`;
}

function numberValue(def: SearchParamDef, text: string, quantity: boolean): SearchValue {
  const { prefix, rest } = prefixed(def, text);
  const [num, system, code, extra] = splitEscaped(rest, '|').map(unescape);
  const m = NUMBER.exec(num);
  // Exponents are bounded: PostgreSQL's numeric and the half-unit string both grow with them.
  if (!m || extra !== undefined || (!quantity && system !== undefined) || Math.abs(Number(m[3] ?? 0)) > 300) {
    throw bad(def, `'${shown(text)}' is not a ${def.type}`);
  }
  return { kind: 'number', prefix, value: num, half: halfUnit((m[2]?.length ?? 0) - Number(m[3] ?? 0)), ...(system ? { system } : {}), ...(code ? { code } : {}) };
}

function tokenValue(def: SearchParamDef, text: string, modifier: ParamFilter['modifier']): SearchValue {
  if (modifier === 'text') return { kind: 'token', text: unescape(text) };
  if (modifier === 'of-type') {
    const [typeSystem, typeCode, value, extra] = splitEscaped(text, '|').map(unescape);
    if (!typeSystem || !typeCode || !value || extra !== undefined) throw bad(def, ':of-type needs system|code|value');
    return { kind: 'token', typeSystem, typeCode, code: value };
  }
  const parts = splitEscaped(text, '|');
  if (parts.length > 2) throw bad(def, `'${shown(text)}' has more than one '|'`);
  if (parts.length === 1) return { kind: 'token', code: unescape(parts[0]) };
  const [system, code] = parts.map(unescape);
  return { kind: 'token', system, ...(code ? { code } : {}) };
}

/** Local references (`Type/id`, this server's absolute URL, a bare id) and other URLs, read as the index reads them. */
function referenceValue(def: SearchParamDef, text: string, type: string | undefined, baseUrl?: string): SearchValue {
  const ref = relativeTo(unescape(text), baseUrl);
  const rel = /^([A-Z][A-Za-z]+)\/([^/]+)$/.exec(ref);
  if (rel) {
    if (!isResourceType(rel[1]) || !ID.test(rel[2]) || (type && type !== rel[1])) throw bad(def, `'${shown(text)}' is not a valid reference`);
    if (def.targets.length && !def.targets.includes(rel[1])) throw notATarget(def, rel[1]);
    return { kind: 'reference', type: rel[1], id: rel[2] };
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(ref)) return { kind: 'reference', url: parseReference(ref)!.ref };
  if (!ID.test(ref)) throw bad(def, `'${shown(text)}' is not a valid id`);
  return { kind: 'reference', id: ref, ...(type ? { type } : {}) };
}

/** Parses one OR-alternative of a parameter for its type and modifier. */
export function parseValue(
  def: SearchParamDef,
  modifier: ParamFilter['modifier'],
  typeModifier: string | undefined,
  text: string,
  baseUrl?: string,
): SearchValue {
  if (modifier === 'missing') {
    if (text !== 'true' && text !== 'false') throw bad(def, ':missing takes true or false');
    return { kind: 'missing', missing: text === 'true' };
  }
  switch (def.type) {
    case 'string': return { kind: 'string', text: unescape(text) };
    case 'uri': return { kind: 'uri', value: unescape(text) };
    case 'date': return dateValue(def, text);
    case 'number': return numberValue(def, text, false);
    case 'quantity': return numberValue(def, text, true);
    case 'token': return tokenValue(def, text, modifier);
    case 'reference': return referenceValue(def, text, typeModifier, baseUrl);
  }
}
