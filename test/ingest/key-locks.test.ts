import { describe, expect, it } from 'vitest';
import { conditionalKey, conditionalKeys } from '../../src/ingest/key-locks.ts';

describe('conditional keys locked before an ingestion transaction', () => {
  it('collects conditional creates and updates, once each, sorted; plain creates need no lock', () => {
    const keys = conditionalKeys([
      { request: { method: 'PUT', url: 'Patient?identifier=urn:x|1' } },
      { request: { method: 'POST', url: 'Organization', ifNoneExist: 'identifier=urn:katahdin:facility|F' } },
      { request: { method: 'POST', url: 'Binary' } },
      { request: { method: 'PUT', url: 'Patient/abc' } },
      { request: { method: 'POST', url: 'Organization', ifNoneExist: 'identifier=urn%3Akatahdin%3Afacility|F' } },
    ]);
    expect(keys).toEqual(['Organization?identifier=urn%3Akatahdin%3Afacility%7CF', 'Patient?identifier=urn%3Ax%7C1']);
  });

  it('spells a key the same whatever the percent-encoding of the query', () => {
    expect(conditionalKey('Patient', 'identifier=urn%3Aoid%3A1.2|A%20B')).toBe(conditionalKey('Patient', 'identifier=urn:oid:1.2|A B'));
  });
});
