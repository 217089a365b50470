import type { Bundle, BundleEntry, DocumentReference, Resource } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { ingestCcda } from './convert.ts';
import { EXPECTED } from './corpus-counts.ts';
import { corpusFiles, hasCcdaCorpus, NOW, readCorpus } from './test-corpus.ts';

const CLINICAL = new Set(['AllergyIntolerance', 'MedicationStatement', 'Condition', 'Observation', 'Immunization', 'Procedure', 'Encounter']);

function patientRefOf(r: Resource): string | undefined {
  const x = r as { subject?: { reference?: string }; patient?: { reference?: string } };
  return x.subject?.reference ?? x.patient?.reference;
}

/** Every `urn:uuid:` string anywhere in the resource must be a fullUrl of this bundle. */
function danglingRefs(bundle: Bundle): string[] {
  const urls = new Set(bundle.entry?.map((e) => e.fullUrl));
  const found = JSON.stringify(bundle.entry?.map((e) => e.resource)).match(/"reference":"urn:uuid:[0-9a-f-]+"/g) ?? [];
  return found.map((s) => s.slice(13, -1)).filter((u) => !urls.has(u));
}

describe.skipIf(!hasCcdaCorpus)('C-CDA corpus: every file converted or rejected with a reason', () => {
  const files = corpusFiles();

  it('the pinned table covers the whole corpus', () => {
    expect(files.length).toBe(95);
    expect(Object.keys(EXPECTED).sort()).toEqual([...files].sort());
  });

  it.each(files)('%s', (file) => {
    const result = ingestCcda(readCorpus(file), { now: NOW });
    const expected = EXPECTED[file];
    if (!result.ok) {
      expect({ error: result.error.code, status: result.error.status }).toEqual(expected);
      expect(result.error.message.length).toBeGreaterThan(10);
      return;
    }
    expect(result.summary).toEqual(expected);
    checkBundle(result.bundle);
  });
});

function checkBundle(bundle: Bundle): void {
  expect(bundle.type).toBe('transaction');
  const entries = bundle.entry as BundleEntry[];
  expect(new Set(entries.map((e) => e.fullUrl)).size).toBe(entries.length);
  const patient = entries.find((e) => e.resource?.resourceType === 'Patient') as BundleEntry;
  const source = patient.resource?.meta?.source as string;
  const doc = entries.find((e) => e.resource?.resourceType === 'DocumentReference')?.resource as DocumentReference;
  const replaces = !!doc.relatesTo?.some((r) => r.code === 'replaces');
  expect(source).toMatch(/^urn:katahdin:ccda:.+/);
  for (const entry of entries) {
    const r = entry.resource as Resource;
    expect(r.meta?.source).toBe(source);
    expect(r.id).toBeUndefined();
    if (!CLINICAL.has(r.resourceType)) continue;
    expect(patientRefOf(r)).toBe(patient.fullUrl);
    const key = (r as { identifier?: { system?: string; value?: string }[] }).identifier?.[0];
    expect(key?.system && key.value).toBeTruthy();
    // A replacement (relatedDocument RPLC: Care_Plan, CCD_Parent_Document_Replace, the ONC care plan) overwrites its
    // parent's items: conditional update on the same key instead of conditional create.
    const query = replaces ? entry.request?.url?.replace(`${r.resourceType}?`, '') : entry.request?.ifNoneExist;
    expect(entry.request).toMatchObject(replaces ? { method: 'PUT' } : { method: 'POST', url: r.resourceType });
    expect(query).toMatch(/^identifier=[^|]+\|.+/);
  }
  expect(danglingRefs(bundle)).toEqual([]);
  const docRef = entries.find((e) => e.resource?.resourceType === 'DocumentReference')?.resource as { content: { attachment: { url: string } }[] };
  const binary = entries.find((e) => e.resource?.resourceType === 'Binary') as BundleEntry;
  expect(docRef.content[0].attachment.url).toBe(binary.fullUrl);
}
