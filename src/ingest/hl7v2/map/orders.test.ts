import type { DocumentReference, Immunization, MedicationAdministration, MedicationDispense, MedicationRequest, ServiceRequest } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { bundleOf, entriesOf, mapEr7, one, seg } from './test-helpers.ts';

const PID = 'PID|1||MRN1^^^MMC^MR||DOE^JANE||19800215|F';
const msh = (type: string) => `MSH|^~\\&|APP|MMC|KAT|HIE|20260115120000-0500||${type}|X1|P|2.5.1`;

describe('VXU, MDM, pharmacy and order mapping', () => {
  it('VXU^V04 → Immunization with CVX code, lot, dose, route and site', () => {
    const b = bundleOf(mapEr7([
      msh('VXU^V04^VXU_V04'), PID,
      'ORC|RE|PL5|FL5^IIS',
      'RXA|0|1|20260110||08^Hep B, adolescent or pediatric^CVX|0.5|mL^mL^UCUM||00^New record^NIP001||||||LOT42|20270101|MSD^Merck^MVX|||CP|A',
      'RXR|C28161^Intramuscular^NCIT|LD^Left Deltoid^HL70163',
    ]));
    const e = entriesOf<Immunization>(b, 'Immunization')[0];
    expect(e.request?.url).toBe('Immunization?identifier=urn%3Akatahdin%3Aid%3AIIS|FL5');
    expect(e.resource).toMatchObject({
      status: 'completed', occurrenceDateTime: '2026-01-10', lotNumber: 'LOT42', expirationDate: '2027-01-01', primarySource: true,
      vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '08' }] },
      doseQuantity: { value: 0.5, unit: 'mL' }, manufacturer: { display: 'Merck' },
      route: { coding: [{ code: 'C28161' }] }, site: { coding: [{ code: 'LD', system: 'http://terminology.hl7.org/CodeSystem/v2-0163' }] },
    });
  });

  it('MDM^T02 → DocumentReference with the OBX text as base64 text/plain', () => {
    const b = bundleOf(mapEr7([
      msh('MDM^T02^MDM_T02'), 'EVN|T02|20260115', PID, 'PV1|1|O',
      seg('TXA', { 1: '1', 2: 'DS^Discharge summary^L', 3: 'TX', 4: '20260115100000-0500', 12: 'DOC77^MMC', 17: 'AU' }),
      'OBX|1|TX|DS^Discharge^L||Patient discharged home.||||||F',
      'OBX|2|TX|DS^Discharge^L||Follow up in 2 weeks.||||||F',
    ]));
    const e = entriesOf<DocumentReference>(b, 'DocumentReference')[0];
    expect(e.request?.url).toBe('DocumentReference?identifier=urn%3Akatahdin%3Aid%3AMMC|DOC77');
    expect(e.resource).toMatchObject({ status: 'current', docStatus: 'final', date: '2026-01-15T10:00:00-05:00', type: { coding: [{ code: 'DS' }] } });
    expect(Buffer.from(e.resource.content[0].attachment.data ?? '', 'base64').toString()).toBe('Patient discharged home.\nFollow up in 2 weeks.');
  });

  it('MDM^T04 of the same document (TXA-12) updates it; T10 records what it replaces (TXA-13)', () => {
    const mdm = (event: string, status: string, text: string, replaces = '') => bundleOf(mapEr7([
      msh(`MDM^${event}^MDM_T02`), `EVN|${event}|20260115`, PID,
      seg('TXA', { 1: '1', 2: 'CN^Consult note^L', 3: 'TX', 4: '20260115100000-0500', 12: 'DOC88^MMC', 13: replaces, 17: status }),
      `OBX|1|TX|CN^Consult^L||${text}||||||F`,
    ]));
    const draft = entriesOf<DocumentReference>(mdm('T02', 'PA', 'Draft impression.'), 'DocumentReference')[0];
    const signed = entriesOf<DocumentReference>(mdm('T04', 'AU', 'Signed impression.'), 'DocumentReference')[0];
    expect(signed.request).toEqual(draft.request);
    expect([draft.resource.docStatus, signed.resource.docStatus]).toEqual(['preliminary', 'final']);
    expect(Buffer.from(signed.resource.content[0].attachment.data ?? '', 'base64').toString()).toBe('Signed impression.');
    const replacement = entriesOf<DocumentReference>(mdm('T10', 'AU', 'Corrected impression.', 'DOC77'), 'DocumentReference')[0];
    expect(replacement.resource.relatesTo).toEqual([{ code: 'replaces', target: { identifier: { value: 'DOC77' } } }]);
  });

  it('RDE^O11 → MedicationRequest on the placer number, RxNorm coded', () => {
    const b = bundleOf(mapEr7([
      msh('RDE^O11^RDE_O11'), PID,
      seg('ORC', { 1: 'NW', 2: 'ORD1^EPIC', 9: '20260115', 12: '999^HOUSE^GREG' }),
      'RXE|^BID^^20260115|197361^Amlodipine 5 MG Oral Tablet^RXNORM|5||mg|||||30|TAB',
      'RXR|PO^Oral^HL70162',
    ]));
    const e = entriesOf<MedicationRequest>(b, 'MedicationRequest')[0];
    expect(e.request?.url).toBe('MedicationRequest?identifier=urn%3Akatahdin%3Aid%3AEPIC|ORD1');
    expect(e.resource).toMatchObject({
      status: 'active', intent: 'order', authoredOn: '2026-01-15',
      medicationCodeableConcept: { coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '197361' }] },
      dosageInstruction: [{ doseAndRate: [{ doseQuantity: { value: 5, unit: 'mg' } }], route: { coding: [{ code: 'PO' }] } }],
      dispenseRequest: { quantity: { value: 30, unit: 'TAB' } },
    });
  });

  it('RDS^O13 and RAS^O17 → MedicationDispense / MedicationAdministration pointing at the order', () => {
    const rds = bundleOf(mapEr7([msh('RDS^O13^RDS_O13'), PID, 'ORC|RE|ORD1^EPIC', 'RXD|1|00071015523^Lipitor 10mg^NDC|20260116|30|TAB']));
    const d = one<MedicationDispense>(rds, 'MedicationDispense');
    expect(d).toMatchObject({ status: 'completed', whenHandedOver: '2026-01-16', quantity: { value: 30 }, medicationCodeableConcept: { coding: [{ system: 'http://hl7.org/fhir/sid/ndc' }] } });
    expect(d.authorizingPrescription?.[0].reference).toBe('MedicationRequest?identifier=urn%3Akatahdin%3Aid%3AEPIC|ORD1');
    const ras = bundleOf(mapEr7([msh('RAS^O17^RAS_O17'), PID, 'ORC|RE|ORD1^EPIC', 'RXA|0|1|202601161200-0500||197361^Amlodipine^RXNORM|5|mg||||||||||||CP', 'RXR|PO^Oral^HL70162']));
    const a = one<MedicationAdministration>(ras, 'MedicationAdministration');
    expect(a).toMatchObject({ status: 'completed', effectiveDateTime: '2026-01-16T12:00:00-05:00', dosage: { dose: { value: 5 }, route: { coding: [{ code: 'PO' }] } } });
  });

  it('ORM^O01 → ServiceRequest on the placer number + OBR-4 (several tests under one placer stay apart)', () => {
    const b = bundleOf(mapEr7([msh('ORM^O01'), PID, 'ORC|NW|PL9^EPIC', 'OBR|1|PL9^EPIC||80053^CMP^C4|S', 'OBR|1|PL9^EPIC||85025^CBC^C4']));
    const [e, cbc] = entriesOf<ServiceRequest>(b, 'ServiceRequest');
    expect(e.request?.url).toBe('ServiceRequest?identifier=urn%3Akatahdin%3Aid%3AEPIC%3Aorder|PL9%5C%7C80053');
    expect(cbc.request?.url).toBe('ServiceRequest?identifier=urn%3Akatahdin%3Aid%3AEPIC%3Aorder|PL9%5C%7C85025');
    expect(e.resource.identifier?.map((i) => i.value)).toEqual(['PL9', 'PL9|80053']);
    expect(e.resource).toMatchObject({ status: 'active', intent: 'order', priority: 'stat', code: { coding: [{ code: '80053' }] } });
  });
});
