import { describe, expect, it } from 'vitest';
import { blockKeys, buildBlockIndex, candidatePairs } from './blocking.ts';
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
});
