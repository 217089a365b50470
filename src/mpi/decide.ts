// Turns a score into a link decision, with hard safety rules that no weight can override.
import { compareAddress, compareBirthDate, compareEmail, compareGiven, comparePhone, compareSsn } from './compare.ts';
import type { MatchModel, ScoreResult } from './model.ts';
import type { MpiRecord } from './normalize.ts';
import { prepare, type PreparedRecord } from './prepare.ts';

export type Decision = 'auto-link' | 'review' | 'no-match';

export type DecisionReason =
  | 'above-upper-threshold'
  | 'between-thresholds'
  | 'below-lower-threshold'
  | 'ssn-conflict'
  | 'possible-twin'
  | 'possible-household-member'
  | 'sex-conflict'
  | 'insufficient-evidence'
  | 'year-only-birth-date';

export interface DecisionResult {
  decision: Decision;
  reason: DecisionReason;
}

/** Given-name levels that do not rule out two different children of one birth. */
const TWIN_GIVEN_LEVELS: ReadonlySet<string> = new Set(['else', 'jw85', 'phonetic']);

/** Both SSNs present and more than one digit (or a swap) apart. */
export function ssnConflict(a: PreparedRecord, b: PreparedRecord): boolean {
  const level = compareSsn(a, b);
  return level === 'else' || level === 'last_four';
}

/** Same family name and birth date, different (non-nickname) given names, and no shared SSN. */
export function likelyTwins(a: PreparedRecord, b: PreparedRecord): boolean {
  if (!a.family || a.family !== b.family || !a.birth || !b.birth) return false;
  const sameBirth = a.birth.y === b.birth.y && a.birth.m === b.birth.m && a.birth.d === b.birth.d;
  if (!sameBirth || compareSsn(a, b) === 'exact') return false;
  return TWIN_GIVEN_LEVELS.has(compareGiven(a, b));
}

/** Recorded sexes differ and the SSN does not vouch for the pair. */
export function sexConflict(a: PreparedRecord, b: PreparedRecord): boolean {
  return !!a.sex && !!b.sex && a.sex !== b.sex && compareSsn(a, b) !== 'exact';
}

const CORROBORATING_SSN = new Set(['exact', 'one_digit']);
const AGREEING_BIRTH = new Set(['exact', 'transposed', 'one_component']);
const STRONG_BIRTH = new Set(['exact', 'transposed']);

/** An identifier that belongs to one person (not to a household) agrees: SSN (±1 digit) or email. */
function personalIdentifierAgrees(a: PreparedRecord, b: PreparedRecord): boolean {
  return CORROBORATING_SSN.has(compareSsn(a, b)) || (!!a.email && a.email === b.email);
}

/**
 * Person-level evidence: the given name and the birth date both agree (a missing given name is tolerated
 * when the birth date agrees exactly), or a personal identifier agrees. Family name, address and phone
 * are shared by a household and cannot tell a person from their spouse or child, however well they agree.
 */
export function hasPersonEvidence(a: PreparedRecord, b: PreparedRecord): boolean {
  if (personalIdentifierAgrees(a, b)) return true;
  const given = compareGiven(a, b);
  const birth = compareBirthDate(a, b);
  if (given === 'null') return STRONG_BIRTH.has(birth);
  return given !== 'else' && AGREEING_BIRTH.has(birth);
}

/** Same street address or same phone: attributes a whole household shares. */
export function sharesHousehold(a: PreparedRecord, b: PreparedRecord): boolean {
  const address = compareAddress(a, b);
  return address === 'street_locality' || address === 'street' || (!!a.phone && a.phone === b.phone);
}

/** Without a birth date on both sides, names and a town are not enough: an identifier must agree too. */
export function lacksIdentityEvidence(a: PreparedRecord, b: PreparedRecord): boolean {
  if (a.birth && b.birth) return false;
  return !personalIdentifierAgrees(a, b) && !(!!a.phone && a.phone === b.phone);
}

/**
 * Both birth dates are January 1st, the date registries record when only the year is known, and nothing but names,
 * birth date and sex agrees (no identifier, phone, street or postal code; a town is shared by too many): namesakes born
 * in the same year cannot be told apart. Measured on historical_50k (Wikidata people, most with year-only dates): the
 * Person links' false pairs 1,655 → 454, no change on the other corpora (docs/MPI.md).
 */
export function yearOnlyBirthDates(a: PreparedRecord, b: PreparedRecord): boolean {
  const placeholder = (r: PreparedRecord) => r.birth?.m === 1 && r.birth.d === 1;
  if (!placeholder(a) || !placeholder(b)) return false;
  if (personalIdentifierAgrees(a, b) || compareEmail(a, b) === 'fuzzy') return false;
  const phone = comparePhone(a, b);
  if (phone === 'exact' || phone === 'one_digit') return false;
  const address = compareAddress(a, b);
  return address === 'null' || address === 'else' || address === 'city';
}

/** Safety rule that forbids auto-linking this pair, if any. */
export function safetyBlock(a: PreparedRecord, b: PreparedRecord): DecisionReason | undefined {
  if (ssnConflict(a, b)) return 'ssn-conflict';
  if (likelyTwins(a, b)) return 'possible-twin';

  if (sexConflict(a, b)) return 'sex-conflict';
  if (sharesHousehold(a, b) && !hasPersonEvidence(a, b)) return 'possible-household-member';
  if (lacksIdentityEvidence(a, b)) return 'insufficient-evidence';
  if (yearOnlyBirthDates(a, b)) return 'year-only-birth-date';
  return undefined;
}

/** Applies the model's thresholds to a pair's score; a safety rule turns an auto-link into a review. */
export function decidePrepared(a: PreparedRecord, b: PreparedRecord, result: ScoreResult, model: MatchModel): DecisionResult {
  const { upper, lower } = model.thresholds;
  if (result.weight < lower) return { decision: 'no-match', reason: 'below-lower-threshold' };
  const blocked = safetyBlock(a, b);
  if (blocked) return { decision: 'review', reason: blocked };
  if (result.weight >= upper) return { decision: 'auto-link', reason: 'above-upper-threshold' };
  return { decision: 'review', reason: 'between-thresholds' };
}

export function decide(a: MpiRecord, b: MpiRecord, result: ScoreResult, model: MatchModel): DecisionResult {
  return decidePrepared(prepare(a), prepare(b), result, model);
}
