import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ingestCcda } from './convert.ts';
import { validateCcda } from './validate.ts';
import { hasCcdaCorpus, NOW, readCorpus } from './test-corpus.ts';

const CODES = new Set(['empty-document', 'malformed-xml', 'not-ccda', 'section-fragment', 'wrong-namespace', 'bad-type-id', 'missing-header', 'missing-patient', 'missing-patient-name', 'conversion-failed']);

/** Either a bundle, or a typed 400/422 error: never an exception. */
function assertTyped(input: string | Uint8Array): void {
  const result = ingestCcda(input, { now: NOW });
  if (result.ok) {
    expect(result.bundle.resourceType).toBe('Bundle');
    return;
  }
  expect([400, 422]).toContain(result.error.status);
  expect(CODES.has(result.error.code)).toBe(true);
}

describe.skipIf(!hasCcdaCorpus)('malformed C-CDA never throws', () => {
  // A small real document keeps each run fast; its header and body exercise every path.
  const doc = readCorpus('onc-cures/toc/170.315_b1_toc_amb_ccd_r21_sample2_v11.xml').toString('utf8');

  it('truncated documents give a typed error', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: doc.lastIndexOf('</ClinicalDocument>') }), (cut) => {
        const result = ingestCcda(doc.slice(0, cut), { now: NOW });
        expect(result.ok).toBe(false);
        if (!result.ok) expect(result.error.status).toBe(400);
      }),
      { numRuns: 40 },
    );
  });

  it('byte-level mutations (overwrite, delete, insert markup characters) never throw', () => {
    const mutation = fc.record({
      at: fc.integer({ min: 0, max: doc.length - 1 }),
      len: fc.integer({ min: 0, max: 40 }),
      insert: fc.oneof(fc.constantFrom('<', '>', '&', '"', '</x>', '<!--', ']]>', '\u0000', '<?xml'), fc.string({ maxLength: 20 })),
    });
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        let text = doc;
        for (const m of mutations) text = text.slice(0, m.at) + m.insert + text.slice(m.at + m.len);
        assertTyped(text);
      }),
      { numRuns: 60 },
    );
  });

  it('attribute and element damage inside a well-formed document never throws', () => {
    const edits = fc.constantFrom<[RegExp, string]>(
      [/code="[^"]*"/g, 'code=""'],
      [/value="[^"]*"/g, 'value="not-a-date"'],
      [/<effectiveTime[^>]*\/>/g, '<effectiveTime nullFlavor="UNK"/>'],
      [/<id [^>]*\/>/g, '<id nullFlavor="NI"/>'],
      [/xsi:type="PQ"/g, 'xsi:type="IVL_PQ"'],
      [/<entryRelationship/g, '<entryRelationshipX'],
      [/<\/entryRelationship>/g, '</entryRelationshipX>'],
    );
    fc.assert(
      fc.property(fc.array(edits, { minLength: 1, maxLength: 3 }), (chosen) => {
        let text = doc;
        for (const [pattern, replacement] of chosen) text = text.replace(pattern, replacement);
        assertTyped(text);
      }),
      { numRuns: 30 },
    );
  });
});

describe('arbitrary input never throws', () => {
  it('random strings and bytes', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => void validateCcda(s)), { numRuns: 200 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => assertTyped(b)), { numRuns: 200 });
  });
});
