import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { blockKeys, blockMembers, buildBlockIndex, candidatePairs } from './blocking.ts';
import { rec } from './test-records.ts';

describe('blocking', () => {
  it('emits rule:value keys from several rules', () => {
    const keys = blockKeys(rec());
    const rules = new Set(keys.map((k) => k.split(':')[0]));
    for (const rule of ['df', 'dg', 'ssn', 'ph', 'em', 'pg', 'ad', 'nm', 'nn', 'd']) expect(rules).toContain(rule);
    expect(keys).toContain('ssn:123456789');
    expect(keys).toContain('ph:2075550134');
    expect(keys).toContain('pg:04101|M|1961');
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('puts transposed birth dates, swapped names and nicknames in a shared block', () => {
    const share = (a: string[], b: string[]) => a.some((k) => b.includes(k));
    const base = rec({ ssn: undefined, phone: undefined, email: undefined, street: undefined, postalCode: undefined });
    expect(share(blockKeys(base), blockKeys({ ...base, birthDate: '1961-12-04' }))).toBe(true);
    expect(share(blockKeys(base), blockKeys({ ...base, given: ['Thibodeau'], family: 'Margaret', birthDate: undefined }))).toBe(true);
    expect(share(blockKeys(base), blockKeys({ ...base, given: ['Peggy'], birthDate: undefined }))).toBe(true);
  });

  it('omits keys whose parts are missing', () => {
    const keys = blockKeys(rec({ ssn: undefined, phone: undefined, birthDate: undefined }));
    expect(keys.some((k) => k.startsWith('ssn:') || k.startsWith('ph:') || k.startsWith('df:'))).toBe(false);
    expect(blockKeys({ id: 'x', given: [], family: '' })).toEqual([]);
  });

  it('finds candidate pairs once and skips over-large blocks', () => {
    const records = [rec({ id: '1' }), rec({ id: '2' }), rec({ id: '3', given: ['Zed'], family: 'Q', ssn: '1', birthDate: undefined })];
    const pairs = candidatePairs(records);
    expect(pairs).toContainEqual([0, 1]);
    expect(new Set(pairs.map((p) => p.join())).size).toBe(pairs.length);
    expect(candidatePairs(records, 1)).toEqual([]);
    expect(buildBlockIndex(records, new Set(['ssn'])).get('ssn:123456789')).toEqual([0, 1]);
  });

  it('keeps members of blocks up to the cap, once each, in first-seen order', () => {
    const hits = [{ key: 'a', patient_id: '1' }, { key: 'b', patient_id: '2' }, { key: 'b', patient_id: '3' }, { key: 'a', patient_id: '2' }, { key: 'c', patient_id: '4' }];
    expect(blockMembers(hits, 2)).toEqual(['1', '2', '3', '4']);
    expect(blockMembers([...hits, { key: 'b', patient_id: '5' }], 2)).toEqual(['1', '2', '4']);
  });

  it('blockMembers agrees with candidatePairs: members are exactly the partners through blocks within the cap', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 9 }))), fc.integer({ min: 1, max: 4 }), (pairs, cap) => {
      const hits = [...new Map(pairs.map(([k, p]) => [`${k}/${p}`, { key: `k${k}`, patient_id: `p${p}` }])).values()];
      const sizes = new Map<string, number>();
      for (const h of hits) sizes.set(h.key, (sizes.get(h.key) ?? 0) + 1);
      const expected = new Set(hits.filter((h) => sizes.get(h.key)! <= cap).map((h) => h.patient_id));
      const got = blockMembers(hits, cap);
      expect(new Set(got)).toEqual(expected);
      expect(got.length).toBe(expected.size);
    }));
  });
});
