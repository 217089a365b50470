// String similarity used by the comparison levels. Inputs are already normalised and length-capped.
import { doubleMetaphone } from 'double-metaphone';

// Reused match flags: jaro runs millions of times in training, and inputs are capped at 100 characters.
const A_FLAGS = new Uint8Array(256);
const B_FLAGS = new Uint8Array(256);

/** Jaro similarity; arguments are ordered first so the greedy matching is exactly symmetric. */
export function jaro(s1: string, s2: string): number {
  const [a, b] = s1 <= s2 ? [s1, s2] : [s2, s1];
  if (a === b) return a.length === 0 ? 0 : 1;
  if (a.length === 0 || b.length === 0) return 0;
  const window = Math.max(0, Math.floor(Math.max(a.length, b.length) / 2) - 1);
  const long = a.length > A_FLAGS.length || b.length > B_FLAGS.length;
  const aMatched = long ? new Uint8Array(a.length) : A_FLAGS.fill(0, 0, a.length);
  const bMatched = long ? new Uint8Array(b.length) : B_FLAGS.fill(0, 0, b.length);
  let matches = 0;
  for (let i = 0; i < a.length; i++) {
    const lo = Math.max(0, i - window);
    const hi = Math.min(b.length - 1, i + window);
    for (let j = lo; j <= hi; j++) {
      if (bMatched[j] || a[i] !== b[j]) continue;
      aMatched[i] = 1;
      bMatched[j] = 1;
      matches++;
      break;
    }
  }
  if (matches === 0) return 0;
  let transpositions = 0;
  let k = 0;
  for (let i = 0; i < a.length; i++) {
    if (!aMatched[i]) continue;
    while (!bMatched[k]) k++;
    if (a[i] !== b[k]) transpositions++;
    k++;
  }
  const t = transpositions / 2;
  return (matches / a.length + matches / b.length + (matches - t) / matches) / 3;
}

/** Jaro-Winkler with the standard prefix scale 0.1 over at most 4 characters. */
export function jaroWinkler(a: string, b: string): number {
  const j = jaro(a, b);
  let prefix = 0;
  const limit = Math.min(4, a.length, b.length);
  while (prefix < limit && a[prefix] === b[prefix]) prefix++;
  return j + prefix * 0.1 * (1 - j);
}

// Reused rows for damerauLevenshtein (it runs for SSN, phone, email and date pairs of every candidate).
const ROWS = [new Int32Array(257), new Int32Array(257), new Int32Array(257)];

/**
 * Damerau-Levenshtein distance (optimal string alignment: insert, delete, substitute, swap adjacent).
 * Returns `max + 1` as soon as the distance is known to exceed `max`, so a bound keeps it cheap: only the cells
 * within `max` of the diagonal are computed (any path through another cell costs more than `max`).
 */
export function damerauLevenshtein(a: string, b: string, max = Number.POSITIVE_INFINITY): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  if (a === b) return 0;
  const n = b.length;
  const band = Number.isFinite(max) ? max : Math.max(a.length, n);
  const over = band + 1;
  const long = n + 2 > ROWS[0].length;
  let prevPrev = long ? new Int32Array(n + 2) : ROWS[0];
  let prev = long ? new Int32Array(n + 2) : ROWS[1];
  let cur = long ? new Int32Array(n + 2) : ROWS[2];
  for (let j = 0; j <= Math.min(n, band); j++) prev[j] = j;
  if (band < n) prev[band + 1] = over;
  for (let i = 1; i <= a.length; i++) {
    const lo = Math.max(1, i - band);
    const hi = Math.min(n, i + band);
    cur[lo - 1] = lo === 1 ? i : over;
    // The next row reads the cell just past this row's band: it must count as out of reach.
    if (hi < n) cur[hi + 1] = over;
    let rowMin = lo === 1 ? i : over;
    for (let j = lo; j <= hi; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, prevPrev[j - 2] + 1);
      cur[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > max) return max + 1;
    const spare = prevPrev;
    prevPrev = prev;
    prev = cur;
    cur = spare;
  }
  return Math.min(prev[n], max + 1);
}

/** Double Metaphone primary and alternate codes ('' for empty input). */
export function metaphone(value: string): [string, string] {
  if (value.length === 0) return ['', ''];
  return doubleMetaphone(value);
}

/** True when any Double Metaphone code of one equals any code of the other. */
export function phoneticMatch(a: [string, string], b: [string, string]): boolean {
  if (!a[0] || !b[0]) return false;
  return a[0] === b[0] || a[0] === b[1] || a[1] === b[0] || (a[1] !== '' && a[1] === b[1]);
}
