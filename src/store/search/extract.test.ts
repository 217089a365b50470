import { evalFhirPathTyped, toTypedValue } from '@medplum/core';
import type { Observation, Patient, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { dateRange } from './date-range.ts';
import { evaluator, extractIndex, patientCompartmentRefs } from './extract.ts';
import { compileFastPath } from './fast-path.ts';
import { restrictExpression, searchParamsFor, splitUnion, supportedSearchParams } from './search-parameters.ts';
import { loadSynthea, syntheaPresent } from './synthea-fixture.ts';

const patient: Patient = {
  resourceType: 'Patient',
  id: 'p1',
  meta: { tag: [{ system: 'urn:t', code: 'demo' }], profile: ['http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient'] },
  identifier: [{ system: 'urn:mrn', value: 'M1', type: { coding: [{ system: 'urn:v2', code: 'MR' }] } }],
  name: [{ family: 'Núñez', given: ['José', 'María'] }],
  telecom: [{ system: 'phone', value: '555-1234' }, { system: 'email', value: 'j@x.org' }],
  gender: 'male',
  birthDate: '1970-03',
  deceasedBoolean: false,
  address: [{ line: ['1 Main St'], city: 'Bangor', state: 'ME', postalCode: '04401' }],
  generalPractitioner: [{ reference: 'Practitioner/dr1' }],
};

const obs: Observation = {
  resourceType: 'Observation',
  id: 'o1',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '718-7', display: 'Hemoglobin' }], text: 'Hgb' },
  subject: { reference: 'Patient/p1' },
  performer: [{ reference: 'https://other.org/fhir/Practitioner/dr2' }],
  effectivePeriod: { start: '2020-01-01T10:00:00Z' },
  valueQuantity: { value: 13.5, unit: 'g/dL', system: 'http://unitsofmeasure.org', code: 'g/dL' },
};

describe('search parameter definitions', () => {
  it('splits multi-type expressions per type and keeps resolve() targets', () => {
    expect(restrictExpression('Patient.name | Practitioner.name', 'Practitioner')).toBe('Practitioner.name');
    expect(restrictExpression('Resource.meta.tag', 'Patient')).toBe('Patient.meta.tag');
    expect(splitUnion("(A.b as C) | A.c.where(x='|')")).toEqual(['(A.b as C)', "A.c.where(x='|')"]);
    const patientParam = searchParamsFor('Observation').get('patient');
    expect(patientParam?.expression).toBe('Observation.subject.where(resolve() is Patient)');
    expect(patientParam?.targets).toEqual(['Patient']);
  });

  it('supportedSearchParams lists only what is indexed (no composite, no special)', () => {
    const names = supportedSearchParams('Observation').map((p) => p.name);
    expect(names).toContain('code');
    expect(names).toContain('_lastUpdated');
    expect(names).not.toContain('code-value-quantity');
    expect(supportedSearchParams('Location').map((p) => p.name)).not.toContain('near');
  });
});

describe('extractIndex', () => {
  it('indexes a Patient: names normalised, identifiers with type, dates at precision, references', () => {
    const ix = extractIndex(patient);
    const strings = ix.string.filter((s) => s.param === 'name').map((s) => s.value);
    expect(strings).toEqual(expect.arrayContaining(['nunez', 'jose', 'maria']));
    expect(ix.string.find((s) => s.param === 'family')).toEqual({ param: 'family', value: 'nunez', raw: 'Núñez' });
    expect(ix.token.find((t) => t.param === 'identifier')).toMatchObject({ system: 'urn:mrn', value: 'M1', typeSystem: 'urn:v2', typeCode: 'MR' });
    expect(ix.token.filter((t) => t.param === 'email').map((t) => t.value)).toEqual(['j@x.org']);
    // `Patient.deceased.exists() and Patient.deceased != false` evaluates to false here, which is what deceased=false finds.
    expect(ix.token.find((t) => t.param === 'deceased')).toMatchObject({ value: 'false' });
    expect(ix.token.find((t) => t.param === '_tag')).toMatchObject({ system: 'urn:t', value: 'demo' });
    expect(ix.uri.find((u) => u.param === '_profile')?.value).toContain('us-core-patient');
    expect(ix.date.find((d) => d.param === 'birthdate')).toEqual({ param: 'birthdate', lo: '1970-03-01T00:00:00.000Z', hi: '1970-04-01T00:00:00.000Z' });
    expect(ix.reference.find((r) => r.param === 'general-practitioner')).toEqual({ param: 'general-practitioner', targetType: 'Practitioner', targetId: 'dr1', ref: 'Practitioner/dr1' });
  });

  it('indexes a name given as text alone and an address without line or city', () => {
    const ix = extractIndex({ resourceType: 'Patient', id: 'p2', name: [{ text: 'Ana Lí' }], address: [{ state: 'ME', country: 'US' }] });
    expect(ix.string.filter((s) => s.param === 'name').map((s) => s.value)).toEqual(['ana li']);
    expect(ix.string.filter((s) => s.param === 'address').map((s) => s.value)).toEqual(['me', 'us']);
  });

  it('indexes an Observation: CodeableConcept text, open Period, quantity, absolute reference', () => {
    const ix = extractIndex(obs);
    expect(ix.token.filter((t) => t.param === 'code')).toEqual([
      { param: 'code', system: 'http://loinc.org', value: '718-7', display: 'hemoglobin' },
      { param: 'code', system: null, value: null, display: 'hgb' },
    ]);
    expect(ix.date.find((d) => d.param === 'date')).toEqual({ param: 'date', lo: '2020-01-01T10:00:00.000Z', hi: 'infinity' });
    expect(ix.quantity.find((q) => q.param === 'value-quantity')).toMatchObject({ value: '13.5', code: 'g/dL' });
    expect(ix.reference.find((r) => r.param === 'patient')).toMatchObject({ targetType: 'Patient', targetId: 'p1' });
    // Under this server's base an absolute reference is local; under another's it is only its URL.
    expect(extractIndex(obs, 'https://other.org/fhir/').reference.find((r) => r.param === 'performer')).toMatchObject({ targetType: 'Practitioner', targetId: 'dr2' });
    expect(ix.reference.find((r) => r.param === 'performer')).toEqual({ param: 'performer', targetType: null, targetId: null, ref: 'https://other.org/fhir/Practitioner/dr2' });
  });

  it('indexes a versioned reference as the resource, another server\'s without its version', () => {
    const versioned = (reference: string) => extractIndex({ ...obs, subject: { reference } }, 'https://hie.test/fhir').reference.find((r) => r.param === 'subject');
    expect(versioned('Patient/p1/_history/2')).toMatchObject({ targetType: 'Patient', targetId: 'p1' });
    expect(versioned('https://hie.test/fhir/Patient/p1/_history/2')).toMatchObject({ targetType: 'Patient', targetId: 'p1' });
    expect(versioned('https://other.org/fhir/Patient/p1/_history/2')).toEqual({ param: 'subject', targetType: null, targetId: null, ref: 'https://other.org/fhir/Patient/p1' });
  });

  it('patientCompartmentRefs: a local Patient only, never another server\'s of the same id', () => {
    expect(patientCompartmentRefs(obs)).toEqual(['Patient/p1']);
    expect(patientCompartmentRefs(patient)).toEqual(['Patient/p1']);
    expect(patientCompartmentRefs({ resourceType: 'Organization', id: 'x' })).toEqual([]);
    const at = (reference: string) => patientCompartmentRefs({ ...obs, subject: { reference } }, 'https://hie.test/fhir');
    expect(at('https://hie.test/fhir/Patient/p2')).toEqual(['Patient/p2']);
    expect(at('https://other.org/fhir/Patient/p2')).toEqual([]);
  });
});

describe('dateRange', () => {
  it.each([
    ['2020', '2020-01-01T00:00:00.000Z', '2021-01-01T00:00:00.000Z'],
    ['2020-02', '2020-02-01T00:00:00.000Z', '2020-03-01T00:00:00.000Z'],
    ['2020-12-31', '2020-12-31T00:00:00.000Z', '2021-01-01T00:00:00.000Z'],
    ['2020-06-01T10:00:00-04:00', '2020-06-01T14:00:00.000Z', '2020-06-01T14:00:01.000Z'],
    ['2020-06-01T10:00', '2020-06-01T10:00:00.000Z', '2020-06-01T10:01:00.000Z'],
    ['2020-06-01T10:00:00.123Z', '2020-06-01T10:00:00.123Z', '2020-06-01T10:00:00.124Z'],
  ])('%s', (text, lo, hi) => expect(dateRange(text)).toEqual({ lo, hi }));
  it.each(['2020-02-30', '2020-13', '20', 'x', '2020-01-01T25:00'])('rejects %s', (t) => expect(dateRange(t)).toBeUndefined());
});

describe.skipIf(!syntheaPresent)('fast path agrees with the FHIRPath engine on Synthea', () => {
  it('same values for every expression the fast path handles', () => {
    const sample = loadSynthea().flat().filter((_r, i) => i % 5 === 0);
    let compared = 0;
    for (const r of sample as Resource[]) {
      for (const def of searchParamsFor(r.resourceType).values()) {
        // @medplum/core's function-form `.as(T)` does not filter by type (onset.as(Age) yields onsetDateTime); ours does.
        if (def.column || def.expression.includes('.as(') || !compileFastPath(splitUnion(def.expression))) continue;
        const fast = evaluator(def.expression)([toTypedValue(r)]).map((t) => t.value);
        const slow = evalFhirPathTyped(def.expression, [toTypedValue(r)]).map((t) => t.value);
        expect(fast, `${r.resourceType}.${def.code}`).toEqual(slow);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(10_000);
  });
});
