import type { Patient } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import {
  normEmail, normName, normPhone, normPostal, normSsn, normStreet, normText, parseDate, patientToRecord,
} from './normalize.ts';
import { prepare } from './prepare.ts';

describe('normalisation', () => {
  it('strips diacritics and punctuation and upper-cases', () => {
    expect(normText('  José-María  O’Brien ')).toBe('JOSE MARIA O BRIEN');
    expect(normName("D'Angelo-Smith")).toBe('DANGELOSMITH');
    expect(normText('Ｍüller')).toBe('MULLER');
  });

  it('leaves titles, honours and ordinals out of the names it compares', () => {
    const p = prepare({ id: 'x', given: ['Sir', 'John'], family: "O'Neil-Smith" });
    expect([p.given, p.givenTokens, p.family]).toEqual(['JOHN', ['JOHN'], 'ONEILSMITH']);
    const title = prepare({ id: 'y', given: ['1st'], family: 'Bt.' });
    expect([title.given, title.family, title.familyTokens]).toEqual(['', '', []]);
    expect(prepare({ id: 'z', given: ['Dr. Ada'], family: 'Lovelace' }).given).toBe('ADA');
  });

  it('abbreviates street words', () => {
    expect(normStreet('12 Main Street')).toBe(normStreet('12 MAIN ST.'));
    expect(normStreet('4 Elm Avenue, Apartment 2')).toBe('4 ELM AVE APT 2');
  });

  it('normalises phone, postal code, email and SSN', () => {
    expect(normPhone('+1 (207) 555-0134')).toBe('2075550134');
    expect(normPhone('12')).toBe('');
    expect(normPostal('04101-1234')).toBe('04101');
    expect(normPostal('sw1p 4lg')).toBe('SW1P4LG');
    expect(normEmail(' Jane.Doe@Example.ORG ')).toBe('jane.doe@example.org');
    expect(normEmail('not an email')).toBe('');
    expect(normSsn('123-45-6789')).toBe('123456789');
    expect(normSsn('000-00-0000')).toBe('');
  });

  it('parses dates into components without range checks', () => {
    expect(parseDate('1980-02-30')).toEqual({ y: 1980, m: 2, d: 30 });
    expect(parseDate('19800230')).toEqual({ y: 1980, m: 2, d: 30 });
    expect(parseDate('yesterday')).toBeUndefined();
    expect(parseDate(undefined)).toBeUndefined();
  });

  it('maps a FHIR Patient to a record', () => {
    const patient: Patient = {
      resourceType: 'Patient',
      id: 'p1',
      name: [{ use: 'old', family: 'Old' }, { use: 'official', given: ['Jane', 'Q'], family: 'Doe' }],
      birthDate: '1970-01-02',
      gender: 'female',
      identifier: [{ system: 'urn:mrn', value: 'X1' }, { system: 'http://hl7.org/fhir/sid/us-ssn', value: '123-45-6789' }],
      address: [{ line: ['1 Main St', 'Apt 2'], city: 'Portland', postalCode: '04101' }],
      telecom: [{ system: 'email', value: 'jd@example.org' }, { system: 'phone', value: '207-555-0100' }],
    };
    expect(patientToRecord(patient)).toEqual({
      id: 'p1', given: ['Jane', 'Q'], family: 'Doe', birthDate: '1970-01-02', sex: 'female', ssn: '123456789',
      street: '1 Main St Apt 2', city: 'Portland', postalCode: '04101', phone: '207-555-0100', email: 'jd@example.org',
    });
    expect(patientToRecord({ resourceType: 'Patient' })).toMatchObject({ id: '', given: [], family: '' });
  });
});
