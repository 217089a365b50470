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

  it('uses Double Metaphone codes', () => {
    expect(metaphone('SMITH')[0]).toBe(metaphone('SMYTH')[0]);
    expect(phoneticMatch(metaphone('CATHERINE'), metaphone('KATHRYN'))).toBe(true);
    expect(phoneticMatch(metaphone('JONES'), metaphone('BROWN'))).toBe(false);
    expect(metaphone('')).toEqual(['', '']);
  });
});
