import { describe, expect, it } from 'vitest';
import { FhirError } from '../fhir/outcome.ts';
import { conditionalQuery } from './record-service.ts';

/** The 400's diagnostics, or a failure when `conditionalQuery` accepts the criteria. */
function refusal(type: string, query: string): string {
  try {
    conditionalQuery(type, query);
  } catch (err) {
    expect(err).toBeInstanceOf(FhirError);
    expect((err as FhirError).status).toBe(400);
    return (err as FhirError).outcome.issue?.[0]?.diagnostics ?? '';
  }
  throw new Error(`accepted: ${type}?${query}`);
}

describe('conditional criteria', () => {
  it('asks for at most two matches and no total', () => {
    expect(conditionalQuery('Substance', 'identifier=urn:a7|s1&_count=50&_total=accurate')).toEqual([['identifier', 'urn:a7|s1'], ['_count', '2'], ['_total', 'none']]);
  });

  it('refuses an unknown or unsupported parameter, naming it (the search is strict whatever the handling preference)', () => {
    expect(refusal('Substance', 'identifer=urn:a7|s2')).toContain('identifer');
    expect(refusal('Substance', 'identifier=urn:a7|s1&bogus=1')).toContain('bogus');
    expect(refusal('Patient', '_text=smith')).toContain('_text');
  });

  it('refuses criteria that select nothing: empty, only empty values, only result parameters', () => {
    for (const query of ['', 'identifier=', '_count=5', '_format=json']) expect(refusal('Substance', query)).toMatch(/at least one search parameter/);
    for (const query of ['identifier=urn:a7|s1&_summary=count', 'identifier=urn:a7|s1&_include=Substance:ingredient', 'code=x&_offset=1']) {
      expect(refusal('Substance', query)).toMatch(/is not allowed/);
    }
  });
});
