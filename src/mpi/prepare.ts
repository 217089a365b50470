// A record normalised once (names, phonetic codes, date parts) so scoring many pairs stays cheap.
import {
  normEmail, normPhone, normPostal, normSex, normSsn, normStreet, normText, parseDate,
  type DateParts, type MpiRecord, type MpiSex,
} from './normalize.ts';
import { metaphone } from './string-metrics.ts';

export interface PreparedRecord {
  id: string;
  /** First given name ('' when absent). */
  given: string;
  /** Every given-name token (first, middle…). */
  givenTokens: string[];
  givenMp: [string, string];
  family: string;
  familyTokens: string[];
  familyMp: [string, string];
  birth?: DateParts;
  sex?: Exclude<MpiSex, 'unknown'>;
  ssn: string;
  street: string;
  city: string;
  postal: string;
  phone: string;
  email: string;
}

const cache = new WeakMap<MpiRecord, PreparedRecord>();

/**
 * Titles, honours and ordinals that registries leave in name fields ("Sir", "Dr", "1st Bt."): shared by many people,
 * they say nothing about which person a record is, and matched as names they link strangers.
 */
const NOT_A_NAME = new Set(['SIR', 'DAME', 'LORD', 'LADY', 'MR', 'MRS', 'MS', 'MISS', 'MX', 'DR', 'REV', 'PROF', 'BT', 'BART', 'BARONET', 'ESQ']);

function tokens(values: unknown[]): string[] {
  return values.flatMap((v) => normText(v).split(' '))
    .filter((t) => !/^\d+(ST|ND|RD|TH)$/.test(t))
    .map((t) => t.replace(/[^A-Z]/g, ''))
    .filter((t) => t.length > 0 && !NOT_A_NAME.has(t));
}

function safeArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value.slice(0, 10) : [];
}

/** Normalises a record (memoised per object). Never throws, whatever the field contents. */
export function prepare(record: MpiRecord): PreparedRecord {
  const hit = cache.get(record);
  if (hit) return hit;
  const givenTokens = tokens(safeArray(record.given));
  const familyTokens = tokens([record.family]);
  const family = familyTokens.join('');
  const sex = normSex(record.sex);
  const prepared: PreparedRecord = {
    id: typeof record.id === 'string' ? record.id : String(record.id),
    given: givenTokens[0] ?? '',
    givenTokens,
    givenMp: metaphone(givenTokens[0] ?? ''),
    family,
    familyTokens,
    familyMp: metaphone(family),
    birth: parseDate(record.birthDate),
    sex: sex === 'unknown' ? undefined : sex,
    ssn: normSsn(record.ssn),
    street: normStreet(record.street),
    city: normText(record.city),
    postal: normPostal(record.postalCode),
    phone: normPhone(record.phone),
    email: normEmail(record.email),
  };
  cache.set(record, prepared);
  return prepared;
}
