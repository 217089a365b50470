import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Composition, Patient } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import type { AccessContext, Role } from '../access/context.ts';
import { labelsForCdaXml } from './labels/ccda-codes.ts';
import { declaredLabels, labelsForResource } from './labels/classifier.ts';
import { SYSTEMS, type SensitivityLabel } from './labels/value-set-types.ts';
import { loadValueSets } from './labels/value-sets.ts';
import { REDACTED_TEXT } from './document-redaction.ts';
import { demographicView, maskSsn, redactDocumentSections, redactForRole, SSN_SYSTEM } from './redact.ts';

const vs = loadValueSets();
const ctx = (role: Role): AccessContext => ({ role, displayName: role, scopes: [], purposeOfUse: 'TREAT' });
const patient: Patient = {
  resourceType: 'Patient', id: 'p1',
  identifier: [{ system: SSN_SYSTEM, value: '999-68-9353' }, { system: 'http://hospital.example/mrn', value: 'MRN1' }],
  name: [{ family: 'Aufderhar', given: ['Beatrice'] }], birthDate: '1926-06-06', gender: 'female',
  address: [{ line: ['1 Main St'], city: 'Sterling', postalCode: '01564' }], telecom: [{ system: 'phone', value: '555-0100' }],
};

describe('SSN masking (privacy rules §7)', () => {
  it('shows the last four digits to every role but the registrar', () => {
    for (const role of ['clinician', 'clinical-staff', 'privacy-officer', 'admin', 'system', 'patient'] as Role[]) {
      const out = redactForRole(patient, ctx(role));
      expect(out.identifier?.[0].value).toBe('***-**-9353');
      expect(out.identifier?.[1].value).toBe('MRN1');
    }
    expect(redactForRole(patient, ctx('registrar')).identifier?.[0].value).toBe('999-68-9353');
    expect(patient.identifier?.[0].value).toBe('999-68-9353');
  });
  it('masks short or odd values entirely', () => {
    expect(maskSsn('12')).toBe('***-**-****');
    expect(maskSsn('999689353')).toBe('***-**-9353');
  });
});

describe('demographicView', () => {
  it('keeps only name, birth date, sex and city', () => {
    expect(demographicView(patient)).toEqual({
      resourceType: 'Patient', id: 'p1', name: patient.name, birthDate: '1926-06-06', gender: 'female', address: [{ city: 'Sterling' }],
    });
  });
});

const cc = (system: string, code: string) => ({ coding: [{ system, code }] });
const composition = (sections: Composition['section'], type = cc(SYSTEMS.loinc, '34133-9')): Composition => ({
  resourceType: 'Composition', status: 'final', type, date: '2026-01-01', title: 'Summary', author: [{ reference: 'Practitioner/1' }],
  section: sections,
});

describe('redactDocumentSections: FHIR Composition', () => {
  const hidden: SensitivityLabel[] = ['PSY', 'HIV', 'ETH'];
  const entryLabels = (ref: string): SensitivityLabel[] => (ref === 'Condition/hiv' ? ['HIV'] : []);

  it('replaces sections with sensitive codes or entries, keeps the others, and marks the document', () => {
    const doc = composition([
      { title: 'Problems', code: cc(SYSTEMS.loinc, '11450-4'), entry: [{ reference: 'Condition/hiv' }] },
      { title: 'Mental status', code: cc(SYSTEMS.loinc, '10190-7'), section: [{ title: 'Dx', code: cc(SYSTEMS.icd10cm, 'F32.9') }] },
      { title: 'Vitals', code: cc(SYSTEMS.loinc, '8716-3'), entry: [{ reference: 'Observation/bp' }] },
    ]);
    const r = redactDocumentSections(doc, hidden, vs, entryLabels);
    expect(r.ok).toBe(true);
    if (!r.ok || typeof r.document === 'string') throw new Error('unexpected');
    expect(r.removedSections).toBe(2);
    expect(r.document.section?.[0]).toMatchObject({ title: 'Section removed', emptyReason: { coding: [{ code: 'withheld' }] } });
    expect(r.document.section?.[1].section?.[0].title).toBe('Section removed');
    expect(r.document.section?.[2]).toEqual(doc.section?.[2]);
    expect(r.document.meta?.security?.some((s) => s.code === 'REDACT')).toBe(true);
    expect(labelsForResource(r.document, vs)).toEqual([]);
  });

  it('only removes the categories the viewer may not see', () => {
    const doc = composition([{ title: 'Dx', code: cc(SYSTEMS.icd10cm, 'F32.9') }]);
    const r = redactDocumentSections(doc, ['HIV'], vs);
    expect(r).toMatchObject({ ok: true, removedSections: 0 });
  });

  it('fails when the document type itself is sensitive, so the caller withholds it whole', () => {
    const doc = composition([], cc(SYSTEMS.snomed, '35489007'));
    expect(redactDocumentSections(doc, hidden, vs)).toEqual({ ok: false, reason: 'sensitive-header' });
  });

  it('drops hidden labels from the redacted document’s meta.security', () => {
    const doc = { ...composition([{ title: 'Dx', code: cc(SYSTEMS.icd10cm, 'B20') }]), meta: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'HIV' }] } };
    const r = redactDocumentSections(doc, ['HIV'], vs);
    if (!r.ok || typeof r.document === 'string') throw new Error('unexpected');
    expect(declaredLabels(r.document)).toEqual([]);
  });
});

const note = resolve(process.cwd(), '../shared/corpora/ccda/hl7-examples/documents/Consultation_Note.xml');
const hasNote = existsSync(note);
if (!hasNote) console.warn(`corpus ${note} absent: skipping C-CDA redaction test`);

describe('redactDocumentSections: C-CDA XML', () => {
  const xml = (body: string, header = '') => `<?xml version="1.0"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <code code="34133-9" codeSystem="2.16.840.1.113883.6.1"/><title>CCD</title>${header}
 <component><structuredBody>${body}</structuredBody></component>
</ClinicalDocument>`;
  const problems = `<component><section><templateId root="2.16.840.1.113883.10.20.22.2.5.1"/><code code="11450-4" codeSystem="2.16.840.1.113883.6.1"/><title>Problems</title><text>Depression</text>
    <entry><observation><value xsi:type="CD" code="F32.9" codeSystem="2.16.840.1.113883.6.90"/></observation></entry></section></component>`;
  const vitals = `<component><section><code code="8716-3" codeSystem="2.16.840.1.113883.6.1"/><title>Vitals</title><text>BP 120/80</text></section></component>`;

  it('masks the sensitive section with nullFlavor MSK and keeps the rest', () => {
    const r = redactDocumentSections(xml(problems + vitals), ['PSY'], vs);
    expect(r.ok).toBe(true);
    if (!r.ok || typeof r.document !== 'string') throw new Error('unexpected');
    expect(r.removedSections).toBe(1);
    expect(r.document).toContain('nullFlavor="MSK"');
    expect(r.document).toContain(REDACTED_TEXT);
    expect(r.document).not.toContain('F32.9');
    expect(r.document).not.toContain('Depression');
    expect(r.document).toContain('BP 120/80');
    expect(r.document).toContain('2.16.840.1.113883.10.20.22.2.5.1');
  });

  it('fails on a sensitive header and on unstructured documents', () => {
    const serviceEvent = '<documentationOf><serviceEvent><code code="F20.9" codeSystem="2.16.840.1.113883.6.90"/></serviceEvent></documentationOf>';
    expect(redactDocumentSections(xml(vitals, serviceEvent), ['PSY'], vs))
      .toEqual({ ok: false, reason: 'sensitive-header' });
    expect(redactDocumentSections('<ClinicalDocument><component><nonXMLBody/></component></ClinicalDocument>', ['PSY'], vs))
      .toEqual({ ok: false, reason: 'not-structured' });
  });

  it.skipIf(!hasNote)('redacts the HL7 Consultation Note sample (a SNOMED behaviour finding labelled PSY)', () => {
    const source = readFileSync(note, 'utf8');
    expect(labelsForCdaXml(source, vs)).toEqual(['PSY']);
    const r = redactDocumentSections(source, ['PSY'], vs);
    expect(r.ok).toBe(true);
    if (!r.ok || typeof r.document !== 'string') throw new Error('unexpected');
    expect(r.removedSections).toBeGreaterThanOrEqual(1);
    expect(labelsForCdaXml(r.document, vs)).toEqual([]);
    expect(r.document).toContain('<ClinicalDocument');
  });
});
