// Demographic record used by the matcher, and the normalisation that makes records comparable.
// Everything here is total: bad input yields empty/undefined fields, never an exception.
import type { Patient } from '@medplum/fhirtypes';

export type MpiSex = 'male' | 'female' | 'other' | 'unknown';

/** One source record's demographics, as the matcher sees them. */
export interface MpiRecord {
  id: string;
  given: string[];
  family: string;
  /** YYYY-MM-DD (components may be corrupt; they are compared one by one). */
  birthDate?: string;
  sex?: MpiSex;
  /** Digits only. */
  ssn?: string;
  street?: string;
  city?: string;
  postalCode?: string;
  phone?: string;
  email?: string;
}

export const SSN_SYSTEM = 'http://hl7.org/fhir/sid/us-ssn';

/** Longest value we look at; protects the quadratic string metrics from hostile input. */
const MAX_LEN = 100;

/** Upper-case, strip diacritics (NFKD), punctuation to spaces, collapse whitespace. */
export function normText(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) return '';
  return value
    .slice(0, MAX_LEN * 4)
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toUpperCase()
    .replace(/[^A-Z0-9]+/g, ' ')
    .trim()
    .slice(0, MAX_LEN)
    .trim();
}

/** Name without spaces, hyphens or apostrophes ("O'Neil-Smith" → "ONEILSMITH"). */
export function normName(value: unknown): string {
  return normText(value).replace(/[^A-Z]/g, '');
}

const STREET_WORDS: Record<string, string> = {
  STREET: 'ST', STR: 'ST', AVENUE: 'AVE', AV: 'AVE', AVN: 'AVE', ROAD: 'RD', DRIVE: 'DR', DRV: 'DR',
  LANE: 'LN', COURT: 'CT', CRT: 'CT', PLACE: 'PL', BOULEVARD: 'BLVD', BOUL: 'BLVD', HIGHWAY: 'HWY',
  PARKWAY: 'PKWY', CIRCLE: 'CIR', CIRCUIT: 'CCT', CRESCENT: 'CRES', TERRACE: 'TER', SQUARE: 'SQ',
  APARTMENT: 'APT', SUITE: 'STE', NORTH: 'N', SOUTH: 'S', EAST: 'E', WEST: 'W', TRAIL: 'TRL',
  CLOSE: 'CL', GROVE: 'GR', MOUNT: 'MT', POINT: 'PT', ROUTE: 'RTE', WAY: 'WAY',
};

/** Street line with USPS/AU-style abbreviations so "12 Main Street" equals "12 MAIN ST.". */
export function normStreet(value: unknown): string {
  return normText(value)
    .split(' ')
    .filter((w) => w.length > 0)
    .map((w) => STREET_WORDS[w] ?? w)
    .join(' ');
}

/** Digits only; a leading US country code on an 11-digit number is dropped. */
export function normPhone(value: unknown): string {
  if (typeof value !== 'string') return '';
  const digits = value.slice(0, MAX_LEN).replace(/\D/g, '');
  if (digits.length === 11 && digits.startsWith('1')) return digits.slice(1);
  return digits.length >= 7 ? digits : '';
}

/** US ZIP → first 5 digits; other (e.g. UK) codes → upper-case alphanumerics. */
export function normPostal(value: unknown): string {
  const text = normText(value).replace(/ /g, '');
  if (/^\d{5}(\d{4})?$/.test(text)) return text.slice(0, 5);
  return text;
}

export function normEmail(value: unknown): string {
  if (typeof value !== 'string') return '';
  const text = value.slice(0, MAX_LEN * 2).trim().toLowerCase();
  return /^[^\s@]+@[^\s@]+$/.test(text) ? text : '';
}

export function normSsn(value: unknown): string {
  if (typeof value !== 'string') return '';
  const digits = value.replace(/\D/g, '');
  // All-zero and absurd-length values are placeholders, not identifiers.
  if (digits.length < 4 || digits.length > 12 || /^0+$/.test(digits)) return '';
  return digits;
}

export interface DateParts {
  y: number;
  m: number;
  d: number;
}

/** Components of YYYY-MM-DD (or YYYYMMDD); undefined when the shape is wrong. Values are not range-checked. */
export function parseDate(value: unknown): DateParts | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^(\d{4})-?(\d{2})-?(\d{2})/.exec(value.trim());
  if (!match) return undefined;
  return { y: Number(match[1]), m: Number(match[2]), d: Number(match[3]) };
}

const SEXES: ReadonlySet<string> = new Set(['male', 'female', 'other', 'unknown']);

export function normSex(value: unknown): MpiSex | undefined {
  if (typeof value !== 'string') return undefined;
  const v = value.trim().toLowerCase();
  if (v === 'm') return 'male';
  if (v === 'f') return 'female';
  return SEXES.has(v) ? (v as MpiSex) : undefined;
}

/** FHIR Patient → matcher record (official or first name, first address, first phone and email). */
export function patientToRecord(p: Patient): MpiRecord {
  const names = p.name ?? [];
  const name = names.find((n) => n.use === 'official') ?? names.find((n) => n.use !== 'old') ?? names[0];
  const address = (p.address ?? []).find((a) => a.use !== 'old') ?? p.address?.[0];
  const telecom = p.telecom ?? [];
  const ssn = (p.identifier ?? []).find((i) => i.system === SSN_SYSTEM)?.value;
  return {
    id: p.id ?? '',
    given: (name?.given ?? []).filter((g): g is string => typeof g === 'string'),
    family: name?.family ?? '',
    birthDate: p.birthDate,
    sex: normSex(p.gender),
    ssn: normSsn(ssn) || undefined,
    street: address?.line?.join(' '),
    city: address?.city,
    postalCode: address?.postalCode,
    phone: telecom.find((t) => t.system === 'phone')?.value,
    email: telecom.find((t) => t.system === 'email')?.value,
  };
}
