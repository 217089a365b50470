import { describe, expect, it } from 'vitest';
import { validateCcda } from './validate.ts';

const HEADER = `<typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <templateId root="2.16.840.1.113883.10.20.22.1.1" extension="2015-08-01"/>`;
const PATIENT = `<recordTarget><patientRole><id root="2.16.840.1.113883.19.5" extension="998991"/>
  <patient><name><given>Zelda</given><family>Quux</family></name>
  <administrativeGenderCode code="F" codeSystem="2.16.840.1.113883.5.1"/></patient></patientRole></recordTarget>`;
const doc = (header = HEADER, patient = PATIENT, ns = 'urn:hl7-org:v3') =>
  `<?xml version="1.0"?><ClinicalDocument xmlns="${ns}">${header}${patient}</ClinicalDocument>`;

describe('validateCcda', () => {
  it('accepts a minimal R2.1 document given as a string or as bytes with a UTF-8 BOM', () => {
    expect(validateCcda(doc())).toMatchObject({ ok: true, version: 'R2.1', warnings: [] });
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(doc())]);
    const result = validateCcda(bom);
    expect(result.ok && result.xml.startsWith('<?xml')).toBe(true);
  });

  it('decodes UTF-16LE with a BOM', () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(doc(), 'utf16le')]);
    expect(validateCcda(utf16).ok).toBe(true);
  });

  it('rejects empty and malformed input with 400 and a line:column location', () => {
    expect(validateCcda('  ')).toMatchObject({ ok: false, error: { status: 400, code: 'empty-document' } });
    const bad = validateCcda('<ClinicalDocument xmlns="urn:hl7-org:v3">\n<id root="1"></ClinicalDocument>');
    expect(bad).toMatchObject({ ok: false, error: { status: 400, code: 'malformed-xml' } });
    expect(!bad.ok && bad.error.location).toMatch(/^\d+:\d+$/);
  });

  it('calls a section fragment a fragment, and other XML not C-CDA (422)', () => {
    expect(validateCcda('<section><title>Allergies</title></section>')).toMatchObject({ ok: false, error: { status: 422, code: 'section-fragment' } });
    expect(validateCcda('<Bundle xmlns="http://hl7.org/fhir"/>')).toMatchObject({ ok: false, error: { status: 422, code: 'not-ccda' } });
  });

  it('requires the HL7 v3 namespace, the CDA typeId and the US Realm header', () => {
    expect(validateCcda(doc(HEADER, PATIENT, 'urn:example'))).toMatchObject({ ok: false, error: { code: 'wrong-namespace' } });
    expect(validateCcda(doc(HEADER.replace('POCD_HD000040', 'X'), PATIENT))).toMatchObject({ ok: false, error: { code: 'bad-type-id' } });
    const noHeader = HEADER.replace('10.20.22.1.1', '10.20.22.9.9');
    expect(validateCcda(doc(noHeader, PATIENT))).toMatchObject({ ok: false, error: { status: 422, code: 'missing-header' } });
    const ccdOnly = HEADER.replace('10.20.22.1.1"', '10.20.22.1.2"');
    expect(validateCcda(doc(ccdOnly, PATIENT))).toMatchObject({ ok: true, warnings: ['us-realm-header-implied-by-document-template'] });
  });

  it('requires a named patient and never quotes document content in messages', () => {
    const nameless = PATIENT.replace(/<name>.*<\/name>/, '');
    const result = validateCcda(doc(HEADER, nameless));
    expect(result).toMatchObject({ ok: false, error: { status: 422, code: 'missing-patient-name' } });
    expect(validateCcda(doc(HEADER, ''))).toMatchObject({ ok: false, error: { code: 'missing-patient' } });
    const bad = validateCcda(doc(HEADER, PATIENT.replace('Zelda', 'Zelda<')));
    expect(!bad.ok && JSON.stringify(bad.error)).not.toMatch(/Zelda|Quux|998991/);
  });

  it('flags an invalid gender code without rejecting', () => {
    const odd = PATIENT.replace('code="F"', 'code="asdf"');
    expect(validateCcda(doc(HEADER, odd))).toMatchObject({ ok: true, warnings: ['invalid-gender-code'] });
  });

  it('reports R1.1 when the header templateId has no version extension', () => {
    expect(validateCcda(doc(HEADER.replace(' extension="2015-08-01"', '')))).toMatchObject({ ok: true, version: 'R1.1' });
  });
});
