import { describe, expect, it } from 'vitest';
import type { Observation, Patient } from '@medplum/fhirtypes';
import { selectElements, summarize } from './elements.ts';

const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };

const observation: Observation = {
  resourceType: 'Observation', id: 'o1', meta: { versionId: '2' },
  text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">glucose</div>' },
  status: 'final', category: [{ text: 'laboratory' }], code: { text: 'glucose' }, subject: { reference: 'Patient/p1' },
  effectiveDateTime: '2024-05-01', issued: '2024-05-01T10:00:00Z', valueQuantity: { value: 5.4, unit: 'mmol/L' },
  interpretation: [{ text: 'normal' }], note: [{ text: 'fasting' }], referenceRange: [{ text: '4-6' }],
  component: [{ code: { text: 'part' }, valueString: 'x' }],
};

describe('_summary from the R4 isSummary flags', () => {
  it('true keeps exactly the summary elements (choices by their JSON names) plus id and meta, tagged SUBSETTED', () => {
    const out = summarize(observation, 'true');
    expect(Object.keys(out).sort()).toEqual(['code', 'component', 'effectiveDateTime', 'id', 'issued', 'meta', 'resourceType', 'status', 'subject', 'valueQuantity']);
    expect(out.meta).toEqual({ versionId: '2', tag: [SUBSETTED] });
    expect(observation.meta?.tag).toBeUndefined();
  });

  it('keeps a kept primitive\'s extension sibling and drops non-summary choices', () => {
    const patient = {
      resourceType: 'Patient', id: 'p1', name: [{ family: 'Lovelace' }], birthDate: '1815-12-10', _birthDate: { extension: [{ url: 'urn:x', valueString: 'y' }] },
      deceasedBoolean: true, multipleBirthInteger: 2, contact: [{ name: { family: 'Byron' } }], maritalStatus: { text: 'M' },
    } as Patient;
    expect(Object.keys(summarize(patient, 'true')).sort()).toEqual(['_birthDate', 'birthDate', 'deceasedBoolean', 'id', 'meta', 'name', 'resourceType']);
  });

  it('text keeps the narrative and the mandatory elements; data drops only the narrative', () => {
    expect(Object.keys(summarize(observation, 'text')).sort()).toEqual(['code', 'id', 'meta', 'resourceType', 'status', 'text']);
    const data = summarize(observation, 'data');
    expect('text' in data).toBe(false);
    expect({ ...data, meta: observation.meta }).toEqual({ ...observation, text: undefined, meta: observation.meta });
    expect(data.meta?.tag).toEqual([SUBSETTED]);
  });

  it('_elements keeps the named elements, id and meta', () => {
    expect(Object.keys(selectElements(observation, ['status', 'note'])).sort()).toEqual(['id', 'meta', 'note', 'resourceType', 'status']);
    expect(selectElements(observation, undefined)).toBe(observation);
  });
});
