import type { Bundle, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { ingestCcda } from './convert.ts';
import { hasCcdaCorpus, NOW, readCorpus } from './test-corpus.ts';

/** Loose view for assertions on converted resources (fields are checked with toMatchObject/toEqual). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read nested fields of many resource types
type R = Resource & Record<string, any>;

function convert(file: string): R[] {
  const result = ingestCcda(readCorpus(file), { now: NOW });
  if (!result.ok) throw new Error(`${file}: ${result.error.code}`);
  return ((result.bundle as Bundle).entry ?? []).map((e) => e.resource as R);
}
const all = (rs: R[], type: string) => rs.filter((r) => r.resourceType === type);
const codes = (rs: R[], type: string, field: string) => all(rs, type).flatMap((r) => (r[field]?.coding ?? []).map((c: { code: string }) => c.code));
const patient = (rs: R[]) => all(rs, 'Patient')[0];

// Every expected value below was read from the source XML (see the grep notes in docs/INGESTION.md).
describe.skipIf(!hasCcdaCorpus)('C-CDA spot checks against the source XML', () => {
  it('Discharge_Summary: a reaction graded "Moderate to severe" (371924009) keeps a severity, rounded up', () => {
    const penicillin = all(convert('hl7-examples/documents/Discharge_Summary.xml'), 'AllergyIntolerance').find((a) => a.code.coding[0].code === '7980');
    expect(penicillin?.reaction).toEqual([expect.objectContaining({ manifestation: [expect.objectContaining({ coding: [expect.objectContaining({ code: '73879007' })] })], severity: 'severe' })]);
  });

  it('CCD_1 (HL7 example): demographics, SSN, problem, RxNorm, lab value, CVX, allergy', () => {
    const rs = convert('hl7-examples/documents/CCD_1.xml');
    expect(patient(rs)).toMatchObject({ birthDate: '1975-05-01', gender: 'female', name: [{ family: 'Betterhalf', given: ['Eve'] }, { family: 'Everywoman' }] });
    expect(patient(rs).identifier).toEqual([{ system: 'http://hl7.org/fhir/sid/us-ssn', value: '444222222' }]);
    expect(codes(rs, 'Condition', 'code')).toContain('233604007');
    expect(codes(rs, 'MedicationStatement', 'medicationCodeableConcept')).toContain('573621');
    const hgb = all(rs, 'Observation').find((o) => o.code.coding[0].code === '718-7');
    expect(hgb).toMatchObject({ valueQuantity: { value: 13.2, unit: 'g/dL' }, effectiveDateTime: '2008-03-19T08:30:00-08:00' });
    expect(hgb?.referenceRange[0]).toMatchObject({ low: { value: 12 }, high: { value: 15.5 } });
    const flu = all(rs, 'Immunization').find((i) => i.vaccineCode.coding[0].code === '88');
    expect(flu).toMatchObject({ vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx' }] }, occurrenceDateTime: '1999-11', status: 'completed' });
    expect(all(rs, 'AllergyIntolerance')[0]).toMatchObject({ code: { coding: [{ code: '70618' }] }, reaction: [{ severity: 'mild' }] });
  });

  it('ONC gold sample 1: Caroline Helberg, hypothyroidism, cefpodoxime, Td vaccine, WBC', () => {
    const rs = convert('onc-cures/gold/170.315_b1_toc_gold_sample1_v6.xml');
    expect(patient(rs)).toMatchObject({ birthDate: '1970-05-01', gender: 'female' });
    expect(patient(rs).name[0]).toMatchObject({ family: 'Helberg', given: ['Caroline', 'Richard'] });
    expect(codes(rs, 'Condition', 'code')).toContain('83986005');
    expect(codes(rs, 'MedicationStatement', 'medicationCodeableConcept')).toContain('309078');
    expect(codes(rs, 'Immunization', 'vaccineCode')).toContain('106');
    const wbc = all(rs, 'Observation').find((o) => o.code.coding[0].code === '33765-9');
    expect(wbc?.valueQuantity).toEqual({ value: 12.3, unit: '10*3/uL', system: 'http://unitsofmeasure.org', code: '10*3/uL' });
    expect(all(rs, 'AllergyIntolerance')[0]).toMatchObject({ category: ['medication'], code: { coding: [{ code: '7982' }] } });
  });

  it('Kinsights: 19 CVX immunizations for a child born 2011-04-01', () => {
    const rs = convert('chb-sample-ccdas/kinsights_timmy.xml');
    expect(patient(rs)).toMatchObject({ birthDate: '2011-04-01', gender: 'male', name: [{ family: 'Wilkinson', given: ['Timmy'] }] });
    const imms = all(rs, 'Immunization');
    expect(imms).toHaveLength(19);
    expect(imms.every((i) => i.vaccineCode.coding[0].system === 'http://hl7.org/fhir/sid/cvx')).toBe(true);
  });

  it('Cerner: birthTime with a zone keeps the day; ICD-9 problem; RxNorm med completed', () => {
    const rs = convert('chb-sample-ccdas/cerner_problems-and-medications.xml');
    expect(patient(rs)).toMatchObject({ birthDate: '1954-03-23', name: [{ family: 'Wade', given: ['Victoria', 'E'] }] });
    expect(all(rs, 'Condition')[0].code.coding[0]).toMatchObject({ system: 'http://hl7.org/fhir/sid/icd-9-cm', code: '434.91' });
    expect(all(rs, 'MedicationStatement').find((m) => m.medicationCodeableConcept.coding[0].code === '314076')?.status).toBe('completed');
  });

  it('EMERGE Patient-0: name parts with qualifiers, SNOMED+ICD-10 translations, lab range text', () => {
    const rs = convert('chb-sample-ccdas/emerge_Patient-0.xml');
    expect(patient(rs)).toMatchObject({ birthDate: '1940-08-05', name: [{ use: 'official', family: 'Maxwell', given: ['Bernice'] }] });
    expect(all(rs, 'Condition')[0].code.coding.map((c: { code: string }) => c.code)).toEqual(['59621000', 'I10', '401.9']);
    expect(all(rs, 'Observation').find((o) => o.code.coding[0].code === '14646-4')).toMatchObject({ valueQuantity: { value: 55, unit: 'mg/dL' }, referenceRange: [{ text: '>=40 mg/dL' }] });
    expect(codes(rs, 'Immunization', 'vaccineCode')).toContain('135');
  });

  it('Partners: local identifiers keep their OID system; WBC 7.6 K/uL', () => {
    const rs = convert('chb-sample-ccdas/partners_ccda.xml');
    expect(patient(rs).identifier[0]).toEqual({ system: 'urn:oid:1.3.6.1.4.1.16517', value: '900646017' });
    expect(all(rs, 'Observation').find((o) => o.code.coding[0].code === '6690-2')?.valueQuantity).toMatchObject({ value: 7.6, unit: 'K/uL' });
  });

  it('History and Physical: document type, date with zone, sig text, encompassing encounter', () => {
    const rs = convert('hl7-examples/documents/History_and_Physical.xml');
    const doc = all(rs, 'DocumentReference')[0];
    expect(doc).toMatchObject({ type: { coding: [{ code: '34117-2' }] }, date: '2012-09-16T19:05:00-04:00', masterIdentifier: { value: 'TT988' } });
    expect(doc.context.encounter[0].reference).toMatch(/^urn:uuid:/);
    expect(all(rs, 'Encounter')).toHaveLength(1);
    expect(all(rs, 'Encounter')[0]).toMatchObject({ period: { start: '2009-02-27T13:00:00-05:00', end: '2009-02-27T13:00:00-05:00' }, class: { code: 'AMB' }, type: [{ coding: [{ code: '99213' }] }] });
    expect(all(rs, 'MedicationStatement')[0].dosage[0]).toMatchObject({ timing: { repeat: { period: 6, periodUnit: 'h' } }, doseAndRate: [{ doseQuantity: { value: 1, unit: 'mg/actuat' } }] });
  });

  it('CCD replacing a parent: relatesTo replaces TT661; negated lists become not-taken / not-done / no known allergy', () => {
    const rs = convert('hl7-examples/documents/CCD_Parent_Document_Replace.xml');
    expect(all(rs, 'DocumentReference')[0].relatesTo).toEqual([{ code: 'replaces', target: { identifier: { system: 'urn:oid:2.16.840.1.113883.19.5.99999.1', value: 'TT661' } } }]);
    expect(all(rs, 'Immunization')[0].status).toBe('not-done');
    expect(all(rs, 'AllergyIntolerance')[0].code.coding[0].code).toBe('716186003');
  });

  it('NIST ambulatory: Myra Jones; albuterol dose 0.09 mg/actuat every 12 h', () => {
    const rs = convert('chb-sample-ccdas/nist_CCDA_CCD_b1_Ambulatory_v2.xml');
    expect(patient(rs)).toMatchObject({ birthDate: '1947-05-01', name: [{ family: 'Jones', given: ['Myra'] }] });
    expect(all(rs, 'MedicationStatement')[0].dosage[0]).toMatchObject({ doseAndRate: [{ doseQuantity: { value: 0.09, unit: 'mg/actuat' } }], timing: { repeat: { period: 12, periodUnit: 'h' } } });
  });

  it('ToC ambulatory R2.1: Katherine Madison, essential hypertension, ceftriaxone IV, urine pH', () => {
    const rs = convert('onc-cures/toc/170.315_b1_toc_amb_ccd_r21_sample1_v13.xml');
    expect(patient(rs)).toMatchObject({ birthDate: '1970-06-01' });
    expect(patient(rs).name[0]).toMatchObject({ family: 'Madison', given: ['Katherine', 'Jones'] });
    expect(codes(rs, 'Condition', 'code')).toContain('59621000');
    expect(codes(rs, 'MedicationStatement', 'medicationCodeableConcept')).toContain('309090');
    expect(all(rs, 'Observation').find((o) => o.code.coding[0].code === '5803-2')?.valueQuantity).toMatchObject({ value: 5, unit: '[pH]' });
  });

  it('ONC negative test with a garbage gender code: accepted, gender left out, warning raised', () => {
    const result = ingestCcda(readCorpus('onc-cures/negative/NT_Bad_GenderCode_r11_v2.xml'), { now: NOW });
    expect(result.ok && result.warnings).toContain('invalid-gender-code');
    const p = result.ok ? result.bundle.entry?.find((e) => e.resource?.resourceType === 'Patient')?.resource : undefined;
    expect(p).toMatchObject({ birthDate: '1947-05-01' });
    expect(p && 'gender' in p).toBe(false);
  });
});
