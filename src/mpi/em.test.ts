import { describe, expect, it } from 'vitest';
import { FIELD_LEVELS, FIELDS, type Comparison } from './compare.ts';
import { fitEm, fitPrior, toPatterns, type LevelProbs } from './em.ts';
import { seededRng } from './random.ts';

// A known two-class mixture over given, family and birthDate (agree / disagree only); other fields null.
const TRUE_M = { given: 0.9, family: 0.95, birthDate: 0.92 };
const TRUE_U = { given: 0.05, family: 0.02, birthDate: 0.01 };
const TRUE_LAMBDA = 0.3;

function simulate(n: number): Comparison[] {
  const rng = seededRng(7);
  const out: Comparison[] = [];
  for (let i = 0; i < n; i++) {
    const match = rng() < TRUE_LAMBDA;
    const c = {} as Comparison;
    for (const f of FIELDS) c[f] = 'null';
    for (const f of ['given', 'family', 'birthDate'] as const) {
      const p = match ? TRUE_M[f] : TRUE_U[f];
      c[f] = rng() < p ? 'exact' : 'else';
    }
    out.push(c);
  }
  return out;
}

function start(agree: number): LevelProbs {
  const out = {} as LevelProbs;
  for (const f of FIELDS) {
    const n = FIELD_LEVELS[f].length;
    out[f] = FIELD_LEVELS[f].map((_, i) => (i === 0 ? agree : i === n - 1 ? 1 - agree - 0.001 * (n - 2) : 0.001));
  }
  return out;
}

describe('EM', () => {
  const patterns = toPatterns(simulate(40_000));

  it('collapses comparisons into counted patterns', () => {
    expect(patterns.length).toBeLessThanOrEqual(8);
    expect(patterns.reduce((s, p) => s + p.count, 0)).toBe(40_000);
  });

  it('recovers m, u and the match share of a known mixture without labels', () => {
    const fit = fitEm(patterns, { initialM: start(0.7), initialU: start(0.2), initialLambda: 0.5, alpha: 0.01 });
    expect(fit.lambda).toBeCloseTo(TRUE_LAMBDA, 1);
    for (const f of ['given', 'family', 'birthDate'] as const) {
      expect(Math.abs(fit.m[f][0] - TRUE_M[f])).toBeLessThan(0.03);
      expect(Math.abs(fit.u[f][0] - TRUE_U[f])).toBeLessThan(0.03);
    }
  });

  it('fits the prior alone when m and u are known', () => {
    const m = start(0.9);
    const u = start(0.02);
    for (const f of ['given', 'family', 'birthDate'] as const) {
      m[f] = FIELD_LEVELS[f].map((l) => (l === 'exact' ? TRUE_M[f] : l === 'else' ? 1 - TRUE_M[f] : 1e-9));
      u[f] = FIELD_LEVELS[f].map((l) => (l === 'exact' ? TRUE_U[f] : l === 'else' ? 1 - TRUE_U[f] : 1e-9));
    }
    expect(fitPrior(patterns, m, u)).toBeCloseTo(TRUE_LAMBDA, 1);
  });
});
