// Block keys: a record is a candidate for another when they share at least one `rule:value` key.
// Keys are plain strings so a link store can index them: (key text, patient_id text), `WHERE key = ANY($1)`.
import type { MpiRecord } from './normalize.ts';
import { canonicalNames } from './nicknames.ts';
import { prepare, type PreparedRecord } from './prepare.ts';

/** Blocks larger than this are too common to discriminate ("JOHN SMITH"); candidate retrieval skips them. */
export const MAX_BLOCK_SIZE = 200;

/**
 * Records a new record is scored against at most: those sharing the most block keys with it. A duplicate shares
 * most of its keys (date, names, identifiers, address); a namesake or a neighbour one or two, and there are more
 * of those the larger the index grows, so without a bound the work per record grew with N (35 candidates per
 * record at 100,000 generated records, 11 at 20,000). With 50, the 100,000 set lost 0.0004 recall, no precision.
 */
export const MAX_CANDIDATES = 50;

const pad = (n: number) => String(n).padStart(2, '0');

/** Birth date with day and month in sorted order, so a transposed date lands in the same block. */
function dateKey(p: PreparedRecord): string {
  const b = p.birth;
  if (!b) return '';
  return `${b.y}-${pad(Math.min(b.m, b.d))}-${pad(Math.max(b.m, b.d))}`;
}

function keysOf(p: PreparedRecord): string[] {
  const keys: string[] = [];
  const push = (rule: string, ...parts: string[]) => {
    if (parts.every((x) => x.length > 0)) keys.push(`${rule}:${parts.join('|')}`);
  };
  const date = dateKey(p);
  const year = p.birth ? String(p.birth.y) : '';
  push('df', date, p.familyMp[0]);
  push('dg', date, p.givenMp[0]);
  push('ssn', p.ssn);
  push('ph', p.phone);
  push('em', p.email);
  push('el', p.email.split('@')[0]);
  push('d', date);
  push('fy', p.familyMp[0], year);
  push('gy', p.givenMp[0], year);
  push('pg', p.postal, p.given.slice(0, 1), year);
  push('ad', p.postal, p.street);
  if (/\d/.test(p.street)) push('st', p.street);
  push('fc', p.familyMp[0], p.city);
  // Order-independent phonetic name pair: survives given/family swaps and spelling variants.
  if (p.givenMp[0] && p.familyMp[0]) push('nm', [p.givenMp[0], p.familyMp[0]].sort().join('~'));
  if (p.given && p.familyMp[0]) {
    for (const canonical of canonicalNames(p.given).slice(0, 8)) push('nn', canonical, p.familyMp[0]);
  }
  push('cg', p.city, p.given.slice(0, 1), year);
  return [...new Set(keys)];
}

/** All block keys of a record (`rule:value` strings, deduplicated). */
export function blockKeys(record: MpiRecord): string[] {
  return keysOf(prepare(record));
}

/** Index of key → record positions, for batch linking and evaluation; `rules` restricts the key kinds. */
export function buildBlockIndex(records: readonly MpiRecord[], rules?: ReadonlySet<string>): Map<string, number[]> {
  const index = new Map<string, number[]>();
  records.forEach((record, i) => {
    for (const key of blockKeys(record)) {
      if (rules && !rules.has(key.slice(0, key.indexOf(':')))) continue;
      const list = index.get(key);
      if (list) list.push(i);
      else index.set(key, [i]);
    }
  });
  return index;
}

/** Distinct candidate pairs `[i, j]` (i < j) sharing a block no larger than `maxBlockSize`. */
export function candidatePairs(
  records: readonly MpiRecord[],
  maxBlockSize = MAX_BLOCK_SIZE,
  rules?: ReadonlySet<string>,
): Array<[number, number]> {
  const n = records.length;
  const seen = new Set<number>();
  const pairs: Array<[number, number]> = [];
  for (const members of buildBlockIndex(records, rules).values()) {
    if (members.length < 2 || members.length > maxBlockSize) continue;
    for (let x = 0; x < members.length; x++) {
      for (let y = x + 1; y < members.length; y++) {
        const i = Math.min(members[x], members[y]);
        const j = Math.max(members[x], members[y]);
        const code = i * n + j;
        if (seen.has(code)) continue;
        seen.add(code);
        pairs.push([i, j]);
      }
    }
  }
  return pairs;
}
