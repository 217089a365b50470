import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blockKeys } from './blocking.ts';
import { clusterLinks, pairwiseMetrics } from './cluster.ts';
import { decide } from './decide.ts';
import { score, train } from './model.ts';
import type { MpiRecord } from './normalize.ts';
import { rec, toyPopulation } from './test-records.ts';

const toy = toyPopulation(300);
const model = train(toy.records, { seed: 5, now: new Date(0) });

const text = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.constantFrom('', ' ', '-', "O'Neil", 'José', '李小龍', 'x'.repeat(5000)));
const arbRecord: fc.Arbitrary<MpiRecord> = fc.record({
  id: fc.string(),
  given: fc.array(text, { maxLength: 3 }),
  family: text,
  birthDate: fc.option(fc.oneof(text, fc.constantFrom('2000-02-30', '1999-13-45', '0000-00-00', '2001-01-01')), { nil: undefined }),
  sex: fc.option(fc.constantFrom('male', 'female', 'other', 'unknown') as fc.Arbitrary<MpiRecord['sex'] & string>, { nil: undefined }),
  ssn: fc.option(fc.oneof(text, fc.stringMatching(/^\d{9}$/)), { nil: undefined }),
  street: fc.option(text, { nil: undefined }),
  city: fc.option(text, { nil: undefined }),
  postalCode: fc.option(text, { nil: undefined }),
  phone: fc.option(text, { nil: undefined }),
  email: fc.option(text, { nil: undefined }),
});

describe('model', () => {
  it('is a versioned, JSON-serialisable object that scores the same after a round trip', () => {
    const copy = JSON.parse(JSON.stringify(model));
    expect(copy.version).toBe(1);
    expect(copy.trainedAt).toBe('1970-01-01T00:00:00.000Z');
    expect(score(toy.records[0], toy.records[1], copy)).toEqual(score(toy.records[0], toy.records[1], model));
  });

  it('learns that agreement is evidence for and disagreement against a match', () => {
    for (const field of ['given', 'family', 'birthDate', 'ssn'] as const) {
      const levels = model.fields[field];
      const w = (l: string) => {
        const p = levels.find((x) => x.level === l)!;
        return Math.log2(p.m / p.u);
      };
      expect(w('exact')).toBeGreaterThan(3);
      expect(w('else')).toBeLessThan(0);
    }
  });

  it('gives a common surname less weight than a rare one (term frequency)', () => {
    const common = { ...model, tf: { ...model.tf, family: { ...model.tf.family, SMITH: model.tf.total / 10 } } };
    const a = rec({ id: 'a', family: 'Smith' });
    const b = rec({ id: 'b', family: 'Smith' });
    const family = (m: typeof model) => score(a, b, m).explanation.find((e) => e.field === 'family')!.weight;
    const rare = { ...model, tf: { ...model.tf, family: {} } };
    expect(family(common)).toBeLessThan(family(rare));
  });

  it('explains the weight field by field, missing fields contributing 0', () => {
    const result = score(rec({ id: 'a', email: undefined }), rec({ id: 'b' }), model);
    const sum = result.explanation.reduce((s, e) => s + e.weight, 0);
    expect(result.weight).toBeCloseTo(sum, 9);
    expect(result.explanation.find((e) => e.field === 'email')).toEqual({ field: 'email', level: 'null', weight: 0 });
    expect(result.probability).toBeGreaterThan(0.99);
  });

  it('links the toy population with high precision and recall', () => {
    const index = new Map(toy.records.map((r, i) => [r.id, i]));
    const links: Array<[number, number]> = [];
    toy.records.forEach((r, i) => {
      const keys = new Set(blockKeys(r));
      toy.records.forEach((s, j) => {
        if (j <= i || !blockKeys(s).some((k) => keys.has(k))) return;
        if (decide(r, s, score(r, s, model), model).decision === 'auto-link') links.push([i, j]);
      });
    });
    const metrics = pairwiseMetrics(clusterLinks(toy.records.length, links), toy.truth);
    expect(index.size).toBe(600);
    expect(metrics.precision).toBe(1);
    expect(metrics.recall).toBeGreaterThan(0.95);
  });
});

describe('properties', () => {
  it('scoring and deciding are symmetric', () => {
    fc.assert(
      fc.property(arbRecord, arbRecord, (a, b) => {
        const ab = score(a, b, model);
        const ba = score(b, a, model);
        expect(ba.weight).toBe(ab.weight);
        expect(ba.explanation).toEqual(ab.explanation);
        expect(decide(b, a, ba, model)).toEqual(decide(a, b, ab, model));
      }),
      { numRuns: 300 },
    );
  });

  it('is symmetric for realistic near-duplicates too', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 599 }), fc.integer({ min: 0, max: 599 }), (i, j) => {
        const [a, b] = [toy.records[i], toy.records[j]];
        expect(score(a, b, model).weight).toBe(score(b, a, model).weight);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on garbage input and always returns finite numbers', () => {
    fc.assert(
      fc.property(arbRecord, arbRecord, (a, b) => {
        const result = score(a, b, model);
        expect(Number.isFinite(result.weight)).toBe(true);
        expect(result.probability).toBeGreaterThanOrEqual(0);
        expect(result.probability).toBeLessThanOrEqual(1);
        expect(Array.isArray(blockKeys(a))).toBe(true);
        decide(a, b, result, model);
      }),
      { numRuns: 300 },
    );
  });
});
