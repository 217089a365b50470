import { describe, expect, it } from 'vitest';
import { conditionalKey, ExistingKeys } from '../../src/record/conditional-locks.ts';

describe('conditional keys locked before a conditional create or update', () => {
  it('spells a key the same whatever the percent-encoding of the query', () => {
    expect(conditionalKey('Patient', 'identifier=urn%3Aoid%3A1.2|A%20B')).toBe(conditionalKey('Patient', 'identifier=urn:oid:1.2|A B'));
  });

  it('remembers existing keys up to its capacity, forgetting the least recently seen first', () => {
    const keys = new ExistingKeys(2);
    keys.add('a');
    keys.add('b');
    keys.add('a');
    keys.add('c');
    expect([keys.has('a'), keys.has('b'), keys.has('c')]).toEqual([true, false, true]);
    keys.delete('a');
    expect(keys.has('a')).toBe(false);
  });
});
