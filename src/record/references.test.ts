import type { Bundle, DocumentReference, Observation } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { rewriteReferences, withReferences } from './references.ts';

const map = (ref: string) => (ref.startsWith('urn:uuid:') ? `Patient/${ref.slice(9, 13)}` : undefined);

describe('withReferences', () => {
  it('equals rewriteReferences on a deep copy and leaves the input as it was', () => {
    const observation = {
      resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '1' }] },
      subject: { reference: 'urn:uuid:abcd-1' }, performer: [{ reference: 'Practitioner/1' }, { reference: 'urn:uuid:ef01-2', display: 'x' }],
      note: [{ text: 'reference urn:uuid:abcd-1' }], derivedFrom: [null],
    } as unknown as Observation;
    const document: DocumentReference = {
      resourceType: 'DocumentReference', status: 'current', content: [{ attachment: { url: 'urn:uuid:1234-5' } }, { attachment: { url: 'http://example.org/x' } }],
    };
    const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: observation }, { resource: document }] };
    for (const value of [observation, document, bundle, [observation, 'urn:uuid:x'], 'urn:uuid:x', null]) {
      const before = structuredClone(value);
      const expected = structuredClone(value);
      rewriteReferences(expected, map);
      expect(withReferences(value, map)).toEqual(expected);
      expect(value).toEqual(before);
    }
  });

  it('shares every object it does not change', () => {
    const observation = { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'urn:uuid:abcd-1' } } as Observation;
    const out = withReferences(observation, map);
    expect(out).not.toBe(observation);
    expect(out.code).toBe(observation.code);
    expect(out.subject).toEqual({ reference: 'Patient/abcd' });
    expect(withReferences(observation, () => undefined)).toBe(observation);
  });
});
