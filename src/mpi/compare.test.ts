import { describe, expect, it } from 'vitest';
import {
  compareAddress, compareBirthDate, compareEmail, compareFamily, compareGiven, comparePhone, compareRecords, compareSex,
  compareSsn,
} from './compare.ts';
import { prepare } from './prepare.ts';
import { rec } from './test-records.ts';

const pair = (a: Parameters<typeof rec>[0], b: Parameters<typeof rec>[0]) => [prepare(rec(a)), prepare(rec(b))] as const;

describe('given name levels', () => {
  it.each([
    [['Margaret'], ['MARGARET'], 'exact'],
    [['Mary Ann'], ['Maryann'], 'exact'],
    [['Margaret'], ['Peggy'], 'nickname'],
    [['Margaret'], ['Margarte'], 'jw92'],
    [['Catherine'], ['Kathryn'], 'phonetic'],
    [['Jon'], ['Jan'], 'phonetic'],
    [['Marcus'], ['Marcel'], 'jw85'],
    [['M'], ['Margaret'], 'initial'],
    [['Margaret'], ['Susan'], 'else'],
    [[], ['Margaret'], 'null'],
  ])('%j vs %j → %s', (a, b, level) => {
    const [x, y] = pair({ given: a }, { given: b });
    expect(compareGiven(x, y)).toBe(level);
  });

  it('detects swapped given and family names and scores the swap once', () => {
    const [x, y] = pair({ given: ['Campbell'], family: 'Ryan' }, { given: ['Ryan'], family: 'Campbell' });
    expect(compareGiven(x, y)).toBe('swapped');
    expect(compareFamily(x, y)).toBe('null');
  });
});

describe('family name levels', () => {
  it.each([
    ['Thibodeau', 'THIBODEAU', 'exact'],
    ['Thibodeau', 'Thibodaeu', 'jw92'],
    ['Smith', 'Smyth', 'phonetic'],
    ['Knight', 'Nite', 'phonetic'],
    ['Garcia Lopez', 'Lopez', 'token'],
    ['Thibodeau', 'Nguyen', 'else'],
    ['', 'Nguyen', 'null'],
  ])('%s vs %s → %s', (a, b, level) => {
    const [x, y] = pair({ family: a }, { family: b });
    expect(compareFamily(x, y)).toBe(level);
  });
});

describe('birth date levels', () => {
  it.each([
    ['1961-04-12', '1961-04-12', 'exact'],
    ['1961-04-12', '1961-12-04', 'transposed'],
    ['1961-04-12', '1962-04-12', 'one_component'],
    ['1961-04-12', '1961-04-21', 'one_component'],
    ['1987-06-26', '1988-06-27', 'two_digits'],
    ['1961-04-12', '1961-09-30', 'year_only'],
    ['1961-04-12', '1975-09-30', 'else'],
    ['1961-04-12', 'unknown', 'null'],
  ])('%s vs %s → %s', (a, b, level) => {
    const [x, y] = pair({ birthDate: a }, { birthDate: b });
    expect(compareBirthDate(x, y)).toBe(level);
  });
});

describe('other fields', () => {
  it('compares sex, treating unknown as missing', () => {
    expect(compareSex(...pair({ sex: 'female' }, { sex: 'female' }))).toBe('exact');
    expect(compareSex(...pair({ sex: 'female' }, { sex: 'male' }))).toBe('else');
    expect(compareSex(...pair({ sex: 'unknown' }, { sex: 'male' }))).toBe('null');
  });

  it.each([
    ['123456789', '123-45-6789', 'exact'],
    ['123456789', '123456780', 'one_digit'],
    ['123456789', '123456798', 'one_digit'],
    ['123456789', '999996789', 'last_four'],
    ['123456789', '987654321', 'else'],
  ])('SSN %s vs %s → %s', (a, b, level) => {
    expect(compareSsn(...pair({ ssn: a }, { ssn: b }))).toBe(level);
  });

  it('compares address as one field of street, postal code and city', () => {
    expect(compareAddress(...pair({}, { street: '12 MAIN ST.' }))).toBe('street_locality');
    expect(compareAddress(...pair({}, { postalCode: '04102', city: 'Bangor' }))).toBe('street');
    expect(compareAddress(...pair({}, { street: '9 Elm Rd' }))).toBe('postal_city');
    expect(compareAddress(...pair({}, { street: '9 Elm Rd', city: 'Bangor' }))).toBe('postal');
    expect(compareAddress(...pair({}, { street: '9 Elm Rd', postalCode: '04401' }))).toBe('city');
    expect(compareAddress(...pair({}, { street: '9 Elm Rd', postalCode: '04401', city: 'Bangor' }))).toBe('else');
    expect(
      compareAddress(...pair({ street: undefined, city: undefined, postalCode: undefined }, {})),
    ).toBe('null');
  });

  it('compares phone and email', () => {
    expect(comparePhone(...pair({}, { phone: '(207) 555-0134' }))).toBe('exact');
    expect(comparePhone(...pair({}, { phone: '2075550135' }))).toBe('one_digit');
    expect(comparePhone(...pair({}, { phone: '6175551234' }))).toBe('else');
    expect(compareEmail(...pair({}, { email: 'MTHIB@example.org' }))).toBe('exact');
    expect(compareEmail(...pair({}, { email: 'mthibb@example.org' }))).toBe('fuzzy');
    expect(compareEmail(...pair({}, { email: 'someone@else.com' }))).toBe('else');
    expect(compareEmail(...pair({}, { email: undefined }))).toBe('null');
  });

  it('produces one level per field', () => {
    const levels = compareRecords(...pair({}, {}));
    expect(Object.values(levels).every((l) => l === 'exact' || l === 'street_locality')).toBe(true);
  });
});
