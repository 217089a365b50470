import type { Bundle, Condition, DiagnosticReport, Encounter, Medication, MedicationRequest, Observation, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { applyLabels, declaredLabels, labelsForCode, labelsForResource } from './classifier.ts';
import { propagateBundleLabels, propagateLabels, relabelRecord, versionLabels } from './propagate.ts';
import { ACT_CODE_SYSTEM, SYSTEMS } from './value-set-types.ts';
import { loadValueSets } from './value-sets.ts';

const vs = loadValueSets();
const cc = (system: string, code: string, display?: string) => ({ coding: [{ system, code, ...(display ? { display } : {}) }] });
const condition = (system: string, code: string, id = 'c1'): Condition => ({
  resourceType: 'Condition', id, subject: { reference: 'Patient/p1' }, code: cc(system, code),
});

describe('labelsForCode: explicit codes and the rules named by the issue', () => {
  it.each([
    [SYSTEMS.icd10cm, 'F32.9', ['PSY']],
    [SYSTEMS.icd10cm, 'F329', ['PSY']],
    [SYSTEMS.icd10cm, 'F99', ['PSY']],
    [SYSTEMS.icd10cm, 'F01.50', ['PSY']],
    [SYSTEMS.icd10cm, 'F10.20', ['ETH']],
    [SYSTEMS.icd10cm, 'F11.10', ['ETH']],
    [SYSTEMS.icd10cm, 'F19.99', ['ETH']],
    [SYSTEMS.icd10cm, 'F17.210', []],
    [SYSTEMS.icd10cm, 'B20', ['HIV']],
    [SYSTEMS.icd10cm, 'Z21', ['HIV']],
    [SYSTEMS.icd10cm, 'B97.35', ['HIV']],
    [SYSTEMS.icd10cm, 'O98.711', ['HIV']],
    [SYSTEMS.icd10cm, 'J01.90', []],
    [SYSTEMS.snomed, '35489007', ['PSY']],
    [SYSTEMS.snomed, '191819002', ['ETH']],
    [SYSTEMS.snomed, '444814009', []],
    [SYSTEMS.loinc, '10351-5', ['HIV']],
    [SYSTEMS.rxnorm, '312941', ['PSY']],
    [SYSTEMS.rxnorm, '352364', ['ETH']],
    [SYSTEMS.rxnorm, '1433873', ['HIV']],
    [SYSTEMS.rxnorm, '1049221', []],
    [SYSTEMS.rxnorm, '281', []],
    ['urn:oid:2.16.840.1.113883.6.90', 'F32.9', ['PSY']],
    ['2.16.840.1.113883.6.96', '35489007', ['PSY']],
    ['http://example.org/local', 'F32.9', []],
  ])('%s %s → %j', (system, code, expected) => {
    expect(labelsForCode(vs, system, code)).toEqual(expected);
  });

  it('recognises antiretrovirals by ingredient name when the RxNorm code is not listed', () => {
    expect(labelsForCode(vs, SYSTEMS.rxnorm, '999999', 'efavirenz 600 MG Oral Tablet')).toEqual(['HIV']);
    expect(labelsForCode(vs, SYSTEMS.rxnorm, '999998', 'nirmatrelvir 150 MG / ritonavir 100 MG [Paxlovid]')).toEqual([]);
    expect(labelsForCode(vs, SYSTEMS.snomed, '999997', 'efavirenz')).toEqual([]);
  });
});

describe('labelsForResource walks every coding generically', () => {
  it('finds codes in value, component, reasonCode and a contained Medication', () => {
    const obs: Observation = {
      resourceType: 'Observation', status: 'final', code: cc(SYSTEMS.loinc, '69453-9'),
      valueCodeableConcept: cc(SYSTEMS.icd10cm, 'B20'),
    };
    expect(labelsForResource(obs, vs)).toEqual(['HIV']);
    const panel: Observation = {
      resourceType: 'Observation', status: 'final', code: cc(SYSTEMS.loinc, '00000-0'),
      component: [{ code: cc(SYSTEMS.loinc, '10351-5') }],
    };
    expect(labelsForResource(panel, vs)).toEqual(['HIV']);
    const enc: Encounter = { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, reasonCode: [cc(SYSTEMS.snomed, '35489007')] };
    expect(labelsForResource(enc, vs)).toEqual(['PSY']);
    const med: Medication = { resourceType: 'Medication', id: 'm', code: { coding: [{ system: SYSTEMS.rxnorm, code: '1' }], text: 'Biktarvy (bictegravir / emtricitabine / tenofovir alafenamide)' } };
    const mr: MedicationRequest = {
      resourceType: 'MedicationRequest', status: 'active', intent: 'order', subject: { reference: 'Patient/p' },
      contained: [med], medicationReference: { reference: '#m' },
    };
    expect(labelsForResource(mr, vs)).toEqual(['HIV']);
  });

  it('ignores existing meta.security when classifying, and reads MH as PSY when declared', () => {
    const c = { ...condition(SYSTEMS.snomed, '444814009'), meta: { security: [{ system: ACT_CODE_SYSTEM, code: 'MH' }] } };
    expect(labelsForResource(c, vs)).toEqual([]);
    expect(declaredLabels(c)).toEqual(['PSY']);
  });

  it('tolerates odd shapes (a `code` next to a non-string `system`)', () => {
    const odd = { resourceType: 'Basic', code: { coding: [] }, extension: [{ url: 'x', valueCoding: { code: 'F32.9', system: { x: 1 } } }] } as unknown as Resource;
    expect(labelsForResource(odd, vs)).toEqual([]);
  });

  it('several categories on one resource', () => {
    const c: Condition = { ...condition(SYSTEMS.icd10cm, 'F32.9'), evidence: [{ code: [cc(SYSTEMS.icd10cm, 'F11.20'), cc(SYSTEMS.icd10cm, 'Z21')] }] };
    expect(labelsForResource(c, vs)).toEqual(['PSY', 'HIV', 'ETH']);
  });
});

describe('applyLabels', () => {
  it('sets meta.security, keeps other codings, and is idempotent', () => {
    const other = { system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' };
    const c = { ...condition(SYSTEMS.icd10cm, 'B20'), meta: { versionId: '3', security: [other, { system: ACT_CODE_SYSTEM, code: 'ETH' }] } };
    const once = applyLabels(c, ['HIV']);
    expect(once.meta?.security).toEqual([other, { system: ACT_CODE_SYSTEM, code: 'HIV', display: 'HIV/AIDS information sensitivity' }]);
    expect(once.meta?.versionId).toBe('3');
    expect(applyLabels(once, ['HIV'])).toEqual(once);
    expect(applyLabels(condition(SYSTEMS.snomed, '1'), []).meta).toEqual({});
  });
});

describe('propagateLabels', () => {
  const hivObs: Observation = { resourceType: 'Observation', id: 'o1', status: 'final', code: cc(SYSTEMS.loinc, '10351-5'), subject: { reference: 'Patient/p1' } };
  const plainObs: Observation = { resourceType: 'Observation', id: 'o2', status: 'final', code: cc(SYSTEMS.loinc, '2345-7'), subject: { reference: 'Patient/p1' } };
  const report: DiagnosticReport = {
    resourceType: 'DiagnosticReport', id: 'r1', status: 'final', code: cc(SYSTEMS.loinc, '24323-8'),
    subject: { reference: 'Patient/p1' }, result: [{ reference: 'Observation/o1' }, { reference: 'Observation/o2' }],
  };

  it('labels a report holding a labelled result, not the results next to it nor the patient', () => {
    const patient: Resource = { resourceType: 'Patient', id: 'p1' };
    const out = propagateLabels([patient, hivObs, plainObs, report], vs);
    expect(out.map(declaredLabels)).toEqual([[], ['HIV'], [], ['HIV']]);
  });

  it('labels an encounter through reasonReference and diagnosis, and a chain of claims', () => {
    const dep = condition(SYSTEMS.icd10cm, 'F33.1', 'dep');
    const enc: Encounter = { resourceType: 'Encounter', id: 'e1', status: 'finished', class: { code: 'AMB' }, diagnosis: [{ condition: { reference: 'Condition/dep' } }] };
    const claim = { resourceType: 'Claim', id: 'cl', diagnosis: [{ sequence: 1, diagnosisReference: { reference: 'Condition/dep' } }] } as unknown as Resource;
    const eob = { resourceType: 'ExplanationOfBenefit', id: 'eob', claim: { reference: 'Claim/cl' } } as unknown as Resource;
    const obsInEncounter: Observation = { ...plainObs, encounter: { reference: 'Encounter/e1' } };
    const out = propagateLabels([eob, claim, enc, dep, obsInEncounter], vs);
    expect(out.map(declaredLabels)).toEqual([['PSY'], ['PSY'], ['PSY'], ['PSY'], []]);
  });

  it('resolves urn:uuid references by fullUrl inside a Bundle', () => {
    const bundle: Bundle = {
      resourceType: 'Bundle', type: 'transaction',
      entry: [
        { fullUrl: 'urn:uuid:a', resource: { ...hivObs, id: undefined } },
        { fullUrl: 'urn:uuid:b', resource: { ...report, id: undefined, result: [{ reference: 'urn:uuid:a' }] } },
      ],
    };
    const out = propagateBundleLabels(bundle, vs);
    expect(out.entry?.map((e) => declaredLabels(e.resource as Resource))).toEqual([['HIV'], ['HIV']]);
  });

  it('does not label directory entries or knowledge artifacts about no one in particular', () => {
    const service = { resourceType: 'HealthcareService', id: 'h', type: [cc(SYSTEMS.snomed, '35489007')] } as Resource;
    expect(declaredLabels(propagateLabels([service], vs)[0])).toEqual([]);
  });

  it('labels a DocumentReference whose inline C-CDA holds a sensitive code', () => {
    const xml = '<section><entry><value xsi:type="CD" code="F32.9" codeSystem="2.16.840.1.113883.6.90"/></entry></section>';
    const doc = {
      resourceType: 'DocumentReference', id: 'd', status: 'current',
      content: [{ attachment: { contentType: 'application/xml', data: Buffer.from(xml).toString('base64') } }],
    } as Resource;
    expect(declaredLabels(propagateLabels([doc], vs)[0])).toEqual(['PSY']);
  });

  describe('a C-CDA held in a Binary (the upload pipeline stores it so)', () => {
    const xml = '<observation><value xsi:type="CD" code="B20" codeSystem="2.16.840.1.113883.6.90" displayName="HIV disease"/></observation>';
    const binary = { resourceType: 'Binary', id: 'b1', contentType: 'application/xml', data: Buffer.from(xml).toString('base64') } as Resource;
    const docFor = (url: string, id = 'd1') => ({
      resourceType: 'DocumentReference', id, status: 'current', subject: { reference: 'Patient/p1' },
      content: [{ attachment: { contentType: 'application/xml', url } }],
    }) as Resource;

    it('labels the Binary from its XML and the DocumentReference pointing at it, not the patient', () => {
      const patient: Resource = { resourceType: 'Patient', id: 'p1' };
      const out = propagateLabels([patient, binary, docFor('Binary/b1')], vs);
      expect(out.map(declaredLabels)).toEqual([[], ['HIV'], ['HIV']]);
    });

    it('follows an absolute URL to the Binary and a bundle-local urn:uuid', () => {
      expect(declaredLabels(propagateLabels([binary, docFor('https://hie.example/fhir/Binary/b1')], vs)[1])).toEqual(['HIV']);
      const bundle: Bundle = {
        resourceType: 'Bundle', type: 'transaction',
        entry: [{ fullUrl: 'urn:uuid:bin', resource: { ...binary, id: undefined } }, { fullUrl: 'urn:uuid:doc', resource: docFor('urn:uuid:bin') }],
      };
      expect(propagateBundleLabels(bundle, vs).entry?.map((e) => declaredLabels(e.resource as Resource))).toEqual([['HIV'], ['HIV']]);
    });

    it('leaves non-XML Binaries, unrelated Binaries and documents pointing elsewhere unlabelled', () => {
      const text = { resourceType: 'Binary', id: 'b2', contentType: 'text/plain', data: Buffer.from('code="B20" codeSystem="2.16.840.1.113883.6.90"').toString('base64') } as Resource;
      const out = propagateLabels([binary, text, docFor('Binary/b2', 'd2'), docFor('https://elsewhere.example/files/b1', 'd3')], vs);
      expect(out.map(declaredLabels)).toEqual([['HIV'], [], [], []]);
    });
  });

  it('relabelling reports only resources whose labels changed, and never removes a label', () => {
    const stale = applyLabels(plainObs, ['ETH']);
    const { resources, changed } = relabelRecord([hivObs, report, stale], vs);
    expect(changed).toEqual([0, 1]);
    expect(declaredLabels(resources[2])).toEqual(['ETH']);
    expect(relabelRecord(resources, vs).changed).toEqual([]);
  });

  it('relabels an earlier version from its own codes and what it references in the record, keeping what it had', () => {
    const earlierReport: DiagnosticReport = { ...report, result: [{ reference: 'Observation/o1' }] };
    const record = new Map([['Observation/o1', ['HIV' as const]], ['Observation/o2', []]]);
    expect(versionLabels(earlierReport, [], record, vs)).toEqual(['HIV']);
    expect(versionLabels(condition(SYSTEMS.icd10cm, 'F32.9'), ['ETH'], record, vs)).toEqual(['PSY', 'ETH']);
    expect(versionLabels(plainObs, [], record, vs)).toEqual([]);
  });
});
