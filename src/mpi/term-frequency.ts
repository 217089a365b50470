// Name frequencies for the term-frequency adjustment: agreeing on SMITH is weaker evidence than on ZWOLINSKI.
import type { PreparedRecord } from './prepare.ts';

export interface TermFrequencies {
  /** Records counted. */
  total: number;
  /** Normalised first given name → count (only names seen at least twice, most frequent first). */
  given: Record<string, number>;
  family: Record<string, number>;
  /** Birth date → count: placeholder dates (01-01) are common and weigh less. */
  birthDate: Record<string, number>;
}

export type TfField = 'given' | 'family' | 'birthDate';

/** The value a term-frequency table is keyed by. */
export function tfValue(record: PreparedRecord, field: TfField): string {
  if (field !== 'birthDate') return record[field];
  const b = record.birth;
  return b ? `${b.y}-${b.m}-${b.d}` : '';
}

const MAX_ENTRIES = 50_000;

function topCounts(values: string[]): Record<string, number> {
  const counts = new Map<string, number>();
  for (const v of values) if (v) counts.set(v, (counts.get(v) ?? 0) + 1);
  const kept = [...counts.entries()].filter(([, c]) => c > 1).sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1));
  return Object.fromEntries(kept.slice(0, MAX_ENTRIES));
}

export function countTerms(records: readonly PreparedRecord[]): TermFrequencies {
  return {
    total: records.length,
    given: topCounts(records.map((r) => r.given)),
    family: topCounts(records.map((r) => r.family)),
    birthDate: topCounts(records.map((r) => tfValue(r, 'birthDate'))),
  };
}

/** Share of records carrying this value; undefined for values seen once or never (no reliable estimate). */
export function termFrequency(table: Record<string, number>, total: number, value: string): number | undefined {
  return Object.hasOwn(table, value) ? table[value] / Math.max(1, total) : undefined;
}
