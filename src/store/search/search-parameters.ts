import { parseFhirPath } from '@medplum/core';
import type { FhirPathAtom } from '@medplum/core';
import type { SearchParameter } from '@medplum/fhirtypes';
import { isStorableType, r4SearchParameters } from '../../fhir/definitions.ts';

/** The search parameter types we index and compile; composite and special are not supported. */
export type SearchParamType = 'string' | 'token' | 'date' | 'reference' | 'quantity' | 'number' | 'uri';

const SUPPORTED_TYPES = new Set<string>(['string', 'token', 'date', 'reference', 'quantity', 'number', 'uri']);

/** One R4 search parameter as it applies to one resource type. */
export interface SearchParamDef {
  code: string;
  type: SearchParamType;
  /** The FHIRPath expression restricted to this resource type. */
  expression: string;
  /** Allowed target types (reference parameters). */
  targets: string[];
  url: string;
  description?: string;
  /** `_id` and `_lastUpdated` are answered from the `resources` row, not from index tables. */
  column?: 'id' | 'last_updated';
}

const BASE_TYPES = new Set(['Resource', 'DomainResource']);
const ROW_PARAMS: Record<string, SearchParamDef['column']> = { _id: 'id', _lastUpdated: 'last_updated' };

const byType = new Map<string, Map<string, SearchParamDef>>();
const atoms = new Map<string, FhirPathAtom>();

/** Splits a FHIRPath union at top level (outside parentheses and quotes). */
export function splitUnion(expression: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote = false;
  let current = '';
  for (const ch of expression) {
    if (ch === "'") quote = !quote;
    if (!quote && ch === '(') depth++;
    if (!quote && ch === ')') depth--;
    if (!quote && depth === 0 && ch === '|') {
      parts.push(current.trim());
      current = '';
    } else current += ch;
  }
  if (current.trim()) parts.push(current.trim());
  return parts;
}

/** The parts of a multi-type expression that apply to `type`; `Resource.x` parts are rewritten to `type.x`. */
export function restrictExpression(expression: string, type: string): string | undefined {
  const kept: string[] = [];
  for (const part of splitUnion(expression)) {
    const m = /^(\(*)([A-Za-z]+)\b(.*)$/s.exec(part);
    if (!m) continue;
    if (m[2] === type) kept.push(part);
    else if (BASE_TYPES.has(m[2])) kept.push(`${m[1]}${type}${m[3]}`);
  }
  return kept.length ? kept.join(' | ') : undefined;
}

/** Reference targets narrowed by `.where(resolve() is X)` when every part of the expression says so. */
function narrowTargets(expression: string, targets: string[]): string[] {
  const parts = splitUnion(expression);
  const named = parts.map((p) => /resolve\(\) is ([A-Za-z]+)\)/.exec(p)?.[1]);
  if (named.some((n) => !n)) return targets;
  return targets.filter((t) => named.includes(t));
}

function toDef(sp: SearchParameter, type: string): SearchParamDef | undefined {
  if (!sp.code || !SUPPORTED_TYPES.has(sp.type ?? '')) return undefined;
  const column = ROW_PARAMS[sp.code];
  const expression = sp.expression ? restrictExpression(sp.expression, type) : undefined;
  if (!expression && !column) return undefined;
  return {
    code: sp.code,
    type: sp.type as SearchParamType,
    expression: expression ?? '',
    targets: expression ? narrowTargets(expression, sp.target ?? []) : [],
    url: sp.url ?? '',
    description: sp.description,
    ...(column ? { column } : {}),
  };
}

/** All supported search parameters of a resource type, by code (computed once per type). */
export function searchParamsFor(type: string): Map<string, SearchParamDef> {
  let map = byType.get(type);
  if (map) return map;
  map = new Map();
  if (isStorableType(type)) {
    for (const sp of r4SearchParameters()) {
      if (!sp.base?.some((b) => b === type || BASE_TYPES.has(b))) continue;
      const def = toDef(sp, type);
      if (def) map.set(def.code, def);
    }
  }
  byType.set(type, map);
  return map;
}

export function getSearchParam(type: string, code: string): SearchParamDef | undefined {
  return searchParamsFor(type).get(code);
}

/** The parsed FHIRPath of an expression, parsed once per process. */
export function fhirPathAtom(expression: string): FhirPathAtom {
  let atom = atoms.get(expression);
  if (!atom) {
    atom = parseFhirPath(expression);
    atoms.set(expression, atom);
  }
  return atom;
}

export interface SupportedSearchParam {
  name: string;
  type: SearchParamType;
  definition: string;
  documentation?: string;
}

/** What the CapabilityStatement may list for a type: only parameters this store really indexes and compiles. */
export function supportedSearchParams(type: string): SupportedSearchParam[] {
  return [...searchParamsFor(type).values()].map((d) => ({
    name: d.code,
    type: d.type,
    definition: d.url,
    ...(d.description ? { documentation: d.description } : {}),
  }));
}
