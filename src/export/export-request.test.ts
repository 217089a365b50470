import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FhirError } from '../fhir/outcome.ts';
import { parametersToPairs, parseExportRequest } from './export-request.ts';
import { filesOf } from './export-runner.ts';

const parse = (pairs: Array<[string, string]>, strict = false) => parseExportRequest('system', undefined, pairs, strict);
const status = (f: () => unknown) => {
  try {
    f();
    return 200;
  } catch (err) {
    return err instanceof FhirError ? err.status : 500;
  }
};

describe('parseExportRequest', () => {
  it('reads _type (comma lists and repeats, de-duplicated), _since and the NDJSON output formats', () => {
    const r = parse([['_type', 'Patient, Observation'], ['_type', 'Observation,Condition'], ['_since', '2026-01-02T03:04:05+01:00'], ['_outputFormat', 'application/fhir+ndjson']]);
    expect(r).toEqual({ level: 'system', types: ['Patient', 'Observation', 'Condition'], since: '2026-01-02T02:04:05.000Z', warnings: [] });
    for (const format of ['application/ndjson', 'ndjson']) expect(status(() => parse([['_outputFormat', format]]))).toBe(200);
  });

  it('refuses what would widen or change the export instead of ignoring it', () => {
    for (const name of ['patient', '_until', 'includeAssociatedData']) expect(status(() => parse([[name, 'x']])), name).toBe(400);
    expect(status(() => parse([['_outputFormat', 'text/csv']]))).toBe(400);
    expect(status(() => parse([['_since', '2026-01-02']]))).toBe(400);
    expect(status(() => parse([['_since', '2026-13-45T00:00:00Z']]))).toBe(400);
    expect(status(() => parse([['_since', '2026-01-02T00:00:00Z'], ['_since', '2026-01-03T00:00:00Z']]))).toBe(400);
    expect(status(() => parse([['_type', 'NotAType']]))).toBe(400);
    expect(status(() => parse([['_type', 'AuditEvent']]))).toBe(400);
    expect(status(() => parse([['_type', ' , ']]))).toBe(400);
  });

  it('reads _typeFilter criteria per type: repeated or comma-separated, each decoded once as a search query', () => {
    const r = parse([
      ['_type', 'Observation,Condition'],
      ['_typeFilter', 'Observation?code=http%3A%2F%2Floinc.org%7C2345-7&date=ge2020-01-01'],
      ['_typeFilter', 'Observation?category=laboratory,Condition?clinical-status=active'],
      ['_typeFilter', 'Observation?code=a,b'],
    ]);
    expect(r.typeFilters).toEqual({
      Observation: [
        [['code', 'http://loinc.org|2345-7'], ['date', 'ge2020-01-01']],
        [['category', 'laboratory']],
        [['code', 'a,b']],
      ],
      Condition: [[['clinical-status', 'active']]],
    });
  });

  it('refuses a _typeFilter that is not Type?criteria, names no R4 type, shapes a result or a type _type leaves out', () => {
    for (const value of ['x', 'Observation', 'Observation?', '?code=1', 'observation?code=1', 'NotAType?code=1', 'AuditEvent?action=R',
      'Observation?code=1&_count=5', 'Observation?_sort=date', 'Observation?_include=Observation:subject']) {
      expect(status(() => parse([['_typeFilter', value]])), value).toBe(400);
    }
    expect(status(() => parse([['_type', 'Condition'], ['_typeFilter', 'Observation?code=1']]))).toBe(400);
    expect(status(() => parse([['_typeFilter', 'Observation?code=1']]))).toBe(200);
  });

  it('reads _elements per type (Type.name) or for every type (name), and refuses anything but root elements', () => {
    expect(parse([['_elements', 'id, Observation.code,Patient.name'], ['_elements', 'Observation.status']]).elements)
      .toEqual({ '*': ['id'], Observation: ['code', 'status'], Patient: ['name'] });
    for (const value of ['Observation.code.coding', 'observation.code', 'NotAType.code', 'a-b', 'Observation.']) {
      expect(status(() => parse([['_elements', value]])), value).toBe(400);
    }
  });

  it('reads patient as a Reference or Patient/{id}, de-duplicated, and refuses anything else', () => {
    expect(parseExportRequest('patient', undefined, [['patient', 'Patient/a'], ['patient', '{"reference":"Patient/a"}']], false).patients).toEqual(['a']);
    for (const value of ['a', 'Observation/a', 'Patient/', 'Patient/a/_history/1', '{"reference":1}', '{not json', 'Patient/a b']) {
      expect(status(() => parseExportRequest('patient', undefined, [['patient', value]], false)), value).toBe(400);
    }
  });

  it('reports unknown parameters under lenient handling and refuses them under strict', () => {
    expect(parse([['_foo', '1']]).warnings[0]).toContain('_foo');
    expect(status(() => parse([['_foo', '1']], true))).toBe(400);
  });

  it('never fails other than with a 400 on any parameters (property)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.oneof(fc.constantFrom('_type', '_since', '_outputFormat', '_typeFilter'), fc.string()), fc.string())), fc.boolean(), (pairs, strict) => {
      expect([200, 400]).toContain(status(() => parse(pairs, strict)));
    }));
  });
});

describe('parametersToPairs', () => {
  it('turns a POSTed Parameters resource into pairs and refuses other bodies', () => {
    expect(parametersToPairs({ resourceType: 'Parameters', parameter: [{ name: '_type', valueString: 'Patient' }, { name: '_since', valueInstant: '2026-01-01T00:00:00Z' }] }))
      .toEqual([['_type', 'Patient'], ['_since', '2026-01-01T00:00:00Z']]);
    expect(parametersToPairs(undefined)).toEqual([]);
    expect(status(() => parametersToPairs({ resourceType: 'Patient' }))).toBe(400);
    expect(status(() => parametersToPairs({ resourceType: 'Parameters', parameter: [{ valueString: 'x' }] }))).toBe(400);
    // A reference (`patient`) becomes its JSON, which the request parser reads at Patient and Group level.
    const pairs = parametersToPairs({ resourceType: 'Parameters', parameter: [{ name: 'patient', valueReference: { reference: 'Patient/1' } }, { name: 'patient', valueReference: { reference: 'Patient/p-2' } }] });
    expect(parseExportRequest('patient', undefined, pairs, false).patients).toEqual(['1', 'p-2']);
    expect(parseExportRequest('group', 'g', pairs, false).patients).toEqual(['1', 'p-2']);
    expect(status(() => parse(pairs))).toBe(400);
  });
});

describe('filesOf', () => {
  it('names each type\'s files in order, bounds each by the next one\'s first id, and leaves the ends open', () => {
    expect(filesOf([{ type: 'Condition', from: 'a' }, { type: 'Observation', from: 'a' }, { type: 'Observation', from: 'm' }])).toEqual([
      { type: 'Condition', name: 'Condition-1.ndjson', from: '', to: null },
      { type: 'Observation', name: 'Observation-1.ndjson', from: '', to: 'm' },
      { type: 'Observation', name: 'Observation-2.ndjson', from: 'm', to: null },
    ]);
    expect(filesOf([])).toEqual([]);
  });
});
