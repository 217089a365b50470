import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FhirError } from '../../fhir/outcome.ts';
import { parseSearch } from './parse.ts';
import type { ChainFilter, HasFilter, ParamFilter } from './types.ts';

const parse = (type: string, q: string, strict = false) => parseSearch(type, [...new URLSearchParams(q)], { strict, baseUrl: 'http://hie.test/fhir' });
const status = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof FhirError ? err.status : -1;
  }
  return 200;
};

describe('parseSearch', () => {
  it('a reference to a type the parameter cannot refer to is a 400 naming the parameter and its target types', () => {
    const message = (q: string, type = 'Observation') => {
      try {
        parse(type, q);
      } catch (err) {
        return err instanceof FhirError ? `${err.status} ${err.outcome.issue[0].diagnostics}` : String(err);
      }
      return '200';
    };
    const expected = "400 Search parameter 'subject' cannot refer to Practitioner: its target types are Device, Group, Location, Patient";
    for (const q of ['subject=Practitioner/1', 'subject:Practitioner=1', 'subject=http://hie.test/fhir/Practitioner/1', 'subject=Patient/1,Practitioner/1', 'subject:Practitioner.name=x']) {
      expect(message(q), q).toBe(expected);
    }
    expect(message('_has:Observation:subject:subject=Practitioner/1', 'Patient')).toBe(expected);
    expect(message('patient=Group/1')).toBe("400 Search parameter 'patient' cannot refer to Group: its target types are Patient");
    // Allowed types, another server's URL (any type), a bare id, and a modifier that is no type at all are as before.
    for (const q of ['subject=Group/1', 'subject:Device=1', 'subject=http://other.test/fhir/Practitioner/1', 'subject=1']) expect(message(q), q).toBe('200');
    expect(message('subject:bogus=1')).toBe("400 Unsupported modifier ':bogus' on 'subject'");
  });

  it('comma is OR, repeated parameter is AND', () => {
    const { request } = parse('Patient', 'birthdate=ge1980&birthdate=lt1990&gender=male,female');
    expect(request.filters).toHaveLength(3);
    const g = request.filters[2] as ParamFilter;
    expect(g.values).toEqual([{ kind: 'token', code: 'male' }, { kind: 'token', code: 'female' }]);
    expect((request.filters[0] as ParamFilter).values[0]).toEqual({ kind: 'date', prefix: 'ge', lo: '1980-01-01T00:00:00.000Z', hi: '1981-01-01T00:00:00.000Z' });
  });

  it('parses tokens, escapes and quantities', () => {
    const { request } = parse('Observation', 'code=http://loinc.org|8302-2&category=|x&value-quantity=le5.40|http://unitsofmeasure.org|mg&combo-code=a\\,b');
    const [code, cat, q, combo] = request.filters as ParamFilter[];
    expect(code.values[0]).toEqual({ kind: 'token', system: 'http://loinc.org', code: '8302-2' });
    expect(cat.values[0]).toEqual({ kind: 'token', system: '', code: 'x' });
    expect(q.values[0]).toEqual({ kind: 'number', prefix: 'le', value: '5.40', half: '0.005', system: 'http://unitsofmeasure.org', code: 'mg' });
    expect(combo.values).toEqual([{ kind: 'token', code: 'a,b' }]);
  });

  it('an exponent sets the precision of eq: half a unit of the last digit given', () => {
    const half = (v: string) => ((parse('RiskAssessment', `probability=${v}`).request.filters[0] as ParamFilter).values[0] as { half: string }).half;
    expect([half('100'), half('1e2'), half('1.5e2'), half('2.50e-1')]).toEqual(['0.5', '50', '5', '0.0005']);
    expect(status(() => parse('RiskAssessment', 'probability=1e999999999'))).toBe(400);
  });

  it('resolves references: relative, bare id with type modifier, own absolute URL, another server\'s (as the index keeps it), canonical', () => {
    const { request } = parse('Observation', 'subject=Patient/1&subject:Patient=2&subject=http://hie.test/fhir/Patient/3&subject=http://elsewhere.org/Patient/4&subject=http://elsewhere.org/Patient/5/_history/1&subject=5');
    expect((request.filters as ParamFilter[]).map((f) => f.values[0])).toEqual([
      { kind: 'reference', type: 'Patient', id: '1' },
      { kind: 'reference', type: 'Patient', id: '2' },
      { kind: 'reference', type: 'Patient', id: '3' },
      { kind: 'reference', url: 'http://elsewhere.org/Patient/4' },
      { kind: 'reference', url: 'http://elsewhere.org/Patient/5' },
      { kind: 'reference', id: '5' },
    ]);
    expect(parse('Library', 'depends-on=http://hl7.org/fhir/Library/x|1.0').request.filters[0]).toMatchObject({ values: [{ kind: 'reference', url: 'http://hl7.org/fhir/Library/x' }] });
  });

  it('chains one level over the allowed targets, and _has', () => {
    const { request } = parse('Observation', 'subject:Patient.name=smith&_has:Provenance:target:agent=Practitioner/1');
    const chain = request.filters[0] as ChainFilter;
    expect(chain.inner.map((i) => i.targetType)).toEqual(['Patient']);
    const has = request.filters[1] as HasFilter;
    expect([has.sourceType, has.refParam.code, has.filter.param.code]).toEqual(['Provenance', 'target', 'agent']);
    expect(parse('Observation', 'subject.name=smith').request.filters[0]).toMatchObject({ kind: 'chain' });
  });

  it('result parameters', () => {
    const { request, warnings } = parse('Patient', '_count=5000&_offset=40&_total=accurate&_summary=count&_elements=name,birthDate&_sort=-birthdate,_id&_include=Patient:organization&_revinclude:iterate=Observation:subject&_format=json');
    expect([request.count, request.offset, request.total, request.summary]).toEqual([1000, 40, 'accurate', 'count']);
    expect(request.elements).toEqual(['name', 'birthDate']);
    expect(request.sort.map((s) => [s.param.code, s.descending])).toEqual([['birthdate', true], ['_id', false]]);
    expect(request.include[0]).toMatchObject({ sourceType: 'Patient', iterate: false });
    expect(request.revinclude[0]).toMatchObject({ sourceType: 'Observation', iterate: true });
    expect(warnings).toEqual([]);
  });

  it('unknown parameters warn (lenient) or fail (strict)', () => {
    expect(parse('Patient', 'foo=bar&_text=x').warnings).toHaveLength(2);
    expect(status(() => parse('Patient', 'foo=bar', true))).toBe(400);
    expect(status(() => parse('Patient', '_sort=nope', true))).toBe(400);
  });

  it.each([
    'birthdate=2020-13-01', 'birthdate=xx2020', 'birthdate=yesterday', 'value-quantity=abc', 'value-quantity=1|a|b|c',
    'name:fuzzy=x', 'gender:exact=x', 'subject=Patient/has space', 'subject:Medication=1', '_count=-1', '_total=maybe',
    'deceased:missing=perhaps', 'identifier:of-type=a|b', '_elements=a;b',
  ])('rejects %s with 400', (q) => {
    expect(status(() => parse(q.startsWith('value') || q.startsWith('subject') ? 'Observation' : 'Patient', q))).toBe(400);
  });

  it('unknown resource type is a 400', () => {
    expect(status(() => parse('Nope', 'x=y'))).toBe(400);
  });

  it('never throws anything but FhirError on arbitrary input', () => {
    const key = fc.oneof(fc.string(), fc.constantFrom('name', 'birthdate', '_has:Observation:patient:code', 'subject:Patient.name', '_sort', '_count', '_include', 'identifier:of-type', 'value-quantity'));
    fc.assert(
      fc.property(fc.constantFrom('Patient', 'Observation', 'Encounter'), fc.array(fc.tuple(key, fc.string()), { maxLength: 6 }), fc.boolean(), (type, q, strict) => {
        const s = status(() => parseSearch(type, q, { strict }));
        expect([200, 400]).toContain(s);
      }),
      { numRuns: 500 },
    );
  });
});
