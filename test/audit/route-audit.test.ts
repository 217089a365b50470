import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle } from '@medplum/fhirtypes';
import { registeredRoutes } from '../../src/http/routes/index.ts';
import { buildCareFixture, type CareFixture, type FixtureRole } from '../support/care-fixture.ts';
import { databaseKinds } from '../support/databases.ts';
import { localPath, manifestOf } from '../support/bulk-export.ts';
import { routeFor, routeKey, RouteCaller, type CallResult } from '../support/route-calls.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { signIn, TEST_PASSWORD, systemClientToken } from '../support/tokens.ts';

const kinds = await databaseKinds();

/** Public routes that need no audit entry, with the reason. Sign-ins, token issuance, revocation and logout are NOT here: they must be audited. */
const EXEMPT: Record<string, string> = {
  'GET /healthz': 'liveness probe, no data',
  'GET /readyz': 'readiness probe, no data',
  'GET /fhir/metadata': 'CapabilityStatement, public',
  'GET /.well-known/smart-configuration': 'SMART discovery document, public',
  'GET /oauth/jwks': 'public keys',
  'GET /oauth/authorize': 'renders the sign-in page; the sign-in itself (POST) is audited',
  'GET /*': 'static web app files',
  'POST /portal/signup/start': 'public sign-up form before any identity exists; reads no record data',
  'POST /portal/signup/verify': 'completes sign-up; the patient\'s later sign-in is audited',
};

interface AuditRow {
  seq: number;
  action: string;
  outcome: string;
  agent_user_id: string | null;
  agent_role: string;
  agent_org: string | null;
  agent_client: string | null;
  source_ip: string | null;
  person_ids: string[];
}

interface Expectation {
  actions: string[];
  outcome: 'success' | 'denied' | 'error';
  role: FixtureRole;
  personId?: string;
}

describe.each(kinds)('every route is audited on %s', (kind) => {
  let server: TestServer;
  let f: CareFixture;
  let http: RouteCaller;
  const checked = new Set<string>();
  const lastSeq = async () => Number((await server.services.db.query<{ s: number }>('select coalesce(max(seq), 0) as s from audit_log')).rows[0].s);
  const since = async (seq: number) => (await server.services.db.query<AuditRow>('select * from audit_log where seq > $1 order by seq', [seq])).rows;
  const agentOf = (role: FixtureRole) => (role.startsWith('system') ? { agent_client: role === 'system-a' ? 'ehr-a' : 'ehr-b', agent_role: 'system' } : { agent_role: role });
  const orgOf = (role: FixtureRole) => (role === 'system-b' ? f.orgB : ['clinician', 'clinical-staff', 'registrar', 'system-a'].includes(role) ? f.orgA : null);

  /** Calls one route and asserts the audit entries it produced. */
  async function audited(method: string, url: string, e: Expectation, body?: unknown, headers?: Record<string, string>): Promise<CallResult> {
    const route = routeFor(registeredRoutes, method, url);
    expect(route, `${method} ${url} resolves to a registered route`).toBeTruthy();
    const before = await lastSeq();
    const res = await http.call(method, url, f.tokens[e.role], body, headers);
    const rows = await since(before);
    const hit = rows.find((r) => e.actions.includes(r.action) && r.outcome === e.outcome);
    expect(hit, `${method} ${url} (${res.status}) → audit ${JSON.stringify(rows.map((r) => [r.action, r.outcome]))}, wanted ${e.actions}/${e.outcome}`).toBeTruthy();
    expect(hit).toMatchObject({ ...agentOf(e.role), agent_org: orgOf(e.role) });
    expect(hit!.source_ip).toBe('127.0.0.1');
    if (e.personId) expect(hit!.person_ids).toContain(e.personId);
    checked.add(routeKey(route!));
    return res;
  }

  beforeAll(async () => {
    server = await startTestServer(kind);
    http = new RouteCaller(server, () => registeredRoutes);
    f = await buildCareFixture(server);
  }, 600_000);
  afterAll(async () => server?.stop());

  it('sign-ins, failed sign-ins and token issuance are audited', async () => {
    const before = await lastSeq();
    await signIn(server, 'dr.leak', TEST_PASSWORD);
    const query = new URLSearchParams({ response_type: 'code', client_id: 'katahdin-web', redirect_uri: `${server.services.config.publicUrl}/callback`, state: 'x', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', scope: 'openid user/*.rs' });
    const page = await server.app.inject({ method: 'GET', url: `/oauth/authorize?${query}` });
    expect(page.statusCode).toBe(200);
    const cookie = String([page.headers['set-cookie']].flat()[0]).split(';')[0];
    const formToken = /name="form_token" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
    await server.app.inject({ method: 'POST', url: '/oauth/authorize', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie }, payload: new URLSearchParams({ form_token: formToken, username: 'dr.leak', password: 'wrong-password' }).toString() });
    await systemClientToken(server, 'ehr-audit', f.orgA);
    const rows = await since(before);
    const find = (action: string, outcome: string) => rows.find((r) => r.action === action && r.outcome === outcome);
    expect(find('login', 'success'), 'successful login').toMatchObject({ agent_role: 'clinician', agent_org: f.orgA });
    expect(find('login-failed', 'denied'), 'failed login').toBeTruthy();
    expect(rows.filter((r) => r.action === 'token' && r.outcome === 'success').length, 'user and client token issuance').toBeGreaterThanOrEqual(2);
    expect(rows.find((r) => r.action === 'token' && r.agent_client === 'ehr-audit')).toBeTruthy();
    for (const r of rows) expect(r.source_ip, `${r.action} has a source IP`).toBeTruthy();
    checked.add('POST /oauth/authorize').add('POST /oauth/token');
  });

  it('token revocations and logouts are audited under the token\'s user, refusals included', async () => {
    const before = await lastSeq();
    const session = await signIn(server, 'dr.leak', TEST_PASSWORD);
    const form = (o: Record<string, string>) => new URLSearchParams(o).toString();
    expect((await http.call('POST', '/oauth/revoke', undefined, form({ token: session.access_token, client_id: 'ehr-a' }))).status).toBe(401);
    expect((await http.call('POST', '/oauth/revoke', undefined, form({ token: session.refresh_token, client_id: 'katahdin-web' }))).status).toBe(200);
    expect((await http.call('POST', '/oauth/logout', session.access_token)).status).toBe(204);
    const rows = await since(before);
    const find = (action: string, outcome: string) => rows.find((r) => r.action === action && r.outcome === outcome);
    expect(find('revoke', 'denied'), 'refused client authentication').toBeTruthy();
    expect(find('revoke', 'success'), 'revocation').toMatchObject({ agent_role: 'clinician', agent_org: f.orgA, agent_client: 'katahdin-web' });
    expect(find('logout', 'success'), 'logout').toMatchObject({ agent_role: 'clinician', agent_org: f.orgA, agent_client: 'katahdin-web' });
    for (const r of rows) expect(r.source_ip, `${r.action} has a source IP`).toBe('127.0.0.1');
    checked.add('POST /oauth/revoke').add('POST /oauth/logout');
  });

  it('FHIR reads, searches, history, writes and operations name user, role, organization, person and outcome', async () => {
    const enc = f.persons.encounter;
    const none = f.persons.none;
    const obs = enc.resources.find((r) => r.type === 'Observation' && r.org === 'B')!;
    const noneObs = none.resources.find((r) => r.type === 'Observation')!;
    const clin = (actions: string[], personId?: string, outcome: Expectation['outcome'] = 'success'): Expectation => ({ actions, outcome, role: 'clinician', personId });
    await audited('GET', `/fhir/Observation/${obs.id}`, clin(['read'], enc.personId));
    await audited('GET', `/fhir/Observation/${noneObs.id}`, clin(['read'], undefined, 'denied'));
    await audited('GET', `/fhir/Observation?patient=${enc.patients.B}`, clin(['search'], enc.personId));
    await audited('POST', '/fhir/Observation/_search', clin(['search'], enc.personId), `patient=${enc.patients.B}`);
    await audited('GET', `/fhir/Observation/${obs.id}/_history/1`, clin(['vread'], enc.personId));
    await audited('GET', `/fhir/Observation/${obs.id}/_history`, clin(['history'], enc.personId));
    await audited('GET', '/fhir/Observation/_history?_count=5', clin(['history']));
    await audited('GET', '/fhir/_history?_count=5', clin(['history']));
    await audited('GET', `/fhir/Patient/${enc.patients.A}/$everything`, clin(['everything'], enc.personId));
    await audited('GET', `/fhir/Patient/${none.patients.B}/$everything`, clin(['everything'], undefined, 'denied'));
    await audited('POST', '/fhir/Patient/$match', clin(['match']), { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: { resourceType: 'Patient', name: [{ family: enc.family, given: ['Robin'] }], birthDate: '1961-04-12' } }] });
    await audited('GET', `/fhir/Patient/$ihe-pix?sourceIdentifier=${encodeURIComponent(`urn:katahdin:mrn:B|B-${enc.family}`)}`, clin(['match', 'search']));
    await audited('POST', '/fhir/Observation/$validate', clin(['validate']), { resourceType: 'Observation', status: 'final', code: { text: 'x' } });
    await audited('POST', `/fhir/Observation/${obs.id}/$validate`, clin(['validate']), { resourceType: 'Observation', status: 'final', code: { text: 'x' } });
    await audited('GET', `/fhir/Patient/${enc.patients.B}/$consent-status`, clin(['read'], enc.personId));
    await audited('GET', `/fhir/Patient/${enc.patients.B}/$break-the-glass`, clin(['read'], enc.personId));
    const staff = (actions: string[], personId?: string): Expectation => ({ actions, outcome: 'success', role: 'clinical-staff', personId });
    await audited('POST', `/fhir/Patient/${f.persons.expired.patients.B}/$attest`, staff(['attest'], f.persons.expired.personId), { reason: 'follow-up' });
    // Only a clinician may break the glass (privacy-rules §5): the staff member's attempt is refused and audited.
    const refused = await audited('POST', `/fhir/Patient/${none.patients.B}/$break-the-glass`, { ...staff(['break-glass', 'denied']), outcome: 'denied' }, { reason: 'unconscious in ED' });
    expect(refused.status).toBe(403);
    await audited('POST', `/fhir/Patient/${none.patients.B}/$break-the-glass`, clin(['break-glass'], none.personId), { reason: 'unconscious in ED' });
    const reg: Expectation = { actions: ['consent'], outcome: 'success', role: 'registrar', personId: f.persons.expired.personId };
    await audited('POST', `/fhir/Patient/${f.persons.expired.patients.B}/$consent`, reg, { action: 'share', category: 'PSY', channel: 'paper' });

    const sysA = (actions: string[], personId?: string): Expectation => ({ actions, outcome: 'success', role: 'system-a', personId });
    const created = await audited('POST', '/fhir/Observation', sysA(['create'], enc.personId), { resourceType: 'Observation', status: 'final', subject: { reference: `Patient/${enc.patients.A}` }, code: { text: 'audit me' } });
    const id = created.json().id as string;
    await audited('PUT', `/fhir/Observation/${id}`, sysA(['update'], enc.personId), { resourceType: 'Observation', id, status: 'amended', subject: { reference: `Patient/${enc.patients.A}` }, code: { text: 'audit me' } });
    await audited('PUT', `/fhir/Observation?_id=${id}`, sysA(['update'], enc.personId), { resourceType: 'Observation', status: 'final', subject: { reference: `Patient/${enc.patients.A}` }, code: { text: 'audit me' } });
    await audited('POST', '/fhir', sysA(['read']), { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: `Observation/${id}` } }] });
    await audited('DELETE', `/fhir/Observation/${id}`, sysA(['delete'], enc.personId));
    const adt = ['MSH|^~\\&|EHR|A|KATAHDIN|HIE|20261101120000||ADT^A04|CTRL-AUD-1|P|2.5', 'EVN|A04|20261101120000', 'PID|1||MRN-AUD^^^A^MR||Audit^Ann||19800101|F', 'PV1|1|O'].join('\r');
    await audited('POST', '/hl7v2', sysA(['ingest', 'create']), adt, { 'content-type': 'x-application/hl7-v2+er7' });
    await audited('POST', '/ccda', { actions: ['ingest', 'create', 'denied'], outcome: 'denied', role: 'clinician' }, '<ClinicalDocument/>', { 'content-type': 'application/xml' });
  });

  it('a FHIR write whose body is empty or not JSON is refused 400 and audited as a failed write; without a token it is 401 and not audited', async () => {
    const patient = f.persons.encounter.patients.A;
    const fhirJson = { 'content-type': 'application/fhir+json' };
    // Cut off mid-resource: it names the patient, which neither the answer nor the audit entry may repeat.
    const truncated = `{"resourceType":"Observation","status":"final","subject":{"reference":"Patient/${patient}"`;
    const invalid = 'The request body is not valid JSON.';
    const empty = 'The request body is empty.';
    const cases: Array<[method: string, url: string, body: string, action: string, message: string]> = [
      ['POST', '/fhir/Observation', truncated, 'create', invalid],
      ['POST', '/fhir/Observation', '', 'create', empty],
      ['PUT', '/fhir/Observation/body-refused', truncated, 'update', invalid],
      ['PUT', '/fhir/Observation/body-refused', '', 'update', empty],
      ['PUT', '/fhir/Observation?_id=body-refused', truncated, 'update', invalid],
      ['PUT', '/fhir/Observation?_id=body-refused', '', 'update', empty],
      ['POST', '/fhir', `{"resourceType":"Bundle","type":"transaction","entry":[${truncated}`, 'create', invalid],
      ['POST', '/fhir', '', 'create', empty],
    ];
    for (const [method, url, body, action, message] of cases) {
      const what = `${method} ${url} ${body ? 'not JSON' : 'empty'}`;
      const res = await audited(method, url, { actions: [action], outcome: 'error', role: 'system-a' }, body, fhirJson);
      expect(res.status, what).toBe(400);
      expect(res.json(), what).toEqual({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', diagnostics: message }] });
      const entry = (await server.services.db.query<{ detail: string | null; query: string | null }>('select detail, query from audit_log order by seq desc limit 1')).rows[0];
      expect(entry.detail, what).toBe(message);
      expect(JSON.stringify(entry), what).not.toContain(patient);

      const before = await lastSeq();
      const anonymous = await http.call(method, url, undefined, body, fhirJson);
      expect(anonymous.status, `${what} without a token`).toBe(401);
      expect(await since(before), `${what} without a token`).toEqual([]);
    }
  });

  it('a refusal or failure is audited exactly once, whether it comes before the gate or from it; without a token it is 401 and not audited', async () => {
    const enc = f.persons.encounter;
    const obs = enc.resources.find((r) => r.type === 'Observation' && r.org === 'A')!;
    const hidden = f.persons.none.resources.find((r) => r.type === 'Observation')!;
    // A name that must not reach the audit entry, whichever way the body was refused.
    const marker = `Refusal${Date.now().toString(36)}`;
    const observation = { resourceType: 'Observation', status: 'final', subject: { reference: `Patient/${enc.patients.A}` }, code: { text: marker } };
    const patient = { resourceType: 'Patient', name: [{ family: marker }] };
    interface Case {
      method: string;
      url: string;
      role: FixtureRole;
      body?: unknown;
      headers?: Record<string, string>;
      status: number;
      /** The answer's diagnostics, unchanged by auditing; omitted where the gate refuses (its answers are tested elsewhere). */
      diagnostics?: string;
      action: string;
      outcome: Expectation['outcome'];
    }
    const unknownType = 'Unknown resource type "Foo".';
    const wrongType = 'The body\'s resourceType must be Observation.';
    const cases: Case[] = [
      // Refused by the routes before the gate is entered.
      { method: 'GET', url: '/fhir/Foo', role: 'clinician', status: 404, diagnostics: unknownType, action: 'search', outcome: 'error' },
      { method: 'GET', url: '/fhir/Foo/1', role: 'clinician', status: 404, diagnostics: unknownType, action: 'read', outcome: 'error' },
      { method: 'POST', url: '/fhir/Foo', role: 'system-a', body: { resourceType: 'Foo' }, status: 404, diagnostics: unknownType, action: 'create', outcome: 'error' },
      { method: 'DELETE', url: '/fhir/Foo/1', role: 'system-a', status: 404, diagnostics: unknownType, action: 'delete', outcome: 'error' },
      { method: 'POST', url: '/fhir/Observation', role: 'system-a', body: patient, status: 400, diagnostics: wrongType, action: 'create', outcome: 'error' },
      { method: 'PUT', url: '/fhir/Observation', role: 'system-a', body: observation, status: 400, diagnostics: 'Conditional update needs search parameters in the URL.', action: 'update', outcome: 'error' },
      { method: 'POST', url: '/fhir', role: 'system-a', body: { resourceType: 'Bundle', type: 'collection', entry: [{ resource: observation }] }, status: 400, diagnostics: 'Bundle.type must be transaction or batch.', action: 'create', outcome: 'error' },
      { method: 'POST', url: '/fhir', role: 'system-a', body: patient, status: 400, diagnostics: 'Expected a Bundle.', action: 'create', outcome: 'error' },
      { method: 'POST', url: '/fhir/Observation', role: 'system-a', body: `family ${marker}`, headers: { 'content-type': 'text/plain' }, status: 400, diagnostics: wrongType, action: 'create', outcome: 'error' },
      { method: 'POST', url: '/fhir/Observation', role: 'system-a', body: `<Observation><code value="${marker}"/></Observation>`, headers: { 'content-type': 'application/xml' }, status: 400, diagnostics: wrongType, action: 'create', outcome: 'error' },
      // A content type no parser reads: refused once the caller is known (like a body that is not JSON), so audited.
      { method: 'POST', url: '/fhir/Observation', role: 'system-a', body: JSON.stringify(observation), headers: { 'content-type': 'application/octet-stream' }, status: 415, diagnostics: 'Unsupported content type; send application/fhir+json.', action: 'create', outcome: 'error' },
      { method: 'PUT', url: `/fhir/Observation/${obs.id}`, role: 'system-a', body: JSON.stringify(observation), headers: { 'content-type': 'multipart/form-data; boundary=x' }, status: 415, diagnostics: 'Unsupported content type; send application/fhir+json.', action: 'update', outcome: 'error' },
      { method: 'GET', url: '/fhir/Observation/_history?_count=many', role: 'clinician', status: 400, diagnostics: '_count must be a non-negative integer.', action: 'history', outcome: 'error' },
      { method: 'GET', url: '/fhir/_history?_since=yesterday', role: 'clinician', status: 400, diagnostics: '_since must be an instant.', action: 'history', outcome: 'error' },
      { method: 'GET', url: `/fhir/Observation/${obs.id}/_history/first`, role: 'clinician', status: 400, diagnostics: 'The version id must be a positive integer.', action: 'vread', outcome: 'error' },
      { method: 'GET', url: `/fhir/Observation/${obs.id}?_summary=short`, role: 'clinician', status: 400, diagnostics: '_summary on a read must be true, text, data or false.', action: 'read', outcome: 'error' },
      { method: 'GET', url: `/fhir/Patient/${enc.patients.A}/$everything?_count=all`, role: 'clinician', status: 400, diagnostics: '_count must be a non-negative integer.', action: 'everything', outcome: 'error' },
      { method: 'POST', url: '/admin/users', role: 'admin', body: { username: '', password: 'x' }, status: 400, action: 'admin', outcome: 'error' },
      { method: 'POST', url: '/admin/mpi/tasks/no-such-task', role: 'admin', body: { decision: 'maybe' }, status: 400, diagnostics: 'decision must be "link" or "not-link".', action: 'mpi-link', outcome: 'error' },
      { method: 'GET', url: '/admin/unusual-access?from=last-week', role: 'privacy-officer', status: 400, diagnostics: 'from must be a date or instant (YYYY-MM-DD or ISO 8601).', action: 'audit-report', outcome: 'error' },
      // Refused before the gate for the caller's role: audited as a denial, as before.
      { method: 'POST', url: '/ccda', role: 'clinician', body: '<ClinicalDocument/>', headers: { 'content-type': 'application/xml' }, status: 403, action: 'denied', outcome: 'denied' },
      // Answered with an error status rather than thrown: a document the converter rejects.
      { method: 'POST', url: '/ccda', role: 'system-a', body: `<ClinicalDocument><title>${marker}</title></ClinicalDocument>`, headers: { 'content-type': 'application/xml' }, status: 422, action: 'ingest', outcome: 'error' },
      // Refused by the gate, which audits them itself: still exactly one entry.
      { method: 'GET', url: '/fhir/Observation/no-such-observation', role: 'clinician', status: 404, action: 'read', outcome: 'error' },
      // (Not the clinician: an earlier test broke the glass for this person.)
      { method: 'GET', url: `/fhir/Observation/${hidden.id}`, role: 'clinical-staff', status: 403, action: 'read', outcome: 'denied' },
      { method: 'GET', url: '/fhir/Observation?no-such-parameter=1', role: 'clinician', headers: { prefer: 'handling=strict' }, status: 400, action: 'search', outcome: 'error' },
      { method: 'GET', url: '/fhir/Observation?_count=many', role: 'clinician', status: 400, action: 'search', outcome: 'error' },
      { method: 'PUT', url: `/fhir/Observation/${obs.id}`, role: 'system-a', body: patient, status: 400, action: 'update', outcome: 'error' },
      { method: 'PUT', url: `/fhir/Observation/${obs.id}`, role: 'system-a', body: { ...observation, id: 'another-id' }, status: 400, action: 'update', outcome: 'error' },
      { method: 'PUT', url: `/fhir/Observation?_id=${obs.id}`, role: 'system-a', body: patient, status: 400, action: 'update', outcome: 'error' },
      { method: 'PUT', url: `/fhir/Observation/${obs.id}`, role: 'system-a', body: `<Observation><code value="${marker}"/></Observation>`, headers: { 'content-type': 'text/xml' }, status: 400, action: 'update', outcome: 'error' },
      { method: 'POST', url: '/fhir/Observation', role: 'system-a', body: { ...observation, status: 'not-a-status' }, status: 400, action: 'create', outcome: 'error' },
      // The gate recorded the lookup, which found nothing: that entry is the request's, and no second one is made.
      { method: 'GET', url: '/admin/ingest/errors/no-such-message', role: 'admin', status: 404, diagnostics: 'No such message.', action: 'admin', outcome: 'success' },
    ];
    for (const c of cases) {
      const what = `${c.method} ${c.url} as ${c.role}${c.headers?.['content-type'] ? ` (${c.headers['content-type']})` : ''}`;
      const route = routeFor(registeredRoutes, c.method, c.url);
      expect(route, `${what} resolves to a registered route`).toBeTruthy();
      checked.add(routeKey(route!));
      // Soft: one run shows every case that is not audited once, not just the first.
      const before = await lastSeq();
      const res = await http.call(c.method, c.url, f.tokens[c.role], c.body, c.headers);
      expect.soft(res.status, what).toBe(c.status);
      expect.soft(res.json(), what).toMatchObject({ resourceType: 'OperationOutcome' });
      if (c.diagnostics) expect.soft(res.json<{ issue: Array<{ diagnostics: string }> }>().issue[0].diagnostics, what).toBe(c.diagnostics);
      const entries = (await server.services.db.query<AuditRow & { detail: string | null; query: string | null }>('select * from audit_log where seq > $1 order by seq', [before])).rows;
      expect.soft(entries.map((r) => `${r.action}/${r.outcome}`), `${what}: exactly one entry`).toEqual([`${c.action}/${c.outcome}`]);
      if (entries.length === 1) {
        expect.soft(entries[0], `${what}: who and where`).toMatchObject({ ...agentOf(c.role), agent_org: orgOf(c.role), source_ip: '127.0.0.1' });
      }
      expect.soft(JSON.stringify(entries), `${what}: no body content in the entry`).not.toContain(marker);

      const anonymousBefore = await lastSeq();
      const anonymous = await http.call(c.method, c.url, undefined, c.body, c.headers);
      expect.soft(anonymous.status, `${what} without a token`).toBe(401);
      expect.soft(await since(anonymousBefore), `${what} without a token`).toEqual([]);
    }
  });

  it('MPI, ingestion, admin, audit-officer and portal routes are audited, denied calls included', async () => {
    const enc = f.persons.encounter;
    const admin = (actions: string[], outcome: Expectation['outcome'] = 'success'): Expectation => ({ actions, outcome, role: 'admin' });
    const denied = (actions: string[]): Expectation => ({ actions, outcome: 'denied', role: 'clinician' });
    await audited('GET', '/admin/mpi/tasks', admin(['read']));
    await audited('GET', `/admin/mpi/links/${enc.patients.A}`, { ...admin(['read']), personId: enc.personId });
    await audited('POST', '/admin/mpi/tasks/no-such-task', denied(['mpi-link']), { decision: 'link' });
    await audited('POST', '/admin/mpi/unlink', denied(['mpi-unlink']), { patientId: enc.patients.A });
    await audited('POST', '/admin/mpi/merge', denied(['mpi-merge']), { sourcePersonId: enc.personId, targetPersonId: f.persons.none.personId });
    await audited('POST', '/fhir/Patient/$merge', denied(['mpi-merge']), { 'source-patient': `Patient/${enc.patients.A}`, 'target-patient': `Patient/${f.persons.none.patients.B}` });
    await audited('GET', '/admin/ingest/stats', admin(['admin']));
    const errors = await audited('GET', '/admin/ingest/errors', admin(['admin']));
    const errorId = errors.json<Array<{ id: string }>>()[0]?.id ?? 'none';
    await audited('GET', `/admin/ingest/errors/${errorId}`, admin(['admin']));
    await audited('POST', `/admin/ingest/errors/${errorId}/retry`, denied(['admin', 'denied', 'ingest']));
    await audited('GET', '/admin/users', admin(['admin']));
    await audited('POST', '/admin/users', admin(['admin']), { username: 'new.user', password: 'a-long-enough-password', role: 'registrar', displayName: 'New User' });
    await audited('GET', '/admin/clients', admin(['admin']));
    await audited('POST', '/admin/clients', denied(['admin', 'denied']), { clientId: 'nope' });
    await audited('PUT', '/admin/users/new.user/disabled', admin(['disable']), { disabled: true });
    await audited('PUT', '/admin/clients/no-such-client/disabled', admin(['disable'], 'error'), { disabled: true });
    await audited('PUT', '/admin/clients/no-such-client/disabled', denied(['enable']), { disabled: false });
    await audited('GET', '/admin/users', denied(['admin', 'denied']));
    const po = (actions: string[], personId?: string): Expectation => ({ actions, outcome: 'success', role: 'privacy-officer', personId });
    await audited('GET', `/fhir/Patient/${enc.patients.B}/$access-report`, po(['audit-report', 'read'], enc.personId));
    await audited('GET', '/fhir/AuditEvent?_count=5', po(['search']));
    await audited('GET', '/fhir/AuditEvent?_count=5', denied(['search', 'denied']));
    await audited('POST', '/fhir/AuditEvent/_search', po(['search']), '_count=5');
    await audited('POST', '/fhir/AuditEvent/_search', denied(['search', 'denied']), '_count=5');
    const auditEvent = `/fhir/AuditEvent/${await lastSeq()}`;
    await audited('GET', auditEvent, po(['read']));
    await audited('GET', auditEvent, denied(['read', 'denied']));
    const queue = await audited('GET', '/admin/break-glass', po(['read']));
    const seq = queue.json<Array<{ seq: number }>>()[0]?.seq ?? 0;
    await audited('POST', `/admin/break-glass/${seq}/review`, po(['audit-review']), { notes: 'reviewed: genuine emergency' });
    await audited('GET', '/admin/attestations', po(['read']));
    await audited('GET', '/admin/unusual-access?threshold=2', po(['audit-report']));
    const request = await audited('POST', '/admin/audit-requests', po(['audit-request', 'read'], enc.personId), { patientId: enc.patients.B, channel: 'phone' });
    await audited('GET', '/admin/audit-requests', po(['audit-request', 'read', 'admin']));
    await audited('POST', `/admin/audit-requests/${request.json().id}/fulfil`, po(['audit-report'], enc.personId));
    const pat = (actions: string[]): Expectation => ({ actions, outcome: 'success', role: 'patient', personId: enc.personId });
    await audited('GET', '/portal/me', pat(['read']));
    await audited('POST', '/portal/audit-requests', pat(['audit-request']), {});
    // Reported gap: this listing's audit entry does not name the person yet.
    await audited('GET', '/portal/audit-requests', { ...pat(['audit-request', 'read', 'admin']), personId: undefined });
  });

  it('bulk export kick-offs, status, files and cancellation are audited, refusals included', async () => {
    const enc = f.persons.encounter;
    const async = { prefer: 'respond-async' };
    const admin = (actions: string[]): Expectation => ({ actions, outcome: 'success', role: 'admin' });
    const pat = (actions: string[], personId?: string): Expectation => ({ actions, outcome: 'success', role: 'patient', personId });
    const denied = (actions: string[]): Expectation => ({ actions, outcome: 'denied', role: 'clinician' });
    // Each job is planned in the background (audited too): wait for it, so the next call's entries are its own.
    const system = await audited('GET', '/fhir/$export?_type=Organization', admin(['export']), undefined, async);
    await manifestOf(http, system, f.tokens.admin);
    const patients = await audited('POST', '/fhir/$export', admin(['export']), { resourceType: 'Parameters', parameter: [{ name: '_type', valueString: 'Patient' }] }, async);
    await manifestOf(http, patients, f.tokens.admin);
    const own = await audited('GET', '/fhir/Patient/$export', pat(['export']), undefined, async);
    await audited('POST', '/fhir/Patient/$export', denied(['denied']), { resourceType: 'Parameters', parameter: [] }, async);
    await audited('GET', `/fhir/Group/${enc.patients.B}/$export`, denied(['denied']), undefined, async);
    await audited('POST', `/fhir/Group/${enc.patients.B}/$export`, denied(['denied']), { resourceType: 'Parameters', parameter: [] }, async);
    const manifest = await manifestOf(http, own, f.tokens.patient);
    const status = localPath(String(own.headers['content-location']));
    await audited('GET', status, pat(['operation']));
    const observations = manifest.output.find((o) => o.type === 'Observation')!;
    await audited('GET', localPath(observations.url), pat(['export'], enc.personId));
    await audited('DELETE', localPath(String(system.headers['content-location'])), admin(['operation']));
  });

  it('the privacy officer finds the events through GET /fhir/AuditEvent as BALP AuditEvents', async () => {
    const res = await http.get(`/fhir/AuditEvent?patient=Patient/${f.persons.encounter.patients.B}&outcome=4&_count=100`, f.tokens['privacy-officer']);
    expect(res.status).toBe(200);
    const all = await http.get(`/fhir/AuditEvent?patient=Patient/${f.persons.encounter.patients.B}&_count=100`, f.tokens['privacy-officer']);
    const events = all.json<Bundle>().entry!.map((e) => e.resource as { agent: Array<{ who?: { display?: string } ; network?: { address?: string } }>; entity?: unknown[] });
    expect(events.length).toBeGreaterThan(3);
    expect(events.some((e) => e.agent.some((a) => a.who?.display === 'Test dr.leak'))).toBe(true);
    expect(events.some((e) => e.agent.some((a) => a.network?.address === '127.0.0.1'))).toBe(true);
  });

  it('a failing audit write makes the access fail: 500 and no data', async () => {
    const obs = f.persons.encounter.resources.find((r) => r.type === 'Observation' && r.org === 'B')!;
    const db = server.services.db;
    await db.query(`create or replace function test_audit_fail() returns trigger language plpgsql as $$ begin raise exception 'audit store unavailable'; end $$`);
    await db.query('create trigger test_audit_fail before insert on audit_log for each row execute function test_audit_fail()');
    try {
      const res = await http.get(`/fhir/Observation/${obs.id}`, f.tokens.clinician);
      expect(res.status).toBe(500);
      expect(res.body).not.toContain('2345-7');
      expect(res.json()).toMatchObject({ resourceType: 'OperationOutcome' });
      const search = await http.get(`/fhir/Observation?patient=${f.persons.encounter.patients.B}`, f.tokens.clinician);
      expect(search.status).toBe(500);
      expect(search.body).not.toContain('2345-7');
    } finally {
      await db.query('drop trigger test_audit_fail on audit_log');
    }
    expect((await http.get(`/fhir/Observation/${obs.id}`, f.tokens.clinician)).status).toBe(200);
  });

  it('covers every registered route (new routes cannot escape the audit)', () => {
    const all = registeredRoutes.map(routeKey);
    const missing = all.filter((k) => !checked.has(k) && !(k in EXEMPT));
    expect(missing, 'routes with no audit test and no exemption').toEqual([]);
    const exemptProtected = registeredRoutes.filter((r) => r.protected && routeKey(r) in EXEMPT);
    expect(exemptProtected, 'protected routes may not be exempt').toEqual([]);
  });
});

