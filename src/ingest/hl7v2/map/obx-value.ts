import type { Hl7Segment } from '@medplum/core';
import type { Attachment, Observation, Quantity } from '@medplum/fhirtypes';
import { fieldText, reps, repAt, val } from '../fields.ts';
import { Hl7ErrorCode, type Hl7Error } from '../types.ts';
import { hl7ToFhirDateTime } from './datetime.ts';
import { codeableConcept, codeSystemUri } from './datatypes.ts';

export const TEXT_TYPES = new Set(['TX', 'FT', 'ST']);

type ObxValue = Pick<Observation, 'valueQuantity' | 'valueString' | 'valueCodeableConcept' | 'valueDateTime' | 'valueRange' | 'valueRatio' | 'valueTime'>;

const NUMBER = /^([<>]=?)?\s*([+-]?(\d+\.?\d*|\.\d+))$/;

function unit(obx: Hl7Segment): Pick<Quantity, 'unit' | 'system' | 'code'> {
  const c = repAt(obx, 6, 0);
  const code = c(1);
  if (!code) return {};
  const system = codeSystemUri(c(3) || 'UCUM');
  return { unit: c(2) || code, ...(system === 'http://unitsofmeasure.org' || !c(3) ? { system: 'http://unitsofmeasure.org', code } : { system, code }) };
}

function dataTypeError(seq: number, reason: string): Hl7Error {
  return { code: Hl7ErrorCode.DataType, ackCode: 'AE', reason, location: { segment: 'OBX', sequence: seq, field: 5 } };
}

function numeric(text: string, obx: Hl7Segment, seq: number): ObxValue | Hl7Error {
  const m = NUMBER.exec(text);
  if (!m) return dataTypeError(seq, 'OBX-5 is not numeric for value type NM');
  const comparator = m[1] as Quantity['comparator'] | undefined;
  return { valueQuantity: { value: Number(m[2]), ...(comparator ? { comparator } : {}), ...unit(obx) } };
}

/** SN: comparator ^ num1 ^ separator/suffix ^ num2. */
function structuredNumeric(obx: Hl7Segment, seq: number): ObxValue | Hl7Error {
  const [cmp, n1, sep, n2] = [1, 2, 3, 4].map((i) => val(obx, 5, i));
  const num = (s: string) => (s === '' ? undefined : Number(s));
  const a = num(n1);
  const b = num(n2);
  if ((a !== undefined && Number.isNaN(a)) || (b !== undefined && Number.isNaN(b))) return dataTypeError(seq, 'OBX-5 structured numeric is not numeric');
  const u = unit(obx);
  if ((sep === ':' || sep === '/') && a !== undefined && b !== undefined) return { valueRatio: { numerator: { value: a }, denominator: { value: b } } };
  if (sep === '-' && a !== undefined && b !== undefined) return { valueRange: { low: { value: a, ...u }, high: { value: b, ...u } } };
  if (a === undefined) return dataTypeError(seq, 'OBX-5 structured numeric has no number');
  const comparator = (['<', '>', '<=', '>='] as const).find((x) => x === cmp);
  return { valueQuantity: { value: a, ...(comparator ? { comparator } : {}), ...u } };
}

/** OBX-5 → Observation.value[x]; a wrong-typed value is a 102 data type error. */
export function obxValue(obx: Hl7Segment, seq: number, tz?: string): ObxValue | Hl7Error | undefined {
  const type = val(obx, 2);
  const first = val(obx, 5);
  if (!first && !fieldText(obx, 5).trim()) return undefined;
  switch (type) {
    case 'NM': return numeric(first, obx, seq);
    case 'SN': return structuredNumeric(obx, seq);
    case 'CE': case 'CWE': case 'CNE': case 'CF': {
      const cc = codeableConcept(repAt(obx, 5, 0));
      return cc ? { valueCodeableConcept: cc } : undefined;
    }
    case 'DT': case 'TS': case 'DTM': {
      const dt = hl7ToFhirDateTime(first, tz);
      return dt ? { valueDateTime: dt } : dataTypeError(seq, `OBX-5 is not a valid ${type}`);
    }
    case 'TM': return /^\d{2}(\d{2})?(\d{2})?/.test(first) ? { valueTime: `${first.slice(0, 2)}:${first.slice(2, 4) || '00'}:${first.slice(4, 6) || '00'}` } : dataTypeError(seq, 'OBX-5 is not a valid TM');
    default: {
      // ST/TX/FT and anything textual: keep the whole field, repetitions as lines.
      const text = fieldText(obx, 5).trim();
      return text ? { valueString: text } : undefined;
    }
  }
}

/** OBX-7 "70-80", "<5", ">=3" → referenceRange. */
export function referenceRange(obx: Hl7Segment): Observation['referenceRange'] {
  const text = val(obx, 7);
  if (!text) return undefined;
  const u = unit(obx);
  const range = /^\s*(-?\d+\.?\d*)\s*-\s*(-?\d+\.?\d*)\s*$/.exec(text);
  if (range) return [{ low: { value: Number(range[1]), ...u }, high: { value: Number(range[2]), ...u }, text }];
  const bound = /^\s*([<>])=?\s*(-?\d+\.?\d*)\s*$/.exec(text);
  if (bound) return [{ ...(bound[1] === '<' ? { high: { value: Number(bound[2]), ...u } } : { low: { value: Number(bound[2]), ...u } }), text }];
  return [{ text }];
}

/** OBX-8 abnormal flags → interpretation (v3 ObservationInterpretation shares the v2-0078 codes). */
export function interpretation(obx: Hl7Segment): Observation['interpretation'] {
  const flags = reps(obx, 8).map((c) => c(1)).filter(Boolean);
  if (!flags.length) return undefined;
  return flags.map((code) => ({ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code }] }));
}

const OBS_STATUS: Record<string, Observation['status']> = {
  F: 'final', C: 'corrected', P: 'preliminary', R: 'preliminary', S: 'preliminary', X: 'cancelled', I: 'registered', O: 'registered', D: 'entered-in-error', W: 'entered-in-error', U: 'final', A: 'amended',
};

export function observationStatus(code: string): Observation['status'] {
  return OBS_STATUS[code] ?? 'final';
}

const MEDIA_MAJOR: Record<string, string> = { AP: 'application', APPLICATION: 'application', TEXT: 'text', TX: 'text', IM: 'image', IMAGE: 'image', AU: 'audio', AUDIO: 'audio', MULTIPART: 'multipart' };

/** ED (source ^ type ^ subtype ^ encoding ^ data) → Attachment. */
export function edAttachment(obx: Hl7Segment): Attachment | undefined {
  const [type, subtype, encoding, data] = [2, 3, 4, 5].map((i) => val(obx, 5, i));
  if (!data) return undefined;
  const contentType = subtype.includes('/') ? subtype.toLowerCase() : `${MEDIA_MAJOR[type.toUpperCase()] ?? 'application'}/${subtype.toLowerCase() || 'octet-stream'}`;
  const base64 = /^base64$/i.test(encoding) ? data.replace(/\s+/g, '') : Buffer.from(data, 'utf8').toString('base64');
  return { contentType: contentType === 'text/plain' ? 'text/plain; charset=utf-8' : contentType, data: base64 };
}
