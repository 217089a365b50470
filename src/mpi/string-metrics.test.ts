import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { damerauLevenshtein, jaro, jaroWinkler, metaphone, phoneticMatch } from './string-metrics.ts';

describe('string metrics', () => {
  it('computes textbook Jaro and Jaro-Winkler values', () => {
    expect(jaro('MARTHA', 'MARHTA')).toBeCloseTo(0.9444, 4);
    expect(jaroWinkler('MARTHA', 'MARHTA')).toBeCloseTo(0.9611, 4);
    expect(jaroWinkler('DIXON', 'DICKSONX')).toBeCloseTo(0.8133, 4);
    expect(jaroWinkler('', '')).toBe(0);
    expect(jaroWinkler('ABC', 'ABC')).toBe(1);
    expect(jaroWinkler('ABC', 'XYZ')).toBe(0);
  });

  it('is symmetric', () => {
    expect(jaroWinkler('CRATE', 'TRACE')).toBe(jaroWinkler('TRACE', 'CRATE'));
  });

  it('counts Damerau-Levenshtein edits including adjacent swaps, and stops at the bound', () => {
    expect(damerauLevenshtein('SMITH', 'SMITH')).toBe(0);
    expect(damerauLevenshtein('SMITH', 'SMIHT')).toBe(1);
    expect(damerauLevenshtein('SMITH', 'SMYTHE')).toBe(2);
    expect(damerauLevenshtein('KITTEN', 'SITTING')).toBe(3);
    expect(damerauLevenshtein('ABCDEFGH', 'ZZZZZZZZ', 2)).toBe(3);
    expect(damerauLevenshtein('A', 'ABCDE', 1)).toBe(2);
  });

  it('Damerau-Levenshtein with reused rows equals the textbook table, bounded or not, short or long, in any call order', () => {
    // Optimal string alignment, computed with a fresh full table.
    const reference = (a: string, b: string): number => {
      const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
      for (let i = 1; i <= a.length; i++) {
        for (let j = 1; j <= b.length; j++) {
          d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
          if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
        }
      }
      return d[a.length][b.length];
    };
    const text = fc.oneof(fc.string({ unit: fc.constantFrom('A', 'B', 'C'), maxLength: 12 }), fc.string({ unit: fc.constantFrom('A', 'B'), minLength: 250, maxLength: 300 }));
    fc.assert(fc.property(text, text, fc.option(fc.integer({ min: 0, max: 4 }), { nil: undefined }), (a, b, max) => {
      const exact = reference(a, b);
      expect(damerauLevenshtein(a, b, max)).toBe(max === undefined ? exact : Math.min(exact, max + 1));
    }), { numRuns: 300 });
  });

  it('uses Double Metaphone codes', () => {
    expect(metaphone('SMITH')[0]).toBe(metaphone('SMYTH')[0]);
    expect(phoneticMatch(metaphone('CATHERINE'), metaphone('KATHRYN'))).toBe(true);
    expect(phoneticMatch(metaphone('JONES'), metaphone('BROWN'))).toBe(false);
    expect(metaphone('')).toEqual(['', '']);
  });
});
