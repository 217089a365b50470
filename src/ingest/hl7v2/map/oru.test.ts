import type { DiagnosticReport, DocumentReference, Observation } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { bundleOf, entriesOf, mapEr7, seg } from './test-helpers.ts';

const MSH = 'MSH|^~\\&|LIS|MMCLAB|KAT|HIE|20260115120000-0500||ORU^R01^ORU_R01|L1|P|2.5.1';
const PID = 'PID|1||MRN1^^^MMC^MR||DOE^JANE||19800215|F';
const LAB = [
  MSH, PID,
  'ORC|RE|PL1^EPIC|FL1^LAB^1.2.3^ISO',
  seg('OBR', { 1: '1', 2: 'PL1^EPIC', 3: 'FL1^LAB^1.2.3^ISO', 4: '24323-8^Comprehensive metabolic panel^LN', 7: '20260115080000-0500', 22: '20260115110000-0500', 25: 'F' }),
  'OBX|1|NM|2345-7^Glucose^LN||182|mg/dL^mg/dL^UCUM|70-99|H|||F',
  'OBX|2|SN|2160-0^Creatinine^LN||<^0.5|mg/dL|0.6-1.3|L|||C',
  'OBX|3|SN|5195-3^HBsAg titer^LN||^1^:^128|||A|||F',
  'OBX|4|CWE|600-7^Culture^LN||27268008^Salmonella^SCT||||||P',
  'OBX|5|DT|8665-2^LMP^LN||20251220||||||F',
  'OBX|6|TX|8251-1^Comment^LN||Line one\\.br\\Line two \\T\\ more||||||F|||20260115090000-0500',
  'SPM|1|||BLD|||||||||||||20260115074500-0500',
];

describe('ORU^R01 mapping', () => {
  const bundle = bundleOf(mapEr7(LAB));
  const obs = entriesOf<Observation>(bundle, 'Observation');
  const byCode = (code: string) => obs.find((o) => o.resource.code.coding?.[0].code === code)!;

  it('makes one DiagnosticReport keyed on the filler order number + OBR-4, with its results', () => {
    const [dr] = entriesOf<DiagnosticReport>(bundle, 'DiagnosticReport');
    expect(dr.request?.url).toBe('DiagnosticReport?identifier=urn%3Aoid%3A1.2.3%3Areport|FL1%5C%7C24323-8');
    expect(dr.resource.identifier?.map((i) => [i.type?.coding?.[0].code, i.value])).toEqual([['FILL', 'FL1'], ['PLAC', 'PL1'], [undefined, 'FL1|24323-8']]);
    expect(dr.resource.status).toBe('final');
    expect(dr.resource.effectiveDateTime).toBe('2026-01-15T07:45:00-05:00');
    expect(dr.resource.issued).toBe('2026-01-15T11:00:00-05:00');
    expect(dr.resource.result).toHaveLength(6);
  });

  it('maps NM with units, range and abnormal flag; identifier = filler + OBR-4 + OBX-3 + sub-id', () => {
    const glucose = byCode('2345-7');
    expect(glucose.request?.url).toBe(`Observation?identifier=${encodeURIComponent('urn:oid:1.2.3:obx')}|${encodeURIComponent('FL1\\|24323-8\\|2345-7\\|')}`);
    expect(glucose.resource).toMatchObject({
      status: 'final',
      valueQuantity: { value: 182, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
      referenceRange: [{ low: { value: 70 }, high: { value: 99 }, text: '70-99' }],
      interpretation: [{ coding: [{ code: 'H' }] }],
      effectiveDateTime: '2026-01-15T07:45:00-05:00',
    });
  });

  it('maps SN comparators and ratios, CWE, DT and TX', () => {
    expect(byCode('2160-0').resource).toMatchObject({ status: 'corrected', valueQuantity: { value: 0.5, comparator: '<' } });
    expect(byCode('5195-3').resource.valueRatio).toEqual({ numerator: { value: 1 }, denominator: { value: 128 } });
    expect(byCode('600-7').resource).toMatchObject({ status: 'preliminary', valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '27268008' }] } });
    expect(byCode('8665-2').resource.valueDateTime).toBe('2025-12-20');
    expect(byCode('8251-1').resource).toMatchObject({ valueString: 'Line one\nLine two & more', effectiveDateTime: '2026-01-15T09:00:00-05:00' });
  });

  it('maps TS, TM, ST, FT, CE and an SN range among structured results', () => {
    const b = bundleOf(mapEr7([
      MSH, PID,
      'OBR|1||FL3^LAB^1.2.3^ISO|57021-8^CBC W Auto Differential panel^LN|||20260115080000-0500|||||||||||||||||F',
      'OBX|1|NM|718-7^Hemoglobin^LN||13.2|g/dL^g/dL^UCUM|12.0-16.0|N|||F',
      'OBX|2|TS|21112-8^Birth date^LN||198002150730-0500||||||F',
      'OBX|3|TM|56794-1^Time of collection^LN||0745||||||F',
      'OBX|4|ST|5778-6^Color of Urine^LN||Straw||||||F',
      'OBX|5|FT|48767-8^Annotation^LN||Hemolysed \\E\\ repeated~second line||||||F',
      'OBX|6|CE|882-1^ABO+Rh group^LN||278149003^Blood group A Rh(D) positive^SCT||||||F',
      'OBX|7|SN|33914-3^eGFR^LN||^60^-^89|mL/min/{1.73_m2}^mL/min/1.73m2^UCUM|||||F',
    ]));
    const value = (code: string) => entriesOf<Observation>(b, 'Observation').find((o) => o.resource.code.coding?.[0].code === code)!.resource;
    expect(value('718-7')).toMatchObject({ valueQuantity: { value: 13.2, unit: 'g/dL' }, referenceRange: [{ low: { value: 12 }, high: { value: 16 } }], interpretation: [{ coding: [{ code: 'N' }] }] });
    expect(value('21112-8').valueDateTime).toBe('1980-02-15T07:30:00-05:00');
    expect(value('56794-1').valueTime).toBe('07:45:00');
    expect(value('5778-6').valueString).toBe('Straw');
    expect(value('48767-8').valueString).toBe('Hemolysed \\ repeated\nsecond line');
    expect(value('882-1').valueCodeableConcept?.coding?.[0]).toEqual({ system: 'http://snomed.info/sct', code: '278149003', display: 'Blood group A Rh(D) positive' });
    expect(value('33914-3').valueRange).toEqual({
      low: { value: 60, unit: 'mL/min/1.73m2', system: 'http://unitsofmeasure.org', code: 'mL/min/{1.73_m2}' },
      high: { value: 89, unit: 'mL/min/1.73m2', system: 'http://unitsofmeasure.org', code: 'mL/min/{1.73_m2}' },
    });
    expect(entriesOf(b, 'DocumentReference')).toHaveLength(0);
  });

  it('a corrected result (OBX-11 C) targets the same conditional URL as the original', () => {
    const corrected = bundleOf(mapEr7(LAB.map((l) => l.replace('|182|', '|180|').replace('|H|||F', '|H|||C').replace('|L1|', '|L2|'))));
    const c = entriesOf<Observation>(corrected, 'Observation').find((o) => o.resource.code.coding?.[0].code === '2345-7')!;
    expect(c.request?.url).toBe(byCode('2345-7').request?.url);
    expect(c.resource.status).toBe('corrected');
    expect(c.resource.valueQuantity?.value).toBe(180);
  });

  it('keys every result of a message apart: OBRs sharing a filler, repeated OBX codes, full OBX-4 sub-IDs', () => {
    const lines = [
      MSH, PID,
      'OBR|1||FL5^LAB^1.2.3^ISO|57128-1^Summary^LN',
      'OBX|1|NM|GLU^Glucose^L||100|mg/dL||||F',
      'OBX|2|ST|COMMENT^Comment^L||line one||||||F',
      'OBX|3|ST|COMMENT^Comment^L||line two||||||F',
      'OBX|4|NM|GLU^Glucose^L||120|mg/dL||||F',
      'OBX|5|NM|ISO^Isolate^L|1.1^a|1|||||F',
      'OBX|6|NM|ISO^Isolate^L|1.1^b|2|||||F',
      'OBR|2||FL5^LAB^1.2.3^ISO|54090-6^Thyroid^LN',
      'OBX|1|NM|GLU^Glucose^L||90|mg/dL||||F',
    ];
    const b = bundleOf(mapEr7(lines));
    const urls = (type: 'DiagnosticReport' | 'Observation') => entriesOf(b, type).map((e) => decodeURIComponent(e.request!.url.split('|').slice(1).join('|')).replaceAll('\\|', '|'));
    expect(urls('DiagnosticReport')).toEqual(['FL5|57128-1', 'FL5|54090-6']);
    expect(urls('Observation')).toEqual([
      'FL5|57128-1|GLU||1', 'FL5|57128-1|COMMENT||2', 'FL5|57128-1|COMMENT||3', 'FL5|57128-1|GLU||4',
      'FL5|57128-1|ISO|1.1^a', 'FL5|57128-1|ISO|1.1^b', 'FL5|54090-6|GLU|',
    ]);
    // The same message resent as a correction names the same items.
    const resent = bundleOf(mapEr7(lines.map((l) => l.replace('|L1|', '|L9|').replace('|120|mg/dL||||F', '|125|mg/dL||||C'))));
    expect(entriesOf(resent, 'Observation').map((e) => e.request?.url)).toEqual(entriesOf(b, 'Observation').map((e) => e.request?.url));
  });

  it('adds the OBR set ID only when one message repeats a filler and OBR-4', () => {
    const b = bundleOf(mapEr7([MSH, PID, 'OBR|1||FL6^LAB^1.2.3^ISO|X^Panel^L', 'OBX|1|NM|A^A^L||1', 'OBR|2||FL6^LAB^1.2.3^ISO|X^Panel^L', 'OBX|1|NM|A^A^L||2']));
    const values = entriesOf<DiagnosticReport>(b, 'DiagnosticReport').map((e) => e.resource.identifier?.at(-1)?.value);
    expect(values).toEqual(['FL6|X|1', 'FL6|X|2']);
    expect(new Set(entriesOf(b, 'Observation').map((e) => e.request?.url)).size).toBe(2);
  });

  it('maps a narrative sent a line per TX/FT OBX among other results to one Observation with the lines joined', () => {
    const lines = [
      MSH, PID,
      'OBR|1||FL8^LAB^1.2.3^ISO|58092-8^Acylcarnitine panel^LN',
      'OBX|1|CWE|58088-6^Interpretation^LN|^1^1|LA18592-8^In range^LN||||||F',
      'OBX|2|FT|58093-6^Comment^LN|^2^1|RESULT INTERPRETATION: this screening||||||F',
      'OBX|3|FT|58093-6^Comment^LN|^2^2|is negative.||||||F',
      'OBX|4|TX|||  Indented continuation without a code||||||F',
      'OBX|5|NM|GLU^Glucose^L||100|mg/dL||||F',
      'OBX|6|TX|58093-6^Comment^LN||Second comment, after the glucose||||||F',
      'OBX|7|TX|OTHER^Other finding^L||A finding of its own||||||F',
    ];
    const b = bundleOf(mapEr7(lines));
    const obs = entriesOf<Observation>(b, 'Observation');
    expect(obs.map((o) => [o.resource.code.coding?.[0].code, o.resource.valueString ?? o.resource.valueQuantity?.value ?? o.resource.valueCodeableConcept?.coding?.[0].code])).toEqual([
      ['58088-6', 'LA18592-8'],
      ['58093-6', 'RESULT INTERPRETATION: this screening\nis negative.\nIndented continuation without a code'],
      ['GLU', 100],
      ['58093-6', 'Second comment, after the glucose'],
      ['OTHER', 'A finding of its own'],
    ]);
    expect(entriesOf<DiagnosticReport>(b, 'DiagnosticReport')[0].resource.result).toHaveLength(5);
    expect(entriesOf(b, 'DocumentReference')).toHaveLength(0);
    // Keyed on the first line, so a resend (or a correction) finds the same Observation.
    const items = obs.map((e) => decodeURIComponent(e.request!.url.split('|').slice(1).join('|')).replaceAll('\\|', '|'));
    expect(items[1]).toBe('FL8|58092-8|58093-6|^2^1');
    expect(entriesOf(bundleOf(mapEr7(lines.map((l) => l.replace('|L1|', '|L3|')))), 'Observation').map((e) => e.request?.url)).toEqual(obs.map((e) => e.request?.url));
  });

  it('rejects a non-numeric NM with AE 102 at OBX-n-5', () => {
    const r = mapEr7([MSH, PID, 'OBR|1||F9|X^Y^LN', 'OBX|1|NM|X^Y^LN||positive']);
    expect(r.kind === 'rejected' && r.error).toEqual({ code: 102, ackCode: 'AE', reason: 'OBX-5 is not numeric for value type NM', location: { segment: 'OBX', sequence: 1, field: 5 } });
  });

  it('turns a narrative report into presentedForm and a DocumentReference, and ED into an attachment', () => {
    const rad = bundleOf(mapEr7([
      MSH, PID,
      'OBR|1|P7|F7|71020^Chest X-ray^CPT|||20260114|||||||||||||||||F',
      'OBX|1|TX|IMP^Impression^L||No acute disease.||||||F',
      'OBX|2|TX|IMP^Impression^L||Heart size normal.||||||F',
      'OBX|3|ED|PDF^Report^L||^AP^PDF^Base64^JVBERi0x||||||F',
    ]));
    expect(entriesOf(rad, 'Observation')).toHaveLength(0);
    const [dr] = entriesOf<DiagnosticReport>(rad, 'DiagnosticReport');
    const forms = dr.resource.presentedForm ?? [];
    expect(Buffer.from(forms[0].data ?? '', 'base64').toString()).toBe('No acute disease.\nHeart size normal.');
    expect(forms[1]).toEqual({ contentType: 'application/pdf', data: 'JVBERi0x' });
    const [doc] = entriesOf<DocumentReference>(rad, 'DocumentReference');
    expect(doc.resource.content.map((c) => c.attachment.contentType)).toEqual(['text/plain; charset=utf-8', 'application/pdf']);
    expect(doc.resource.subject?.reference).toBe(dr.resource.subject?.reference);
  });
});
