import { describe, expect, it } from 'vitest';
import { decide } from './decide.ts';
import { score, train, type MatchModel } from './model.ts';
import type { MpiRecord } from './normalize.ts';
import { rec, toyPopulation } from './test-records.ts';

const model: MatchModel = { ...train(toyPopulation(300).records, { seed: 3 }), thresholds: { upper: 14, lower: 4 } };
const judge = (a: MpiRecord, b: MpiRecord) => decide(a, b, score(a, b, model), model);

describe('decisions and safety rules', () => {
  it('auto-links a near-identical pair and rejects strangers', () => {
    expect(judge(rec({ id: 'a' }), rec({ id: 'b', phone: undefined }))).toEqual({ decision: 'auto-link', reason: 'above-upper-threshold' });
    const stranger = rec({ id: 'c', given: ['Kevin'], family: 'Nguyen', birthDate: '1990-01-01', ssn: '555443333', street: '9 Elm Rd', city: 'Bangor', postalCode: '04401', phone: '2079990000', email: 'k@x.org', sex: 'male' });
    expect(judge(rec({ id: 'a' }), stranger).decision).toBe('no-match');
  });

  it('never auto-links when SSNs differ by more than one digit', () => {
    expect(judge(rec({ id: 'a' }), rec({ id: 'b', ssn: '987654321' }))).toEqual({ decision: 'review', reason: 'ssn-conflict' });
    expect(judge(rec({ id: 'a' }), rec({ id: 'b', ssn: '123456780' })).decision).toBe('auto-link');
  });

  it('never auto-links likely twins', () => {
    const twin = rec({ id: 'b', given: ['Susan'], ssn: undefined, email: undefined });
    expect(judge(rec({ id: 'a', ssn: undefined }), twin)).toEqual({ decision: 'review', reason: 'possible-twin' });
    const nickname = rec({ id: 'b', given: ['Peggy'], ssn: undefined });
    expect(judge(rec({ id: 'a', ssn: undefined }), nickname).decision).toBe('auto-link');
  });

  it('never auto-links different sexes unless the SSN matches exactly', () => {
    expect(judge(rec({ id: 'a' }), rec({ id: 'b', sex: 'male', ssn: undefined }))).toEqual({ decision: 'review', reason: 'sex-conflict' });
    expect(judge(rec({ id: 'a' }), rec({ id: 'b', sex: 'male' })).decision).toBe('auto-link');
  });

  it('never auto-links household members on shared address and phone alone', () => {
    const spouse = rec({ id: 'b', given: ['Robert'], birthDate: '1958-11-30', sex: undefined, ssn: undefined, email: undefined });
    const result = judge(rec({ id: 'a', ssn: undefined, email: undefined }), spouse);
    expect(result.decision).not.toBe('auto-link');
  });

  it('needs an identifier when a birth date is missing', () => {
    const a = rec({ id: 'a', ssn: undefined, email: undefined, phone: undefined, street: undefined, sex: undefined });
    const b = { ...a, id: 'b', given: ['Margaret', 'Anne'], birthDate: undefined };
    const withDate = judge(a, { ...b, birthDate: a.birthDate });
    const withoutDate = judge(a, b);
    expect(withDate.decision).not.toBe('no-match');
    expect(withoutDate.decision).not.toBe('auto-link');
    expect(judge(a, { ...b, email: 'same@example.org' }).reason).not.toBe('insufficient-evidence');
  });

  it('needs more than names when both birth dates are January 1st (a year-only date)', () => {
    const a = rec({ id: 'a', birthDate: '1950-01-01', ssn: undefined, email: undefined, phone: undefined, street: undefined, postalCode: undefined });
    const b = { ...a, id: 'b' };
    expect(judge(a, b)).toEqual({ decision: 'review', reason: 'year-only-birth-date' });
    // A town alone is no corroboration; a street, phone or identifier is.
    expect(judge(a, { ...b, city: a.city }).reason).toBe('year-only-birth-date');
    expect(judge({ ...a, street: '12 Elm St' }, { ...b, street: '12 Elm Street' }).decision).toBe('auto-link');
    expect(judge({ ...a, phone: '2075551234' }, { ...b, phone: '2075551234' }).decision).toBe('auto-link');
    expect(judge({ ...a, ssn: '123456789' }, { ...b, ssn: '123456789' }).decision).toBe('auto-link');
    // A real date of birth on either side is evidence as before.
    expect(judge({ ...a, birthDate: '1950-03-14' }, { ...b, birthDate: '1950-03-14' }).decision).toBe('auto-link');
  });
});
