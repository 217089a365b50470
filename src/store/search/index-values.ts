import type { TypedValue } from '@medplum/core';
import { isResourceType } from '@medplum/core';
import type { CodeableConcept, Coding, ContactPoint, Identifier, Period, Quantity, Timing } from '@medplum/fhirtypes';
import type { DateRange } from './date-range.ts';
import { dateRange, OPEN_HI, OPEN_LO } from './date-range.ts';
import { MAX_INDEXED_TEXT, normalizeText } from './normalize.ts';

export interface StringValue {
  value: string;
  raw: string;
}
export interface TokenValue {
  system: string | null;
  value: string | null;
  display: string | null;
  typeSystem?: string | null;
  typeCode?: string | null;
}
export interface ReferenceValue {
  targetType: string | null;
  targetId: string | null;
  ref: string;
}
export interface QuantityValue {
  value: string;
  system: string | null;
  code: string | null;
  unit: string | null;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const strings = (...vs: unknown[]): string[] =>
  vs.flat().filter((v): v is string => typeof v === 'string' && v.trim() !== '');
const orNull = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

function stringValue(raw: string): StringValue {
  return { value: normalizeText(raw).slice(0, MAX_INDEXED_TEXT), raw };
}

/**
 * String parameters: the text itself, or every searchable part of a HumanName or Address. Not chosen by `tv.type`
 * (the fast path leaves it unknown) nor guessed from a field: a name may be `text` alone, an address only a state.
 */
export function toStrings(tv: TypedValue): StringValue[] {
  const v = tv.value as unknown;
  if (typeof v === 'string') return [stringValue(v)];
  if (!isObj(v)) return [];
  const nameParts = [v.family, v.given, v.prefix, v.suffix];
  const addressParts = [v.line, v.city, v.district, v.state, v.postalCode, v.country];
  return strings(v.text, ...nameParts, ...addressParts).map(stringValue);
}

function coding(c: Coding): TokenValue {
  return { system: orNull(c.system), value: orNull(c.code), display: c.display ? normalizeText(c.display) : null };
}

function codeableConcept(cc: CodeableConcept): TokenValue[] {
  const rows = (cc.coding ?? []).map(coding);
  if (cc.text) rows.push({ system: null, value: null, display: normalizeText(cc.text) });
  return rows;
}

function identifier(id: Identifier): TokenValue[] {
  const base = { system: orNull(id.system), value: orNull(id.value), display: id.type?.text ? normalizeText(id.type.text) : null };
  const types = id.type?.coding ?? [];
  if (types.length === 0) return [base];
  return types.map((t) => ({ ...base, typeSystem: orNull(t.system), typeCode: orNull(t.code) }));
}

/** Token parameters: Coding, CodeableConcept, Identifier, ContactPoint, code/string/uri, boolean. */
export function toTokens(tv: TypedValue): TokenValue[] {
  const v = tv.value as unknown;
  if (typeof v === 'boolean') return [{ system: null, value: String(v), display: null }];
  if (typeof v === 'string') return [{ system: null, value: v, display: null }];
  if (!isObj(v)) return [];
  if (tv.type === 'CodeableConcept' || 'coding' in v) return codeableConcept(v as CodeableConcept);
  if (tv.type === 'Coding' || 'code' in v) return [coding(v as Coding)];
  if (tv.type === 'ContactPoint') {
    const cp = v as ContactPoint;
    return [{ system: orNull(cp.system), value: orNull(cp.value), display: null }];
  }
  if ('value' in v || 'system' in v) return identifier(v as Identifier);
  if (typeof v.text === 'string') return [{ system: null, value: null, display: normalizeText(v.text) }];
  return [];
}

function periodRange(p: Period): DateRange | undefined {
  const lo = p.start ? dateRange(p.start)?.lo : OPEN_LO;
  const hi = p.end ? dateRange(p.end)?.hi : OPEN_HI;
  return lo && hi && (p.start || p.end) ? { lo, hi } : undefined;
}

function timingRange(t: Timing): DateRange | undefined {
  const events = (t.event ?? []).map((e) => dateRange(e)).filter((r): r is DateRange => !!r);
  if (events.length) {
    return { lo: events.map((e) => e.lo).sort()[0], hi: events.map((e) => e.hi).sort().at(-1) as string };
  }
  return t.repeat?.boundsPeriod ? periodRange(t.repeat.boundsPeriod) : undefined;
}

/** Date parameters: date/dateTime/instant at their precision, Period, Timing. */
export function toDates(tv: TypedValue): DateRange[] {
  const v = tv.value as unknown;
  let r: DateRange | undefined;
  if (typeof v === 'string') r = dateRange(v);
  else if (isObj(v) && (tv.type === 'Timing' || 'event' in v || 'repeat' in v)) r = timingRange(v as Timing);
  else if (isObj(v) && ('start' in v || 'end' in v)) r = periodRange(v as Period);
  return r ? [r] : [];
}

const LOCAL_REF = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/;
const RESTFUL_URL = /^(https?:\/\/.+\/[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/;

/** `ref` made relative when it is an absolute URL under this server's FHIR base `base`: such a reference is local. */
export function relativeTo(ref: string, base: string | undefined): string {
  const b = base?.replace(/\/$/, '');
  return b && ref.startsWith(`${b}/`) ? ref.slice(b.length + 1) : ref;
}

/**
 * Parses a reference string: `Type/id` (also as an absolute URL under this server's base `base`, and versioned) is a
 * local resource; any other URL is only itself (FHIR R4 §3.1.1.4.13): another server's `…/Patient/123` is never
 * the local Patient 123. Such a URL is kept without its `/_history/…`, and a canonical without its `|version`, as a
 * local reference matches whatever its version.
 */
export function parseReference(ref: string, base?: string): ReferenceValue | undefined {
  if (!ref || ref.startsWith('#')) return undefined;
  const m = LOCAL_REF.exec(relativeTo(ref, base));
  if (m && isResourceType(m[1])) return { targetType: m[1], targetId: m[2], ref };
  return { targetType: null, targetId: null, ref: RESTFUL_URL.exec(ref)?.[1] ?? ref.split('|')[0] };
}

/** Reference parameters: Reference.reference, canonical and uri values; `base` as for `parseReference`. */
export function toReferences(tv: TypedValue, base?: string): ReferenceValue[] {
  const v = tv.value as unknown;
  const text = typeof v === 'string' ? v : isObj(v) && typeof v.reference === 'string' ? v.reference : undefined;
  const r = text ? parseReference(text, base) : undefined;
  return r ? [r] : [];
}

/** Quantity parameters: Quantity (and Age, Duration, …) and Money. */
export function toQuantities(tv: TypedValue): QuantityValue[] {
  const v = tv.value as unknown;
  if (!isObj(v) || typeof v.value !== 'number') return [];
  if (typeof v.currency === 'string') {
    return [{ value: String(v.value), system: 'urn:iso:std:iso:4217', code: v.currency, unit: null }];
  }
  const q = v as Quantity;
  return [{ value: String(q.value), system: orNull(q.system), code: orNull(q.code), unit: orNull(q.unit) }];
}

export function toNumbers(tv: TypedValue): string[] {
  const v = tv.value as unknown;
  if (typeof v === 'number' && Number.isFinite(v)) return [String(v)];
  return isObj(v) && typeof v.value === 'number' ? [String(v.value)] : [];
}

export function toUris(tv: TypedValue): string[] {
  return typeof tv.value === 'string' && tv.value !== '' ? [tv.value] : [];
}
