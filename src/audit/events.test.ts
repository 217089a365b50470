import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical.ts';
import { accountRef, auditFacts, BREAK_GLASS_URL, buildAuditEvent, CLIENT_SYSTEM, KATAHDIN_ACTION, RELATIONSHIP_URL, USER_SYSTEM, withSourcePatients } from './events.ts';
import { eventOfRow, factsRow } from './entry.ts';
import { clinician } from './test-support.ts';

const at = new Date('2026-03-01T14:05:06.789Z');

describe('buildAuditEvent (IHE BALP)', () => {
  it('describes a clinician read with who, role, organization, network, purpose, patient and resource', () => {
    const e = buildAuditEvent({ ctx: clinician(), action: 'read', outcome: 'success', personIds: ['per-1'], resources: ['Observation/o1'], relationship: 'encounter' }, at);
    expect(e.type).toEqual({ system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'Restful Operation' });
    expect(e.subtype).toEqual([
      { system: 'http://hl7.org/fhir/restful-interaction', code: 'read' },
      { system: KATAHDIN_ACTION, code: 'read' },
      { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110110', display: 'Patient Record' },
    ]);
    expect(e.action).toBe('R');
    expect(e.outcome).toBe('0');
    expect(e.recorded).toBe('2026-03-01T14:05:06.789Z');
    const user = e.agent[0];
    expect(user.who).toEqual({ display: 'Dr. Dana Demo', identifier: { system: USER_SYSTEM, value: 'u-dana' } });
    expect(user.requestor).toBe(true);
    expect(user.role?.[0].coding?.[0].code).toBe('clinician');
    expect(user.network).toEqual({ address: '10.0.0.7', type: '2' });
    expect(user.purposeOfUse?.[0].coding?.[0]).toEqual({ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'TREAT' });
    expect(e.agent[1].who).toEqual({ reference: 'Organization/org-mercy' });
    expect(e.source.observer.display).toBe('Katahdin');
    expect(e.entity?.map((x) => [x.what?.reference, x.role?.code])).toEqual([['Person/per-1', '1'], ['Observation/o1', '4']]);
    expect(e.extension).toEqual([{ url: RELATIONSHIP_URL, valueCode: 'encounter' }]);
    expect(e.meta).toBeUndefined();
  });

  it('makes one event for a search naming 20 people, with the query in base64', () => {
    const people = Array.from({ length: 20 }, (_, i) => `per-${i}`);
    const e = buildAuditEvent({ ctx: clinician(), action: 'search', outcome: 'success', personIds: people, resources: [], query: 'Patient?family=roe&birthdate=1970-01-01' }, at);
    expect(e.action).toBe('E');
    expect(e.subtype?.[0].code).toBe('search-type');
    expect(e.entity?.filter((x) => x.role?.code === '1')).toHaveLength(20);
    const q = e.entity?.find((x) => x.role?.code === '24');
    expect(Buffer.from(q!.query!, 'base64').toString()).toBe('Patient?family=roe&birthdate=1970-01-01');
  });

  it('never stores an SSN from a query or detail', () => {
    const e = buildAuditEvent({
      ctx: clinician(), action: 'search', outcome: 'denied', personIds: [], resources: [],
      query: 'Patient?identifier=http://hl7.org/fhir/sid/us-ssn|123-45-6789', detail: 'no match for 123456789',
    }, at);
    const text = canonicalJson(e) + Buffer.from(e.entity![0].query!, 'base64').toString();
    expect(text).not.toMatch(/123-?45-?6789/);
    expect(e.outcome).toBe('4');
    expect(e.outcomeDesc).toBe('no match for #########');
  });

  it('flags break-the-glass with an extension and a BTG security label, and purpose ETREAT', () => {
    const e = buildAuditEvent({ ctx: clinician({ purposeOfUse: 'ETREAT' }), action: 'read', outcome: 'success', personIds: ['p'], resources: ['Condition/c'], relationship: 'break-glass' }, at);
    expect(e.extension).toContainEqual({ url: BREAK_GLASS_URL, valueBoolean: true });
    expect(e.meta?.security?.[0].code).toBe('BTG');
    expect(e.purposeOfEvent?.[0].coding?.[0].code).toBe('ETREAT');
    expect(auditFacts({ ctx: clinician({ purposeOfUse: 'ETREAT' }), action: 'read', outcome: 'success', personIds: ['p'], resources: [] }, at).breakGlass).toBe(true);
  });

  it('makes a system client the requestor when no user acts', () => {
    const e = buildAuditEvent({
      ctx: { clientId: 'lab-feed', displayName: 'Acme Lab', role: 'system', scopes: [], purposeOfUse: 'TREAT', organizationId: 'org-lab' },
      action: 'ingest', outcome: 'success', personIds: ['p'], resources: ['Observation/1'],
    }, at);
    expect(e.type.code).toBe('110107');
    expect(e.agent[0]).toMatchObject({ who: { identifier: { system: CLIENT_SYSTEM, value: 'lab-feed' }, display: 'Acme Lab' }, requestor: true });
    expect(e.agent.filter((a) => a.requestor)).toHaveLength(1);
  });

  it('records failed logins as User Authentication / Login with a failure outcome', () => {
    const e = buildAuditEvent({ ctx: { displayName: 'unknown user', role: 'clinician', scopes: [], purposeOfUse: 'TREAT', sourceIp: '1.2.3.4' }, action: 'login-failed', outcome: 'success', personIds: [], resources: [] }, at);
    expect([e.type.code, e.subtype?.[0].code, e.outcome]).toEqual(['110114', '110122', '4']);
  });
});

describe('accounts and patients as BALP entities', () => {
  const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
  const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';

  it('names the user or client an administrator acted on by its identifier, as a security user entity', () => {
    const admin = clinician({ userId: 'u-admin', role: 'admin', purposeOfUse: 'HSYSADMIN' });
    const e = buildAuditEvent({ ctx: admin, action: 'disable', outcome: 'success', personIds: [], resources: [accountRef('user', 'u-9'), accountRef('client', 'lab-feed')], query: 'user dr.nine' }, at);
    expect([e.type.code, e.subtype?.[0].code, e.action]).toEqual(['110113', '110137', 'U']);
    expect(e.entity?.slice(0, 2)).toEqual([
      { what: { identifier: { system: USER_SYSTEM, value: 'u-9' } }, type: { system: ENTITY_TYPE, code: '2' }, role: { system: OBJECT_ROLE, code: '11' } },
      { what: { identifier: { system: CLIENT_SYSTEM, value: 'lab-feed' } }, type: { system: ENTITY_TYPE, code: '2' }, role: { system: OBJECT_ROLE, code: '11' } },
    ]);
  });

  it('follows each Person entity with the source Patients given for it, leaving the event itself alone', () => {
    const input = { ctx: clinician(), action: 'search' as const, outcome: 'success' as const, personIds: ['per-1', 'per-2'], resources: ['Observation/o1'] };
    const e = buildAuditEvent(input, at);
    const shown = withSourcePatients(e, (personId) => (personId === 'per-1' ? ['pa-1', 'pa-2'] : []));
    expect(shown.entity?.map((x) => [x.what?.reference, x.type?.code, x.role?.code])).toEqual([
      ['Person/per-1', '1', '1'], ['Patient/pa-1', '1', '1'], ['Patient/pa-2', '1', '1'], ['Person/per-2', '1', '1'], ['Observation/o1', '2', '4'],
    ]);
    expect(shown.entity?.[1]).toEqual({ what: { reference: 'Patient/pa-1' }, type: { system: ENTITY_TYPE, code: '1' }, role: { system: OBJECT_ROLE, code: '1' } });
    expect(e).toEqual(buildAuditEvent(input, at));
  });
});

describe('compact entries', () => {
  const roles = ['clinician', 'clinical-staff', 'registrar', 'privacy-officer', 'admin', 'system', 'patient'] as const;
  const actions = ['read', 'search', 'create', 'login-failed', 'break-glass', 'ingest', 'everything', 'audit-report'] as const;
  const input = fc.record({
    ctx: fc.record({
      userId: fc.option(fc.uuid(), { nil: undefined }),
      clientId: fc.option(fc.constantFrom('katahdin-web', 'lab-feed'), { nil: undefined }),
      displayName: fc.string({ minLength: 1 }),
      role: fc.constantFrom(...roles),
      organizationId: fc.option(fc.uuid(), { nil: undefined }),
      scopes: fc.constant([] as string[]),
      purposeOfUse: fc.constantFrom('TREAT', 'ETREAT', 'HOPERAT', 'PATRQT', 'HSYSADMIN' as const),
      sourceIp: fc.option(fc.ipV4(), { nil: undefined }),
    }),
    action: fc.constantFrom(...actions),
    outcome: fc.constantFrom('success', 'denied', 'error' as const),
    personIds: fc.uniqueArray(fc.uuid(), { maxLength: 4 }),
    resources: fc.uniqueArray(fc.constantFrom('Observation/1', 'Patient/2', 'Condition/3'), { maxLength: 3 }),
    query: fc.option(fc.string(), { nil: undefined }),
    detail: fc.option(fc.string({ maxLength: 300 }), { nil: undefined }),
    relationship: fc.option(fc.constantFrom('none', 'encounter', 'attestation', 'break-glass' as const), { nil: undefined }),
  });

  it('rebuild from their stored facts exactly the AuditEvent the act produces', () => {
    fc.assert(fc.property(input, (i) => {
      const row = factsRow({ seq: 7, chain: 1, chainSeq: 7 }, 'prev', 'hash', auditFacts(i, at));
      expect(row.event).toBeNull();
      expect(eventOfRow(row)).toEqual({ ...buildAuditEvent(i, at), id: '7' });
    }));
  });

  it('keep SSN-like numbers out of the stored query and detail', () => {
    const f = auditFacts({ ctx: clinician(), action: 'search', outcome: 'error', personIds: [], resources: [], query: 'Patient?identifier=123-45-6789', detail: 'bad 123456789' }, at);
    expect(`${f.query} ${f.detail}`).not.toMatch(/\d{3}-?\d{2}-?\d{4}/);
  });
});

describe('canonicalJson', () => {
  it('is independent of key order and round-trips through JSON', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      const text = canonicalJson(v);
      expect(canonicalJson(JSON.parse(text))).toBe(text);
      expect(canonicalJson(JSON.parse(JSON.stringify(v)))).toBe(text);
    }));
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: null }], u: undefined })).toBe('{"a":[{"c":null,"d":2}],"b":1}');
  });

  it('writes exactly the text of its definition (keys sorted by code unit, undefined members dropped)', () => {
    const spec = (v: unknown): string => {
      if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
      if (Array.isArray(v)) return `[${v.map((x) => spec(x === undefined ? null : x)).join(',')}]`;
      const entries = Object.entries(v).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${spec(x)}`).join(',')}}`;
    };
    const withUndefined = fc.letrec((tie) => ({
      value: fc.oneof({ depthSize: 'small' }, fc.string({ unit: 'grapheme-composite' }), fc.integer(), fc.boolean(), fc.constant(null), fc.constant(undefined),
        fc.array(tie('value')), fc.dictionary(fc.string({ unit: 'binary' }), tie('value'))),
    })).value;
    fc.assert(fc.property(withUndefined, (v) => {
      expect(canonicalJson(v)).toBe(spec(v));
    }), { numRuns: 500 });
    expect(canonicalJson({ 'é': 1, z: 2, 'Z': 3, '\u{1F600}': 4, '\uFFFF': 5 })).toBe(spec({ 'é': 1, z: 2, 'Z': 3, '\u{1F600}': 4, '\uFFFF': 5 }));
  });
});
