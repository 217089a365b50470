// Per-field comparison levels (best first). 'null' means a side is missing: it contributes nothing.
import { areNicknames } from './nicknames.ts';
import type { DateParts } from './normalize.ts';
import type { PreparedRecord } from './prepare.ts';
import { damerauLevenshtein, jaroWinkler, phoneticMatch } from './string-metrics.ts';

export const NULL_LEVEL = 'null';
export const ELSE_LEVEL = 'else';

/** Fields and their non-null levels, most to least similar; 'else' (disagreement) is always last. */
export const FIELD_LEVELS = {
  given: ['exact', 'nickname', 'jw92', 'phonetic', 'jw85', 'initial', 'swapped', ELSE_LEVEL],
  family: ['exact', 'jw92', 'phonetic', 'token', 'jw85', ELSE_LEVEL],
  birthDate: ['exact', 'transposed', 'one_component', 'two_digits', 'year_only', ELSE_LEVEL],
  sex: ['exact', ELSE_LEVEL],
  ssn: ['exact', 'one_digit', 'last_four', ELSE_LEVEL],
  address: ['street_locality', 'street', 'postal_city', 'postal', 'city', ELSE_LEVEL],
  phone: ['exact', 'one_digit', ELSE_LEVEL],
  email: ['exact', 'fuzzy', ELSE_LEVEL],
} as const satisfies Record<string, readonly string[]>;

export type FieldName = keyof typeof FIELD_LEVELS;
export const FIELDS = Object.keys(FIELD_LEVELS) as FieldName[];

export type Comparison = Record<FieldName, string>;

function similar(a: string, b: string): boolean {
  return a === b || (a.length > 1 && b.length > 1 && jaroWinkler(a, b) >= 0.92);
}

/** Given and family written in each other's place (both present on both sides). */
export function namesSwapped(a: PreparedRecord, b: PreparedRecord): boolean {
  if (!a.given || !b.given || !a.family || !b.family) return false;
  // Cheap gate first: a swap almost always keeps the initials.
  if (a.given[0] !== b.family[0] || a.family[0] !== b.given[0] || similar(a.given, b.given)) return false;
  return similar(a.given, b.family) && similar(a.family, b.given);
}

export function compareGiven(a: PreparedRecord, b: PreparedRecord): string {
  if (!a.given || !b.given) return NULL_LEVEL;
  if (a.given === b.given || a.givenTokens.join('') === b.givenTokens.join('')) return 'exact';
  if (namesSwapped(a, b)) return 'swapped';
  if (areNicknames(a.given, b.given)) return 'nickname';
  const jw = jaroWinkler(a.given, b.given);
  if (jw >= 0.92) return 'jw92';
  if (phoneticMatch(a.givenMp, b.givenMp)) return 'phonetic';
  if (jw >= 0.85) return 'jw85';
  if ((a.given.length === 1 || b.given.length === 1) && a.given[0] === b.given[0]) return 'initial';
  return ELSE_LEVEL;
}

export function compareFamily(a: PreparedRecord, b: PreparedRecord): string {
  if (!a.family || !b.family) return NULL_LEVEL;
  if (a.family === b.family) return 'exact';
  // A swap is scored once, on the given-name field.
  if (namesSwapped(a, b)) return NULL_LEVEL;
  const jw = jaroWinkler(a.family, b.family);
  if (jw >= 0.92) return 'jw92';
  if (phoneticMatch(a.familyMp, b.familyMp)) return 'phonetic';
  if (a.familyTokens.some((t) => t.length > 1 && b.familyTokens.includes(t))) return 'token';
  if (jw >= 0.85) return 'jw85';
  return ELSE_LEVEL;
}

const dateDigits = (d: DateParts) => `${d.y}${String(d.m).padStart(2, '0')}${String(d.d).padStart(2, '0')}`;

export function compareBirthDate(a: PreparedRecord, b: PreparedRecord): string {
  const x = a.birth;
  const y = b.birth;
  if (!x || !y) return NULL_LEVEL;
  const same = Number(x.y === y.y) + Number(x.m === y.m) + Number(x.d === y.d);
  if (same === 3) return 'exact';
  if (x.y === y.y && x.m === y.d && x.d === y.m) return 'transposed';
  if (same === 2) return 'one_component';
  // Two keying errors spread over the components (1987-06-26 vs 1988-06-27).
  if (damerauLevenshtein(dateDigits(x), dateDigits(y), 2) <= 2) return 'two_digits';
  if (x.y === y.y) return 'year_only';
  return ELSE_LEVEL;
}

export function compareSex(a: PreparedRecord, b: PreparedRecord): string {
  if (!a.sex || !b.sex) return NULL_LEVEL;
  return a.sex === b.sex ? 'exact' : ELSE_LEVEL;
}

export function compareSsn(a: PreparedRecord, b: PreparedRecord): string {
  if (!a.ssn || !b.ssn) return NULL_LEVEL;
  if (a.ssn === b.ssn) return 'exact';
  if (a.ssn.length === b.ssn.length && damerauLevenshtein(a.ssn, b.ssn, 1) <= 1) return 'one_digit';
  if (a.ssn.length >= 4 && b.ssn.length >= 4 && a.ssn.slice(-4) === b.ssn.slice(-4)) return 'last_four';
  return ELSE_LEVEL;
}

function textAgrees(a: string, b: string, threshold: number): boolean | undefined {
  if (!a || !b) return undefined;
  return a === b || jaroWinkler(a, b) >= threshold;
}

/**
 * Street, postal code and city as one field: they are strongly correlated (a household shares all three),
 * so scoring them separately would count one piece of evidence three times.
 */
export function compareAddress(a: PreparedRecord, b: PreparedRecord): string {
  const street = textAgrees(a.street, b.street, 0.9);
  const postal = a.postal && b.postal ? a.postal === b.postal : undefined;
  const city = textAgrees(a.city, b.city, 0.9);
  if (street) return postal || city ? 'street_locality' : 'street';
  if (postal) return city ? 'postal_city' : 'postal';
  if (city) return 'city';
  return street === undefined && postal === undefined && city === undefined ? NULL_LEVEL : ELSE_LEVEL;
}

export function comparePhone(a: PreparedRecord, b: PreparedRecord): string {
  if (!a.phone || !b.phone) return NULL_LEVEL;
  if (a.phone === b.phone) return 'exact';
  return damerauLevenshtein(a.phone, b.phone, 1) <= 1 ? 'one_digit' : ELSE_LEVEL;
}

/** Emails: exact, or at most two edits apart (a typo or a dropped digit). */
export function compareEmail(a: PreparedRecord, b: PreparedRecord): string {
  if (!a.email || !b.email) return NULL_LEVEL;
  if (a.email === b.email) return 'exact';
  return damerauLevenshtein(a.email, b.email, 2) <= 2 ? 'fuzzy' : ELSE_LEVEL;
}

const COMPARATORS: Record<FieldName, (a: PreparedRecord, b: PreparedRecord) => string> = {
  given: compareGiven,
  family: compareFamily,
  birthDate: compareBirthDate,
  sex: compareSex,
  ssn: compareSsn,
  address: compareAddress,
  phone: comparePhone,
  email: compareEmail,
};

/** The comparison vector of a pair: one level per field. */
export function compareRecords(a: PreparedRecord, b: PreparedRecord): Comparison {
  const out = {} as Comparison;
  for (const field of FIELDS) out[field] = COMPARATORS[field](a, b);
  return out;
}
