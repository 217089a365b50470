import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent, Bundle, CapabilityStatement, OperationOutcome } from '@medplum/fhirtypes';
import { systemContext } from '../../src/access/context.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { userWithToken } from '../support/tokens.ts';

const kinds = await databaseKinds();

describe.each(kinds)('GET and POST /fhir/AuditEvent, GET /fhir/AuditEvent/:id on %s', (kind) => {
  let server: TestServer;
  let po: string;
  let clinician: string;
  const call = (method: 'GET' | 'POST', url: string, token: string, extra: { body?: string; headers?: Record<string, string> } = {}) =>
    server.app.inject({
      method, url, payload: extra.body,
      headers: { authorization: `Bearer ${token}`, ...(extra.body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }), ...extra.headers },
    });
  const bundle = async (url: string, token = po) => {
    const res = await call('GET', url, token);
    expect(res.statusCode, url).toBe(200);
    return res.json<Bundle<AuditEvent | OperationOutcome>>();
  };
  const ids = (b: Bundle) => (b.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource!.id);
  /** A paging link as a path this server answers. */
  const link = (b: Bundle, relation: string) => {
    const url = b.link?.find((l) => l.relation === relation)?.url;
    return url && `${new URL(url).pathname}${new URL(url).search}`;
  };
  const rows = async <T,>(text: string, values: unknown[] = []) => (await server.services.db.query<T>(text, values)).rows;
  const maxSeq = async () => Number((await rows<{ s: string }>('select max(seq) as s from audit_log'))[0].s);

  beforeAll(async () => {
    server = await startTestServer(kind);
    const org = await server.services.gate.run(systemContext('test'), { action: 'create' }, (s) => server.services.records.create(s, { resourceType: 'Organization', name: 'Katahdin General' }));
    clinician = await userWithToken(server, { username: 'dr.search', role: 'clinician', organizationId: org.resource.id });
    po = await userWithToken(server, { username: 'po.search', role: 'privacy-officer' });
    // Enough events for three pages whatever the sign-ins wrote.
    for (let i = 0; i < 6; i++) await call('GET', '/fhir/Patient?_count=1', clinician);
  }, 300_000);
  afterAll(async () => server?.stop());

  it('pages stay the same pages although every page request appends an event', async () => {
    const first = await bundle('/fhir/AuditEvent?_count=3');
    const pin = Number(/_before=(\d+)/.exec(link(first, 'self')!)![1]);
    const expected = (await rows<{ seq: string }>('select seq from audit_log where seq <= $1 order by seq desc limit 9', [pin])).map((r) => String(r.seq));
    expect(ids(first)).toEqual(expected.slice(0, 3));
    const second = await bundle(link(first, 'next')!);
    const third = await bundle(link(second, 'next')!);
    expect(ids(second)).toEqual(expected.slice(3, 6));
    expect(ids(third)).toEqual(expected.slice(6, 9));
    expect([second.total, third.total]).toEqual([first.total, first.total]);
    expect(ids(await bundle(link(third, 'previous')!))).toEqual(ids(second));
    expect(ids(await bundle(link(second, 'previous')!))).toEqual(ids(first));
    expect(await maxSeq()).toBeGreaterThan(pin + 4); // the five page requests were audited, above the pin
  });

  it('searches date at the precision given: the day of the events, each prefix, repeated as AND', async () => {
    const pin = await maxSeq();
    const day = String((await rows<{ d: string }>('select to_char(recorded at time zone \'UTC\', \'YYYY-MM-DD\') as d from audit_log where seq = $1', [pin]))[0].d);
    const count = async (where: string) => Number((await rows<{ n: string }>(`select count(*) as n from audit_log where seq <= $1 and ${where}`, [pin, day]))[0].n);
    const total = async (date: string) => (await bundle(`/fhir/AuditEvent?_count=0&_before=${pin}&${date}`)).total;
    const inDay = await count('recorded >= $2::date and recorded < $2::date + 1');
    expect(inDay).toBeGreaterThan(0);
    expect(await total(`date=${day}`)).toBe(inDay);
    expect(await total(`date=eq${day}`)).toBe(inDay);
    expect(await total(`date=le${day}`)).toBe(await count('recorded < $2::date + 1'));
    expect(await total(`date=lt${day}`)).toBe(await count('recorded < $2::date'));
    expect(await total(`date=ge${day}`)).toBe(await count('recorded >= $2::date'));
    expect(await total(`date=gt${day}`)).toBe(await count('recorded >= $2::date + 1'));
    expect(await total(`date=ne${day}`)).toBe(await count('not (recorded >= $2::date and recorded < $2::date + 1)'));
    expect(await total(`date=ge${day}&date=lt${day}`)).toBe(0);
  });

  it('warns about unknown parameters in the Bundle, and answers 400 under Prefer: handling=strict', async () => {
    for (const headers of [{}, { prefer: 'handling=lenient' }] as Array<Record<string, string>>) {
      const res = await call('GET', '/fhir/AuditEvent?foo=bar&_count=1', po, { headers });
      expect(res.statusCode).toBe(200);
      const outcome = res.json<Bundle>().entry!.filter((e) => e.search?.mode === 'outcome').map((e) => e.resource as OperationOutcome);
      expect(outcome.map((o) => o.issue.map((i) => [i.severity, i.diagnostics]))).toEqual([[['warning', "Unknown or unsupported search parameter 'foo'"]]]);
    }
    const strict = await call('GET', '/fhir/AuditEvent?foo=bar', po, { headers: { prefer: 'handling=strict' } });
    expect(strict.statusCode).toBe(400);
    expect(strict.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', diagnostics: "Unknown or unsupported search parameter 'foo'" }] });
    expect((await call('GET', '/fhir/AuditEvent?action=E&_count=1', po, { headers: { prefer: 'handling=strict' } })).statusCode).toBe(200);
  });

  it('POST /fhir/AuditEvent/_search takes the form body, for privacy officers only', async () => {
    const pin = await maxSeq();
    const posted = await call('POST', '/fhir/AuditEvent/_search', po, { body: `action=E&_count=2&_before=${pin}` });
    expect(posted.statusCode).toBe(200);
    const got = posted.json<Bundle<AuditEvent>>();
    const searched = await bundle(`/fhir/AuditEvent?action=E&_count=2&_before=${pin}`);
    expect(ids(got)).toHaveLength(2);
    expect([ids(got), got.total]).toEqual([ids(searched), searched.total]);
    expect(got.entry!.map((e) => e.resource!.action)).toEqual(['E', 'E']);
    expect(link(got, 'next')).toContain('action=E');
    const before = await maxSeq();
    const refused = await call('POST', '/fhir/AuditEvent/_search', clinician, { body: '_count=2' });
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ resourceType: 'OperationOutcome' });
    expect(await rows('select action, outcome, agent_role from audit_log where seq > $1', [before])).toEqual([{ action: 'denied', outcome: 'denied', agent_role: 'clinician' }]);
  });

  it('reads one AuditEvent by the id its fullUrl names, audited; 403 for clinicians, 404 when absent', async () => {
    const page = await bundle('/fhir/AuditEvent?_count=1');
    const entry = page.entry![0];
    const id = entry.resource!.id!;
    expect(entry.fullUrl).toBe(`${server.services.fhirBase}/AuditEvent/${id}`);
    const before = await maxSeq();
    const read = await call('GET', new URL(entry.fullUrl!).pathname, po);
    expect(read.statusCode).toBe(200);
    expect(read.json()).toEqual(entry.resource);
    expect(await rows('select action, outcome, agent_role, entity_refs from audit_log where seq > $1', [before]))
      .toEqual([{ action: 'read', outcome: 'success', agent_role: 'privacy-officer', entity_refs: [`AuditEvent/${id}`] }]);
    const refused = await call('GET', `/fhir/AuditEvent/${id}`, clinician);
    expect(refused.statusCode).toBe(403);
    expect(refused.body).not.toContain('po.search');
    for (const absent of ['999999999', 'abc']) {
      const res = await call('GET', `/fhir/AuditEvent/${absent}`, po);
      expect(res.statusCode, absent).toBe(404);
      expect(res.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'not-found' }] });
    }
  });

  it('the CapabilityStatement lists for AuditEvent only read, search and the parameters implemented', async () => {
    const cs = (await server.app.inject({ method: 'GET', url: '/fhir/metadata' })).json<CapabilityStatement>();
    const audit = cs.rest![0].resource!.find((r) => r.type === 'AuditEvent')!;
    expect(Object.keys(audit).sort()).toEqual(['interaction', 'searchParam', 'type']);
    expect(audit.interaction!.map((i) => i.code)).toEqual(['read', 'search-type']);
    expect(audit.searchParam!.map((p) => [p.name, p.type]).sort()).toEqual([
      ['action', 'token'], ['agent', 'reference'], ['date', 'date'], ['entity', 'reference'], ['outcome', 'token'], ['patient', 'reference'], ['purpose', 'token'], ['subtype', 'token'],
    ]);
    const observation = cs.rest![0].resource!.find((r) => r.type === 'Observation')!;
    expect(observation.interaction!.map((i) => i.code)).toContain('create');
  });
});
