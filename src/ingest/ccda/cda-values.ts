import type { CcdaAct, CcdaCode, CcdaEffectiveTime, CcdaId, CcdaObservation } from '@medplum/ccda';
import { mapCcdaSystemToFhir } from '@medplum/ccda';
import type { CodeableConcept, Coding, Period } from '@medplum/fhirtypes';

/** Code systems where @medplum/ccda's OID table is wrong or missing (fix #1, see docs/INGESTION.md). */
const SYSTEM_OVERRIDES: Record<string, string> = {
  '2.16.840.1.113883.12.292': 'http://hl7.org/fhir/sid/cvx',
  '2.16.840.1.113883.6.90': 'http://hl7.org/fhir/sid/icd-10-cm',
  '2.16.840.1.113883.6.103': 'http://hl7.org/fhir/sid/icd-9-cm',
  '2.16.840.1.113883.6.4': 'http://www.cms.gov/Medicare/Coding/ICD10',
  '2.16.840.1.113883.6.104': 'http://hl7.org/fhir/sid/icd-9-cm',
  '2.16.840.1.113883.5.4': 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
  '2.16.840.1.113883.5.83': 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation',
  '2.16.840.1.113883.5.1': 'http://terminology.hl7.org/CodeSystem/v3-AdministrativeGender',
  '2.16.840.1.113883.5.8': 'http://terminology.hl7.org/CodeSystem/v3-ActReason',
  '2.16.840.1.113883.3.26.1.1': 'http://ncit.nci.nih.gov',
  '2.16.840.1.113883.6.259': 'https://www.cdc.gov/nhsn/cdaportal/terminology/codesystem/hsloc.html',
  '2.16.840.1.113883.6.12': 'http://www.ama-assn.org/go/cpt',
  '2.16.840.1.113883.6.285': 'urn:oid:2.16.840.1.113883.6.285',
};

/** fast-xml-parser gives a single object or an array depending on repetition; normalise to an array. */
export function arr<T>(value: T | T[] | undefined | null): T[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/** Text content of a parsed node (string, `#text`, or nothing). */
export function textOf(node: unknown): string | undefined {
  if (typeof node === 'string') return node.trim() || undefined;
  if (typeof node === 'number') return String(node);
  if (node && typeof node === 'object' && '#text' in node) return textOf((node as { '#text': unknown })['#text']);
  return undefined;
}

export function attr(node: unknown, name: string): string | undefined {
  if (!node || typeof node !== 'object') return undefined;
  const v = (node as Record<string, unknown>)['@_' + name];
  return typeof v === 'string' && v.trim() ? v.trim() : undefined;
}

/** `xsi:type`, whatever prefix the document bound the XSI namespace to. */
export function xsiType(node: unknown): string | undefined {
  if (!node || typeof node !== 'object') return undefined;
  const key = Object.keys(node).find((k) => k.startsWith('@_') && k.endsWith(':type'));
  return key ? attr(node, key.slice(2)) : undefined;
}

export function systemFor(oid: string | undefined): string | undefined {
  if (!oid) return undefined;
  return SYSTEM_OVERRIDES[oid] ?? mapCcdaSystemToFhir(oid);
}

function coding(code: CcdaCode): Coding | undefined {
  const value = attr(code, 'code');
  if (!value) return undefined;
  const c: Coding = { system: systemFor(attr(code, 'codeSystem')), code: value };
  const display = attr(code, 'displayName');
  if (display) c.display = display;
  return c;
}

/** CD/CE → CodeableConcept keeping translations and a string originalText; nullFlavor-only codes give undefined. */
export function concept(code: CcdaCode | undefined): CodeableConcept | undefined {
  if (!code || typeof code !== 'object') return undefined;
  const codings = [code, ...arr(code.translation)].map(coding).filter((c): c is Coding => !!c);
  const text = textOf(code.originalText) ?? attr(code, 'displayName');
  if (codings.length === 0 && !text) return undefined;
  const cc: CodeableConcept = {};
  if (codings.length) cc.coding = codings;
  if (text) cc.text = text;
  return cc;
}

export function hasCode(cc: CodeableConcept | undefined, system: string, code: string): boolean {
  return !!cc?.coding?.some((c) => c.system === system && c.code === code);
}

export function firstCode(cc: CodeableConcept | undefined): string | undefined {
  return cc?.coding?.[0]?.code;
}

const TS = /^(\d{4})(\d{2})?(\d{2})?(?:(\d{2})(\d{2})?(\d{2})?(?:\.\d+)?)?([+-]\d{4}|Z)?$/;

const within = (v: string | undefined, lo: number, hi: number) => v === undefined || (Number(v) >= lo && Number(v) <= hi);

/** Parses a TS and rejects impossible parts (vendors send `00000000`, and zones like `-5000`). */
function parseTs(ts: string | undefined): RegExpExecArray | undefined {
  const m = ts ? TS.exec(ts.trim()) : null;
  if (!m || m[1] === '0000' || !within(m[2], 1, 12) || !within(m[3], 1, 31)) return undefined;
  return m;
}

function validTime(m: RegExpExecArray): boolean {
  const zone = m[7] && m[7] !== 'Z' ? m[7] : undefined;
  const zoneOk = !zone || (within(zone.slice(1, 3), 0, 14) && within(zone.slice(3), 0, 59));
  return within(m[4], 0, 23) && within(m[5], 0, 59) && within(m[6], 0, 59) && zoneOk;
}

/** HL7 v3 TS → FHIR date (keeps the source precision: YYYY, YYYY-MM or YYYY-MM-DD). */
export function fhirDate(ts: string | undefined): string | undefined {
  const m = parseTs(ts);
  if (!m) return undefined;
  return [m[1], m[2], m[3]].filter(Boolean).join('-');
}

/**
 * HL7 v3 TS → FHIR dateTime. FHIR requires a zone when a time is given, so a time without
 * a zone is reduced to its date rather than guessed as UTC (fix #2: @medplum/ccda pads to UTC midnight).
 */
export function fhirDateTime(ts: string | undefined): string | undefined {
  const m = parseTs(ts);
  if (!m) return undefined;
  const date = fhirDate(ts);
  if (!m[4] || !m[3] || !m[7] || !validTime(m)) return date;
  const zone = m[7] === 'Z' ? 'Z' : `${m[7].slice(0, 3)}:${m[7].slice(3)}`;
  return `${date}T${m[4]}:${m[5] ?? '00'}:${m[6] ?? '00'}${zone}`;
}

/** FHIR instant (DocumentReference.date): needs a full time and zone, so date-only values are padded to 00:00:00Z. */
export function fhirInstant(ts: string | undefined): string | undefined {
  const dt = fhirDateTime(ts);
  if (!dt) return undefined;
  if (dt.includes('T')) return dt;
  const [y, mo = '01', d = '01'] = dt.split('-');
  return `${y}-${mo}-${d}T00:00:00Z`;
}

export type Effective = { dateTime?: string; period?: Period };

/** The first effectiveTime as a point (value, or low when only low is given) or a period. */
export function effective(times: CcdaEffectiveTime | CcdaEffectiveTime[] | undefined): Effective {
  const t = arr(times)[0];
  if (!t) return {};
  const point = fhirDateTime(attr(t, 'value'));
  if (point) return { dateTime: point };
  const start = fhirDateTime(attr(t.low, 'value'));
  const end = fhirDateTime(attr(t.high, 'value'));
  if (start && !end) return { dateTime: start };
  if (!start && !end) return {};
  const period: Period = {};
  if (start) period.start = start;
  if (end) period.end = end;
  return { period };
}

/** The earliest date an effective time speaks of (for hash keys and sorting). */
export function effectiveKey(e: Effective): string {
  return e.dateTime ?? e.period?.start ?? e.period?.end ?? '';
}

export function usableIds(ids: CcdaId | CcdaId[] | undefined): CcdaId[] {
  return arr(ids).filter((id) => !attr(id, 'nullFlavor') && attr(id, 'root'));
}

export function isNegated(node: unknown): boolean {
  return attr(node, 'negationInd') === 'true';
}

/**
 * The observations a concern act is about: SUBJ observations carrying `template` when any do
 * (vendors also hang comments, criticality or status off the act as SUBJ), else non-inverted SUBJ ones.
 */
export function subjectObservations(act: CcdaAct, template: string): CcdaObservation[] {
  const subj = arr(act.entryRelationship).filter((r) => attr(r, 'typeCode') === 'SUBJ');
  const all = subj.flatMap((r) => arr(r.observation));
  const templated = all.filter((o) => arr(o.templateId).some((t) => attr(t, 'root') === template));
  if (templated.length) return templated;
  return subj.filter((r) => attr(r, 'inversionInd') !== 'true').flatMap((r) => arr(r.observation));
}
