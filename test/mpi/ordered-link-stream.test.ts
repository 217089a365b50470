// The streamed ordered linker (compact block index and prepared forms, one record at a time) against the pass it
// replaced (test/mpi/reference-link.ts): identical persons, linking scores, review tasks and candidate counts on a
// generated population, with and without a small candidate limit, confirmed links and not-link pairs.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generatePopulation } from '../../bench/mpi/population.ts';
import type { MatchModel } from '../../src/mpi/model.ts';
import { linkInOrder, pairKey, type OrderedLinkOptions } from '../../src/mpi/ordered-link.ts';
import { referenceLinkInOrder } from './reference-link.ts';

const model = JSON.parse(readFileSync(new URL('../../src/mpi/data/default-model.json', import.meta.url), 'utf8')) as MatchModel;

describe('streamed ordered linking', () => {
  const records = generatePopulation({ size: 4000, seed: 7 }).map((r) => r.record);

  const both = (opts: Omit<OrderedLinkOptions, 'newPersonId'>) => {
    const counter = () => { let n = 0; return () => `P${n++}`; };
    return [referenceLinkInOrder(records, model, { ...opts, newPersonId: counter() }), linkInOrder(records, model, { ...opts, newPersonId: counter() })];
  };

  it('makes the decisions of the unstreamed pass on a generated population', () => {
    const [reference, streamed] = both({});
    expect(reference.tasks.length).toBeGreaterThan(1000);
    expect(new Set(reference.persons).size).toBeLessThan(records.length * 0.7);
    expect(streamed).toEqual(reference);
  });

  it('with a small candidate limit and block cap (ties broken by id), confirmed persons and not-link pairs', () => {
    const fixed = new Map<number, string>();
    for (let i = 5; i < records.length; i += 97) fixed.set(i, `C${i % 3}`);
    const plain = both({});
    const notLinks = new Set(plain[0].tasks.filter((_, k) => k % 5 === 0).map((t) => pairKey(t.a, t.b)));
    for (let i = 1; i < records.length; i += 13) {
      const p = plain[0].persons.indexOf(plain[0].persons[i]);
      if (p < i) notLinks.add(pairKey(p, i));
    }
    const [reference, streamed] = both({ maxCandidates: 3, maxBlockSize: 20, fixed, notLinks });
    expect(streamed).toEqual(reference);
    expect(reference.persons).not.toEqual(plain[0].persons);
  });
});
