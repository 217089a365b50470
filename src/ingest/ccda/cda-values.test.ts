import { describe, expect, it } from 'vitest';
import { effective, fhirDate, fhirDateTime, fhirInstant, systemFor } from './cda-values.ts';

describe('HL7 v3 TS → FHIR', () => {
  it('keeps the source precision', () => {
    expect(fhirDate('1999')).toBe('1999');
    expect(fhirDate('199911')).toBe('1999-11');
    expect(fhirDate('19540323000000.000-0600')).toBe('1954-03-23');
    expect(fhirDateTime('200803190830-0800')).toBe('2008-03-19T08:30:00-08:00');
    expect(fhirDateTime('20150622101005+0000')).toBe('2015-06-22T10:10:05+00:00');
  });

  it('reduces a time without a zone, or with an impossible zone, to its date', () => {
    expect(fhirDateTime('20120806120000')).toBe('2012-08-06');
    expect(fhirDateTime('201507222300-5000')).toBe('2015-07-22');
  });

  it('rejects impossible or malformed dates', () => {
    for (const bad of ['00000000', '20121301', '20120132', 'not-a-date', '2012-08-06', '']) expect(fhirDate(bad)).toBeUndefined();
  });

  it('instants are padded to midnight UTC only when the source has no time', () => {
    expect(fhirInstant('20130815')).toBe('2013-08-15T00:00:00Z');
    expect(fhirInstant('201308151030-0800')).toBe('2013-08-15T10:30:00-08:00');
  });

  it('effective times: value, low-only, and periods', () => {
    expect(effective([{ '@_value': '20120806' }])).toEqual({ dateTime: '2012-08-06' });
    expect(effective([{ low: { '@_value': '2012' } }])).toEqual({ dateTime: '2012' });
    expect(effective([{ low: { '@_value': '2012' }, high: { '@_value': '2013' } }])).toEqual({ period: { start: '2012', end: '2013' } });
    expect(effective(undefined)).toEqual({});
  });
});

describe('code systems', () => {
  it('corrects @medplum/ccda OID mappings that are wrong or missing', () => {
    expect(systemFor('2.16.840.1.113883.12.292')).toBe('http://hl7.org/fhir/sid/cvx');
    expect(systemFor('2.16.840.1.113883.6.90')).toBe('http://hl7.org/fhir/sid/icd-10-cm');
    expect(systemFor('2.16.840.1.113883.6.88')).toBe('http://www.nlm.nih.gov/research/umls/rxnorm');
    expect(systemFor('1.22.333.4')).toBe('urn:oid:1.22.333.4');
  });
});
