import type { Bundle, Condition, DiagnosticReport, Encounter, Medication, MedicationRequest, Observation, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { applyLabels, declaredLabels, labelsForCode, labelsForResource, withAddedLabels } from './classifier.ts';
import { labelsForNamedBinaries, namedBinaries, passesToStoredBinary, propagateBundleLabels, propagateLabels, propagatingKeys, relabelRecord, versionLabels } from './propagate.ts';
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

describe('a labelled document passes its labels to the Binary it names (a PDF or text has no codes of its own)', () => {
  const pdf = (id: string) => ({ resourceType: 'Binary', id, contentType: 'application/pdf', securityContext: { reference: 'Patient/p1' }, data: 'JVBERi0=' }) as Resource;
  const docFor = (url: string, extra: Record<string, unknown> = {}) => ({
    resourceType: 'DocumentReference', id: 'd1', status: 'current', subject: { reference: 'Patient/p1' },
    content: [{ attachment: { contentType: 'application/pdf', url } }], ...extra,
  }) as Resource;
  /** Labelled by its own category code (ICD-10-CM F32.9), not declared. */
  const psyDoc = (url: string) => docFor(url, { category: [cc(SYSTEMS.icd10cm, 'F32.9')] });

  it('namedBinaries: relative, absolute and urn:uuid attachment URLs, in any attachment-holding field, once each', () => {
    const doc = docFor('Binary/b1', { content: [
      { attachment: { url: 'Binary/b1' } }, { attachment: { url: 'https://hie.example/fhir/Binary/b2' } },
      { attachment: { url: 'urn:uuid:c3' } }, { attachment: { url: 'https://elsewhere.example/files/b4.pdf' } },
    ] });
    expect(namedBinaries(doc)).toEqual(['Binary/b1', 'Binary/b2', 'urn:uuid:c3']);
    const report = { resourceType: 'DiagnosticReport', id: 'r', status: 'final', code: { text: 'x' }, presentedForm: [{ url: 'Binary/b5' }] } as Resource;
    expect(namedBinaries(report)).toEqual(['Binary/b5']);
    expect(namedBinaries({ resourceType: 'Observation', id: 'o', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/p1' } } as Resource)).toEqual([]);
  });

  it('with this server\'s FHIR base, an absolute URL names a local Binary only under it; another server\'s Binary/id is only itself', () => {
    const base = 'https://hie.example/fhir';
    const doc = docFor('Binary/b1', { content: [
      { attachment: { url: 'Binary/b1' } }, { attachment: { url: 'https://hie.example/fhir/Binary/b2' } },
      { attachment: { url: 'http://other.example.org/fhir/Binary/b3' } }, { attachment: { url: 'urn:uuid:c4' } },
    ] });
    expect(namedBinaries(doc, base)).toEqual(['Binary/b1', 'Binary/b2', 'http://other.example.org/fhir/Binary/b3', 'urn:uuid:c4']);
    expect(namedBinaries(doc, `${base}/`)).toEqual(['Binary/b1', 'Binary/b2', 'http://other.example.org/fhir/Binary/b3', 'urn:uuid:c4']);
    expect([...labelsForNamedBinaries([{ resource: doc, labels: ['PSY'] }], base).keys()]).toEqual(['Binary/b1', 'Binary/b2']);
    const foreign = { ...psyDoc('http://other.example.org/fhir/Binary/b1'), id: 'd2' } as Resource;
    expect(propagateLabels([pdf('b1'), foreign], vs, [], base).map(declaredLabels)).toEqual([[], ['PSY']]);
    expect(propagateLabels([pdf('b1'), { ...psyDoc(`${base}/Binary/b1`), id: 'd3' } as Resource], vs, [], base).map(declaredLabels)).toEqual([['PSY'], ['PSY']]);
    // A bundle entry with another server's fullUrl is still found by a reference to that exact URL.
    const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: [
      { fullUrl: 'http://sender.example/fhir/Binary/x1', resource: { ...pdf('x1'), id: undefined } },
      { fullUrl: 'urn:uuid:doc', resource: { ...psyDoc('http://sender.example/fhir/Binary/x1'), id: undefined } as Resource },
    ] };
    expect(propagateBundleLabels(bundle, vs, base).entry?.map((e) => declaredLabels(e.resource as Resource))).toEqual([['PSY'], ['PSY']]);
  });

  it('propagateLabels: the Binary of a document labelled by its own code gets the label, the patient does not', () => {
    const out = propagateLabels([{ resourceType: 'Patient', id: 'p1' }, pdf('b1'), psyDoc('Binary/b1')], vs);
    expect(out.map(declaredLabels)).toEqual([[], ['PSY'], ['PSY']]);
  });

  it('propagateLabels: a declared label, an absolute URL, and a report labelled through its result reach the presented form', () => {
    const declared = docFor('https://hie.example/fhir/Binary/b1', { meta: { security: [{ system: ACT_CODE_SYSTEM, code: 'MH' }] } });
    expect(propagateLabels([pdf('b1'), declared], vs).map(declaredLabels)).toEqual([['PSY'], ['PSY']]);
    const hivObs: Observation = { resourceType: 'Observation', id: 'o1', status: 'final', code: cc(SYSTEMS.loinc, '10351-5') };
    const report = { resourceType: 'DiagnosticReport', id: 'r1', status: 'final', code: { text: 'panel' }, result: [{ reference: 'Observation/o1' }], presentedForm: [{ contentType: 'application/pdf', url: 'Binary/b2' }] } as Resource;
    expect(propagateLabels([pdf('b2'), hivObs, report], vs).map(declaredLabels)).toEqual([['HIV'], ['HIV'], ['HIV']]);
  });

  it('propagateBundleLabels: a Binary named by urn:uuid in the same bundle; a non-Binary entry named so is not labelled', () => {
    const obs = { resourceType: 'Observation', status: 'final', code: { text: 'note' } } as Resource;
    const bundle: Bundle = {
      resourceType: 'Bundle', type: 'transaction',
      entry: [
        { fullUrl: 'urn:uuid:bin', resource: { ...pdf('x'), id: undefined } },
        { fullUrl: 'urn:uuid:obs', resource: obs },
        { fullUrl: 'urn:uuid:doc', resource: docFor('urn:uuid:bin', { id: undefined, category: [cc(SYSTEMS.icd10cm, 'F32.9')], content: [{ attachment: { url: 'urn:uuid:bin' } }, { attachment: { url: 'urn:uuid:obs' } }] }) },
      ],
    };
    expect(propagateBundleLabels(bundle, vs).entry?.map((e) => declaredLabels(e.resource as Resource))).toEqual([['PSY'], [], ['PSY']]);
  });

  it('an unlabelled document leaves its Binary unlabelled; relabelling reports the Binary it newly labels', () => {
    expect(propagateLabels([pdf('b1'), docFor('Binary/b1')], vs).map(declaredLabels)).toEqual([[], []]);
    const { resources, changed } = relabelRecord([pdf('b1'), psyDoc('Binary/b1')], vs);
    expect(changed).toEqual([0, 1]);
    expect(declaredLabels(resources[0])).toEqual(['PSY']);
  });

  it('labelsForNamedBinaries: the union of the sensitive labels of every document naming a stored Binary', () => {
    const passed = labelsForNamedBinaries([
      { resource: docFor('Binary/b1'), labels: ['PSY'] },
      { resource: docFor('https://hie.example/fhir/Binary/b1'), labels: ['HIV', 'R'] },
      { resource: docFor('Binary/b2'), labels: [] },
      { resource: docFor('urn:uuid:unresolved'), labels: ['ETH'] },
      { resource: pdf('b3'), labels: ['ETH'] },
    ]);
    expect([...passed]).toEqual([['Binary/b1', ['PSY', 'HIV']]]);
  });

  it('passesToStoredBinary: within one person, or to a Binary of no person from its own sender; never across persons', () => {
    expect(passesToStoredBinary({ personId: 'p1', sourceOrg: 'o2' }, { personId: 'p1', sourceOrg: 'o1' })).toBe(true);
    expect(passesToStoredBinary({ personId: 'p2', sourceOrg: 'o1' }, { personId: 'p1', sourceOrg: 'o1' })).toBe(false);
    expect(passesToStoredBinary({ personId: null, sourceOrg: 'o1' }, { personId: 'p1', sourceOrg: 'o1' })).toBe(false);
    expect(passesToStoredBinary({ personId: 'p1', sourceOrg: 'o1' }, { personId: null, sourceOrg: 'o1' })).toBe(true);
    expect(passesToStoredBinary({ personId: 'p1', sourceOrg: 'o2' }, { personId: null, sourceOrg: 'o1' })).toBe(false);
    expect(passesToStoredBinary({ personId: 'p1', sourceOrg: null }, { personId: null, sourceOrg: null })).toBe(false);
  });

  it('withAddedLabels: adds to the stored labels and meta.security, keeps other codings, never removes, undefined when nothing to add', () => {
    const confidential = { system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' };
    const stored = applyLabels({ ...pdf('b1'), meta: { versionId: '2', security: [confidential] } }, ['ETH']);
    const next = withAddedLabels(stored, ['ETH'], ['PSY']);
    expect(next?.security).toEqual(['ETH', 'PSY']);
    expect(next?.resource.meta?.versionId).toBe('2');
    expect(next?.resource.meta?.security?.map((c) => c.code)).toEqual(['R', 'PSY', 'ETH']);
    expect(withAddedLabels(next!.resource, next!.security, ['PSY'])).toBeUndefined();
    expect(withAddedLabels(next!.resource, next!.security, [])).toBeUndefined();
    // The column had it but meta.security did not: both end with it.
    expect(withAddedLabels(pdf('b1'), ['HIV'], ['HIV'])?.resource.meta?.security?.map((c) => c.code)).toEqual(['HIV']);
  });
});

describe('a versioned attachment URL names the Binary (its id; the version is ignored)', () => {
  const base = 'https://hie.example/fhir';
  const pdf = (id: string) => ({ resourceType: 'Binary', id, contentType: 'application/pdf', securityContext: { reference: 'Patient/p1' }, data: 'JVBERi0=' }) as Resource;
  const xml = '<observation><value xsi:type="CD" code="B20" codeSystem="2.16.840.1.113883.6.90" displayName="HIV disease"/></observation>';
  const ccda = { resourceType: 'Binary', id: 'c1', contentType: 'application/xml', data: Buffer.from(xml).toString('base64') } as Resource;
  const docFor = (urls: string[], extra: Record<string, unknown> = {}) => ({
    resourceType: 'DocumentReference', id: 'd1', status: 'current', subject: { reference: 'Patient/p1' },
    content: urls.map((url) => ({ attachment: { contentType: 'application/pdf', url } })), ...extra,
  }) as Resource;
  const psy = { category: [cc(SYSTEMS.icd10cm, 'F32.9')] };

  it('namedBinaries: relative and under this server\'s base, versioned or not; another server\'s, urn: and partial forms are no local Binary', () => {
    const doc = docFor([
      'Binary/b1/_history/2', `${base}/Binary/b2/_history/3`, 'http://other.example.org/fhir/Binary/b3/_history/1',
      'urn:uuid:c4', 'urn:oid:1.2.3/Binary/b5', 'Binary/b6/_history', 'Binary/b7/_history/1/extra', 'Binary/b8/_history/a b',
    ]);
    expect(namedBinaries(doc, base)).toEqual(['Binary/b1', 'Binary/b2', 'http://other.example.org/fhir/Binary/b3/_history/1', 'urn:uuid:c4', 'urn:oid:1.2.3/Binary/b5']);
    expect([...labelsForNamedBinaries([{ resource: doc, labels: ['PSY'] }], base).keys()]).toEqual(['Binary/b1', 'Binary/b2']);
  });

  it('propagateLabels: a labelled document\'s versioned URL labels the PDF; a C-CDA Binary named so labels the document', () => {
    expect(propagateLabels([pdf('b1'), docFor(['Binary/b1/_history/1'], psy)], vs, [], base).map(declaredLabels)).toEqual([['PSY'], ['PSY']]);
    expect(propagateLabels([pdf('b1'), docFor([`${base}/Binary/b1/_history/4`], psy)], vs, [], base).map(declaredLabels)).toEqual([['PSY'], ['PSY']]);
    expect(propagateLabels([pdf('b1'), docFor(['http://other.example.org/fhir/Binary/b1/_history/4'], psy)], vs, [], base).map(declaredLabels)).toEqual([[], ['PSY']]);
    expect(propagateLabels([ccda, docFor(['Binary/c1/_history/1'])], vs, [], base).map(declaredLabels)).toEqual([['HIV'], ['HIV']]);
  });

  it('relabelRecord and versionLabels read versioned URLs too', () => {
    const { resources, changed } = relabelRecord([pdf('b1'), docFor([`${base}/Binary/b1/_history/2`], psy)], vs, base);
    expect(changed).toEqual([0, 1]);
    expect(declaredLabels(resources[0])).toEqual(['PSY']);
    expect(versionLabels(docFor(['Binary/c1/_history/1']), [], new Map([['Binary/c1', ['HIV' as const]]]), vs, base)).toEqual(['HIV']);
  });

  it('propagatingKeys: what a resource takes labels from, keyed as stored (`Type/id`), versioned references included', () => {
    const report = {
      resourceType: 'DiagnosticReport', id: 'r1', status: 'final', code: { text: 'panel' },
      result: [{ reference: 'Observation/o1/_history/2' }, { reference: `${base}/Observation/o2` }, { reference: 'http://other.example.org/fhir/Observation/o3' }],
      presentedForm: [{ url: 'Binary/c1/_history/1' }],
    } as Resource;
    expect(propagatingKeys(report, base)).toEqual(['Observation/o1', 'Observation/o2', 'http://other.example.org/fhir/Observation/o3', 'Binary/c1']);
  });
});

describe('Media: its content names a Binary like a document\'s attachment; its references follow the propagation rules', () => {
  const image = (id: string) => ({ resourceType: 'Binary', id, contentType: 'image/jpeg', securityContext: { reference: 'Patient/p1' }, data: '/9j/' }) as Resource;
  const media = (extra: Record<string, unknown> = {}) => ({
    resourceType: 'Media', id: 'm1', status: 'completed', subject: { reference: 'Patient/p1' },
    content: { contentType: 'image/jpeg', url: 'Binary/b1' }, ...extra,
  }) as Resource;
  const dep = condition(SYSTEMS.icd10cm, 'F32.9', 'dep');
  const hivOrder = { resourceType: 'ServiceRequest', id: 'sr1', status: 'active', intent: 'order', subject: { reference: 'Patient/p1' }, code: cc(SYSTEMS.loinc, '10351-5') } as Resource;
  const psyVisit: Encounter = { resourceType: 'Encounter', id: 'e1', status: 'finished', class: { code: 'AMB' }, reasonCode: [cc(SYSTEMS.icd10cm, 'F32.9')] };
  const psyProcedure = { resourceType: 'Procedure', id: 'pr1', status: 'completed', subject: { reference: 'Patient/p1' }, reasonReference: [{ reference: 'Condition/dep' }] } as Resource;

  it('namedBinaries: Media.content.url, versioned or not; a non-Media `content` is no attachment', () => {
    expect(namedBinaries(media())).toEqual(['Binary/b1']);
    expect(namedBinaries(media({ content: { url: 'https://hie.example/fhir/Binary/b2/_history/1' } }), 'https://hie.example/fhir')).toEqual(['Binary/b2']);
    expect(namedBinaries({ resourceType: 'Basic', id: 'x', code: { text: 'x' }, content: { url: 'Binary/b1' } } as unknown as Resource)).toEqual([]);
  });

  it('a Media labelled by its reasonCode (value sets) passes the label to its content Binary', () => {
    const out = propagateLabels([image('b1'), media({ reasonCode: [cc(SYSTEMS.icd10cm, 'F32.9')] })], vs);
    expect(out.map(declaredLabels)).toEqual([['PSY'], ['PSY']]);
    expect(propagateLabels([image('b1'), media()], vs).map(declaredLabels)).toEqual([[], []]);
    expect([...labelsForNamedBinaries([{ resource: media(), labels: ['HIV'] }]).keys()]).toEqual(['Binary/b1']);
  });

  it('basedOn carries a labelled order\'s labels (to the Binary too); encounter and partOf do not, as for an Observation', () => {
    expect(propagateLabels([image('b1'), hivOrder, media({ basedOn: [{ reference: 'ServiceRequest/sr1' }] })], vs).map(declaredLabels)).toEqual([['HIV'], ['HIV'], ['HIV']]);
    expect(propagateLabels([image('b1'), psyVisit, media({ encounter: { reference: 'Encounter/e1' } })], vs).map(declaredLabels)).toEqual([[], ['PSY'], []]);
    expect(propagateLabels([image('b1'), dep, psyProcedure, media({ partOf: [{ reference: 'Procedure/pr1' }] })], vs).map(declaredLabels)).toEqual([[], ['PSY'], ['PSY'], []]);
    const obs: Observation = { resourceType: 'Observation', id: 'o1', status: 'final', code: { text: 'photo' }, partOf: [{ reference: 'Procedure/pr1' }], encounter: { reference: 'Encounter/e1' } };
    expect(propagateLabels([dep, psyProcedure, psyVisit, obs], vs).map(declaredLabels)).toEqual([['PSY'], ['PSY'], ['PSY'], []]);
  });
});
