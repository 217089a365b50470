import type { Bundle, Identifier, Immunization } from '@medplum/fhirtypes';
import { BundleCollector } from './collector.ts';
import { describe, expect, it } from 'vitest';
import { convertCcda, ingestCcda } from './convert.ts';
import { HASH_SYSTEM, identifierFromCdaId, identifierQuery, URI_SYSTEM, uuidFromSeed } from './dedupe-keys.ts';
import { corpusFiles, hasCcdaCorpus, NOW, readCorpus } from './test-corpus.ts';

describe('CDA id → FHIR identifier convention', () => {
  it('root+extension → urn:oid:<root> | extension; well-known roots use their FHIR system', () => {
    expect(identifierFromCdaId({ '@_root': '2.16.840.1.113883.19.5', '@_extension': 'A1' })).toEqual({ system: 'urn:oid:2.16.840.1.113883.19.5', value: 'A1' });
    expect(identifierFromCdaId({ '@_root': '2.16.840.1.113883.4.6', '@_extension': '111' })).toEqual({ system: 'http://hl7.org/fhir/sid/us-npi', value: '111' });
  });

  it('root only → urn:ietf:rfc:3986 with urn:oid: or (lower-cased) urn:uuid:', () => {
    expect(identifierFromCdaId({ '@_root': '1.2.3.4' })).toEqual({ system: URI_SYSTEM, value: 'urn:oid:1.2.3.4' });
    expect(identifierFromCdaId({ '@_root': 'AB1791B0-5C71-11DB-B0DE-0800200C9A66' })).toEqual({ system: URI_SYSTEM, value: 'urn:uuid:ab1791b0-5c71-11db-b0de-0800200c9a66' });
    expect(identifierFromCdaId({ '@_root': 'not an oid' })).toBeUndefined();
  });

  it('identifier queries escape FHIR search separators and URL delimiters', () => {
    expect(identifierQuery({ system: 'urn:oid:1.2', value: 'a|b,c$d&e' })).toBe('identifier=urn:oid:1.2|a\\|b\\,c\\$d%26e');
  });

  it('fullUrl UUIDs are deterministic and version-5 shaped', () => {
    expect(uuidFromSeed('doc#1')).toBe(uuidFromSeed('doc#1'));
    expect(uuidFromSeed('doc#1')).not.toBe(uuidFromSeed('doc#2'));
    expect(uuidFromSeed('x')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

const CLINICAL = ['AllergyIntolerance', 'Condition', 'Encounter', 'Immunization', 'MedicationStatement', 'Observation', 'Procedure'];

/** Every identifier of a clinical resource as `Type identifier`, once per resource that carries it. */
function carriedIdentifiers(bundle: Bundle): string[] {
  return (bundle.entry ?? []).flatMap((e) => {
    const r = e.resource as { resourceType: string; identifier?: Identifier[] };
    return CLINICAL.includes(r.resourceType) ? [...new Set((r.identifier ?? []).map((i) => `${r.resourceType} ${i.system}|${i.value}`))] : [];
  });
}

const vaccine = (cvx: string, date: string): Immunization => ({
  resourceType: 'Immunization', status: 'completed', vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: cvx }] }, patient: {}, occurrenceDateTime: date,
});

/** Conditional keys a collector gives vaccines that all carry one CDA id, added in the given order, by vaccine code. */
function keysOfReusedId(order: Array<[string, string]>, subject = 'urn:test|P1'): Record<string, string> {
  const out = new BundleCollector('doc', 'urn:katahdin:ccda:test', false, subject);
  for (const [cvx, date] of order) out.add(vaccine(cvx, date), { '@_root': 'e6f1ba43-c0ed-4b9b-9f12-f435d8ad8f92' }, ['Immunization', cvx, date]);
  out.finish();
  return Object.fromEntries(out.entries.map((e) => [(e.resource as Immunization).vaccineCode.coding?.[0].code, e.request?.ifNoneExist ?? '']));
}

describe('an id reused for different items', () => {
  it('names none of them: each gets its own key, whatever the entry order', () => {
    const forward = keysOfReusedId([['88', '1999-11'], ['33', '1998-12-15'], ['103', '1998-12-15']]);
    const backward = keysOfReusedId([['103', '1998-12-15'], ['33', '1998-12-15'], ['88', '1999-11']]);
    expect(forward).toEqual(backward);
    expect(new Set(Object.values(forward)).size).toBe(3);
    expect(Object.values(forward).every((k) => k.includes(HASH_SYSTEM))).toBe(true);
  });

  it('keys Katahdin derives are scoped to the patient, so two patients\' identical items never share one', () => {
    const order: Array<[string, string]> = [['88', '1999-11'], ['33', '1998-12-15']];
    expect(keysOfReusedId(order, 'urn:test|P1')['88']).not.toBe(keysOfReusedId(order, 'urn:test|P2')['88']);
  });

  it('an id used by one item is its key', () => {
    expect(keysOfReusedId([['88', '1999-11']])['88']).toBe('identifier=urn:ietf:rfc:3986|urn:uuid:e6f1ba43-c0ed-4b9b-9f12-f435d8ad8f92');
  });
});

function keys(bundle: Bundle, type?: string): string[] {
  return (bundle.entry ?? []).filter((e) => !type || e.resource?.resourceType === type).flatMap((e) => (e.request?.ifNoneExist ? [`${e.resource?.resourceType}?${e.request.ifNoneExist}`] : []));
}

describe.skipIf(!hasCcdaCorpus)('de-duplication across and within documents', () => {
  const xml = (f: string) => readCorpus(f).toString('utf8');

  it('the same document converts to the identical bundle (no clock, no randomness)', () => {
    const doc = xml('hl7-examples/documents/CCD_1.xml');
    expect(convertCcda(doc, { now: NOW })).toEqual(convertCcda(doc, { now: NOW }));
  });

  it('a later document from the same source repeats the conditional keys of the items it shares', () => {
    const first = convertCcda(xml('onc-cures/ciri/170.315_b2_ciri__r21_sample1_ccd_v12.xml'), { now: NOW }).bundle;
    const later = convertCcda(xml('onc-cures/ciri/170.315_b2_ciri__r21_sample1_ccd_recon_v12.xml'), { now: NOW }).bundle;
    for (const type of ['AllergyIntolerance', 'Condition']) {
      const shared = keys(first, type).filter((k) => keys(later, type).includes(k));
      expect(shared.length, type).toBeGreaterThan(0);
    }
    // The recon document re-identifies its medications (new CDA ids), so they are new items.
    expect(keys(later, 'MedicationStatement').filter((k) => keys(first, 'MedicationStatement').includes(k))).toEqual([]);
    // The recon document adds allergies the first did not have: those get new keys.
    expect(keys(later, 'AllergyIntolerance').length).toBeGreaterThan(keys(first, 'AllergyIntolerance').length);
  });

  it('entries without ids get a content hash key that is stable across documents about the same patient', () => {
    const full = xml('hl7-examples/documents/CCD_1.xml');
    const body = full.indexOf('<structuredBody');
    const doc = full.slice(0, body) + full.slice(body).replace(/<id\s[^>]*\/>/g, '<id nullFlavor="NI"/>');
    const a = convertCcda(doc, { now: NOW }).bundle;
    const b = convertCcda(doc.replace('<title>', '<title>Re-sent: '), { now: NOW }).bundle;
    const clinical = keys(a).filter((k) => !k.startsWith('Organization') && !k.startsWith('DocumentReference'));
    expect(clinical.length).toBeGreaterThan(10);
    expect(clinical.every((k) => k.includes(HASH_SYSTEM))).toBe(true);
    expect(keys(b)).toEqual(expect.arrayContaining(clinical));
  });

  it('an id reused for different items (ONC negative test) falls back to content keys instead of merging them', () => {
    const result = ingestCcda(readCorpus('onc-cures/negative/NT_Bad_ProblemObservationElements_r11_v3.xml'), { now: NOW });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const conditions = keys(result.bundle, 'Condition');
    expect(new Set(conditions).size).toBe(conditions.length);
    expect(conditions.some((k) => k.includes(HASH_SYSTEM))).toBe(true);
  });

  it('no corpus document gives one identifier to two resources of a type (a later conditional create would match both)', () => {
    for (const file of corpusFiles()) {
      const result = ingestCcda(readCorpus(file), { now: NOW });
      if (!result.ok) continue;
      const carried = carriedIdentifiers(result.bundle);
      expect(carried.filter((k, i) => carried.indexOf(k) !== i), file).toEqual([]);
    }
  });

  it('CCD_1: four different immunizations under one CDA id stay four, none keyed or identified by that id', () => {
    const { bundle } = convertCcda(xml('hl7-examples/documents/CCD_1.xml'), { now: NOW });
    const immunizations = (bundle.entry ?? []).filter((e) => e.resource?.resourceType === 'Immunization');
    const shared = 'urn:uuid:e6f1ba43-c0ed-4b9b-9f12-f435d8ad8f92';
    expect(xml('hl7-examples/documents/CCD_1.xml').split('e6f1ba43-c0ed-4b9b-9f12-f435d8ad8f92').length - 1).toBe(4);
    expect(immunizations).toHaveLength(5);
    expect(JSON.stringify(immunizations.map((e) => e.resource))).not.toContain(shared);
    expect(new Set(immunizations.map((e) => e.request?.ifNoneExist)).size).toBe(5);
  });

  it('the same act listed twice (the visit as encompassingEncounter and as an Encounters entry) is one resource with what both say', () => {
    const result = ingestCcda(readCorpus('chb-sample-ccdas/cerner_Transition_of_Care_Referral_Summary.xml'), { now: NOW });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const encounters = (result.bundle.entry ?? []).flatMap((e) => (e.resource?.resourceType === 'Encounter' ? [e.resource] : []));
    expect(encounters).toHaveLength(1);
    expect(encounters[0].type?.[0].text).toBe('Inpatient');
    expect(encounters[0].diagnosis).toHaveLength(2);
    expect(result.summary['duplicates-merged']).toBe(1);
  });

  it('updateExisting switches clinical entries to conditional update', () => {
    const { bundle } = convertCcda(xml('onc-cures/toc/170.315_b1_toc_amb_ccd_r21_sample2_v11.xml'), { now: NOW, updateExisting: true });
    const cond = bundle.entry?.find((e) => e.resource?.resourceType === 'Condition');
    expect(cond?.request?.method).toBe('PUT');
    expect(cond?.request?.url).toMatch(/^Condition\?identifier=/);
  });
});
