import type { Bundle } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { convertCcda, ingestCcda } from './convert.ts';
import { HASH_SYSTEM, identifierFromCdaId, identifierQuery, URI_SYSTEM, uuidFromSeed } from './dedupe-keys.ts';
import { hasCcdaCorpus, NOW, readCorpus } from './test-corpus.ts';

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

  it('entries without ids get a content hash key that is stable across documents', () => {
    const doc = xml('hl7-examples/documents/CCD_1.xml').replace(/<id\s[^>]*\/>/g, '<id nullFlavor="NI"/>');
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

  it('updateExisting switches clinical entries to conditional update', () => {
    const { bundle } = convertCcda(xml('onc-cures/toc/170.315_b1_toc_amb_ccd_r21_sample2_v11.xml'), { now: NOW, updateExisting: true });
    const cond = bundle.entry?.find((e) => e.resource?.resourceType === 'Condition');
    expect(cond?.request?.method).toBe('PUT');
    expect(cond?.request?.url).toMatch(/^Condition\?identifier=/);
  });
});
