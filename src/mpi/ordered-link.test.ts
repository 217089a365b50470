import { describe, expect, it } from 'vitest';
import { AMBIGUOUS_PERSONS, chooseLink, type Candidate } from './link-choice.ts';
import { linkInOrder } from './ordered-link.ts';
import { score } from './model.ts';
import type { ScoreResult } from './model.ts';
import { readFileSync } from 'node:fs';
import type { MatchModel } from './model.ts';
import type { MpiRecord } from './normalize.ts';
import { rec } from './test-records.ts';

const shipped = (): MatchModel => JSON.parse(readFileSync(new URL('./data/default-model.json', import.meta.url), 'utf8')) as MatchModel;

const cand = (patientId: string, personId: string, decision: 'auto-link' | 'review' | 'no-match', weight: number): Candidate => ({
  patientId, personId, record: { id: patientId, given: [], family: '' },
  result: { weight, probability: 0.5, explanation: [] } as ScoreResult,
  decision: { decision, reason: decision === 'auto-link' ? 'above-upper-threshold' : decision === 'review' ? 'between-thresholds' : 'below-lower-threshold' },
});

describe('chooseLink', () => {
  it('follows the best auto-link when all auto-links point at one person', () => {
    const c = chooseLink([cand('a', 'P1', 'auto-link', 20), cand('b', 'P1', 'auto-link', 25), cand('c', 'P2', 'review', 8)], undefined);
    expect(c.best?.patientId).toBe('b');
    expect(c.tasks.map((t) => [t.candidate.patientId, t.reason])).toEqual([['c', 'between-thresholds']]);
  });

  it('sends auto-links into two persons to review and follows none', () => {
    const c = chooseLink([cand('a', 'P1', 'auto-link', 30), cand('b', 'P2', 'auto-link', 18), cand('z', 'P3', 'no-match', 1)], 'P0');
    expect(c.best).toBeUndefined();
    expect(c.autoLinkPersons).toBe(2);
    expect(c.tasks.map((t) => [t.candidate.patientId, t.reason])).toEqual([['a', AMBIGUOUS_PERSONS], ['b', AMBIGUOUS_PERSONS]]);
  });

  it('raises no task against the person the record stays in', () => {
    const c = chooseLink([cand('a', 'P0', 'auto-link', 30), cand('b', 'P2', 'auto-link', 18)], 'P0');
    expect(c.tasks.map((t) => t.candidate.patientId)).toEqual(['b']);
  });
});

describe('linkInOrder', () => {
  const model = shipped();
  const scoreOf = (a: MpiRecord, b: MpiRecord) => score(a, b, model);
  let next = 0;
  const newPersonId = () => `N${next++}`;

  it('makes the write path decisions: duplicates join, strangers stay apart', () => {
    const recs = [rec({ id: '1' }), rec({ id: '2', phone: undefined }), rec({ id: '3', given: ['Roland'], family: 'Daigle', birthDate: '1990-07-19', sex: 'male', ssn: '987654321', street: '4 Oak Ave', phone: '2075559999', email: 'rd@example.org' })];
    const r = linkInOrder(recs, model, { newPersonId });
    expect(r.persons[1]).toBe(r.persons[0]);
    expect(r.persons[2]).not.toBe(r.persons[0]);
  });

  it('keeps steward-confirmed persons and honours not-link pairs', () => {
    const recs = [rec({ id: '1' }), rec({ id: '2' }), rec({ id: '3' })];
    const r = linkInOrder(recs, model, { newPersonId, fixed: new Map([[1, 'CONFIRMED']]), notLinks: new Set(['0:2', '1:2']) });
    expect(r.persons[1]).toBe('CONFIRMED');
    expect(r.persons[2]).not.toBe(r.persons[0]);
    expect(r.persons[2]).not.toBe('CONFIRMED');
  });

  it('scores only the candidates sharing the most block keys, ties by id, when there are more than the limit', () => {
    // "z" shares only the household (address, phone); "y" is a duplicate sharing nearly every key; "x" is "y" again.
    const household = rec({ id: 'z', given: ['Roland'], birthDate: '1990-07-19', sex: 'male', ssn: undefined, email: undefined });
    const recs = [household, rec({ id: 'y' }), rec({ id: 'x' }), rec({ id: 'w' })];
    const all = linkInOrder(recs, model, { newPersonId });
    const limited = linkInOrder(recs, model, { newPersonId, maxCandidates: 1 });
    expect(all.candidatePairs).toBe(1 + 2 + 3);
    expect(limited.candidatePairs).toBe(1 + 1 + 1);
    // The last record is scored against the earlier duplicate with the smallest id among those sharing most keys.
    expect(limited.persons[3]).toBe(limited.persons[1]);
    expect(limited.persons[2]).toBe(limited.persons[1]);
    expect(limited.linkedBy[3]).toEqual(scoreOf(recs[3], recs[2]));
  });
});
