import { describe, expect, it } from 'vitest';
import { areNicknames, canonicalNames, parseNicknames } from './nicknames.ts';

describe('nicknames', () => {
  it('relates nicknames to their full name and to each other', () => {
    expect(areNicknames('WILLIAM', 'BILL')).toBe(true);
    expect(areNicknames('BILL', 'WILLIAM')).toBe(true);
    expect(areNicknames('MARGARET', 'PEGGY')).toBe(true);
    expect(areNicknames('BOB', 'ROBBY')).toBe(true);
  });

  it('does not chain unrelated full names through a shared nickname', () => {
    expect(areNicknames('WILLIAM', 'ROBERT')).toBe(false);
    expect(areNicknames('JOHN', 'MARY')).toBe(false);
    expect(areNicknames('JOHN', 'JOHN')).toBe(false);
    expect(areNicknames('', 'JOHN')).toBe(false);
  });

  it('lists shared canonical names first', () => {
    expect(canonicalNames('PEGGY')).toContain('MARGARET');
    expect(canonicalNames('ZZYZX')).toEqual(['ZZYZX']);
  });

  it('parses the long CSV format and ignores other relations', () => {
    const table = parseNicknames('name1,relationship,name2\nalexander,has_nickname,alex\nalex,translation_of,alejandro\n');
    expect(table.get('ALEX')).toEqual(new Set(['ALEXANDER']));
    expect(table.has('ALEJANDRO')).toBe(false);
  });
});
