import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '@medplum/fhirtypes';
import { systemContext } from '../../src/access/context.ts';
import { CLIENT_SYSTEM, USER_SYSTEM } from '../../src/audit/events.ts';
import { databaseKinds } from '../support/databases.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';
import { signIn, systemClientToken, TEST_PASSWORD, userWithToken } from '../support/tokens.ts';

const kinds = await databaseKinds();

describe.each(kinds)('administrators disable and enable accounts on %s', (kind) => {
  let server: TestServer;
  let admin: string;
  const call = (method: 'GET' | 'PUT', url: string, token: string, body?: unknown) => server.app.inject({
    method, url, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, payload: body === undefined ? undefined : JSON.stringify(body),
  });
  const lastSeq = async () => Number((await server.services.db.query<{ s: string }>('select coalesce(max(seq), 0) as s from audit_log')).rows[0].s);
  const entriesSince = async (seq: number) => (await server.services.db.query(
    'select action, outcome, agent_user_id, agent_client, entity_refs, query from audit_log where seq > $1 order by seq', [seq])).rows;
  const userId = async (username: string) => (await server.services.auth.listUsers()).find((u) => u.username === username)!.id;
  const newOrg = async (name: string) => (await server.services.gate.run(systemContext('test'), { action: 'create' }, (s) => server.services.records.create(s, { resourceType: 'Organization', name }))).resource.id!;

  beforeAll(async () => {
    server = await startTestServer(kind);
    admin = await userWithToken(server, { username: 'it.admin', role: 'admin' });
  }, 300_000);
  afterAll(async () => server?.stop());

  it('a disabled user is cut off at once and cannot sign in; enabled again, they sign in anew', async () => {
    const org = (await server.services.gate.run(systemContext('test'), { action: 'create' }, (s) => server.services.records.create(s, { resourceType: 'Organization', name: 'Houlton Clinic' }))).resource.id!;
    const token = await userWithToken(server, { username: 'dr.leaving', role: 'clinician', organizationId: org });
    expect((await call('GET', '/fhir/Patient', token)).statusCode).toBe(200);
    const off = await call('PUT', '/admin/users/dr.leaving/disabled', admin, { disabled: true });
    expect(off.statusCode).toBe(200);
    expect(off.json()).toEqual({ username: 'dr.leaving', disabled: true });
    expect((await call('GET', '/fhir/Patient', token)).statusCode).toBe(401);
    await expect(signIn(server, 'dr.leaving', TEST_PASSWORD)).rejects.toThrow();
    expect((await call('PUT', '/admin/users/dr.leaving/disabled', admin, { disabled: false })).statusCode).toBe(200);
    const again = (await signIn(server, 'dr.leaving', TEST_PASSWORD)).access_token;
    expect((await call('GET', '/fhir/Patient', again)).statusCode).toBe(200);
  });

  it('a disabled system client\'s tokens stop working; bad requests are refused clearly', async () => {
    const org = (await server.services.gate.run(systemContext('test'), { action: 'create' }, (s) => server.services.records.create(s, { resourceType: 'Organization', name: 'Caribou Lab' }))).resource.id!;
    const feed = await systemClientToken(server, 'caribou-feed', org);
    expect((await call('GET', '/fhir/Patient', feed)).statusCode).toBe(200);
    expect((await call('PUT', '/admin/clients/caribou-feed/disabled', admin, { disabled: true })).statusCode).toBe(200);
    expect((await call('GET', '/fhir/Patient', feed)).statusCode).toBe(401);
    expect((await call('PUT', '/admin/clients/caribou-feed/disabled', admin, { disabled: false })).statusCode).toBe(200);
    expect((await call('GET', '/fhir/Patient', feed)).statusCode).toBe(200);

    expect((await call('PUT', '/admin/users/nobody.here/disabled', admin, { disabled: true })).statusCode).toBe(404);
    expect((await call('PUT', '/admin/clients/caribou-feed/disabled', admin, { disabled: 'yes' })).statusCode).toBe(400);
    expect((await call('PUT', '/admin/clients/caribou-feed/disabled', feed, { disabled: true })).statusCode).toBe(403);
    // Every user signs in through the built-in web app: disabling it would lock everyone out, administrators included.
    expect((await call('PUT', '/admin/clients/katahdin-web/disabled', admin, { disabled: true })).statusCode).toBe(409);
    expect((await call('GET', '/fhir/Patient', admin)).statusCode).not.toBe(401);
  });

  it('audits disabling and enabling with the administrator, the account and the outcome; refusals and unknown accounts too', async () => {
    const feed = await systemClientToken(server, 'moose-feed', await newOrg('Moose River Lab'));
    await userWithToken(server, { username: 'dr.audited', role: 'clinician' });
    const [adminId, doctorId] = [await userId('it.admin'), await userId('dr.audited')];
    const before = await lastSeq();
    expect((await call('PUT', '/admin/users/dr.audited/disabled', admin, { disabled: true })).statusCode).toBe(200);
    expect((await call('PUT', '/admin/users/dr.audited/disabled', admin, { disabled: false })).statusCode).toBe(200);
    expect((await call('PUT', '/admin/clients/moose-feed/disabled', feed, { disabled: true })).statusCode).toBe(403);
    expect((await call('PUT', '/admin/clients/moose-feed/disabled', admin, { disabled: true })).statusCode).toBe(200);
    expect((await call('PUT', '/admin/users/nobody.here/disabled', admin, { disabled: true })).statusCode).toBe(404);
    const byAdmin = { agent_user_id: adminId, agent_client: 'katahdin-web' };
    expect(await entriesSince(before)).toEqual([
      { action: 'disable', outcome: 'success', ...byAdmin, entity_refs: [`${USER_SYSTEM}|${doctorId}`], query: 'user dr.audited' },
      { action: 'enable', outcome: 'success', ...byAdmin, entity_refs: [`${USER_SYSTEM}|${doctorId}`], query: 'user dr.audited' },
      { action: 'disable', outcome: 'denied', agent_user_id: null, agent_client: 'moose-feed', entity_refs: [], query: 'client moose-feed' },
      { action: 'disable', outcome: 'success', ...byAdmin, entity_refs: [`${CLIENT_SYSTEM}|moose-feed`], query: 'client moose-feed' },
      { action: 'disable', outcome: 'error', ...byAdmin, entity_refs: [], query: 'user nobody.here' },
    ]);
    // As a privacy officer reads it: the account is a BALP entity named by its identifier (a security user entity).
    const po = await userWithToken(server, { username: 'po.accounts', role: 'privacy-officer' });
    const event = (await call('GET', `/fhir/AuditEvent/${before + 1}`, po)).json<AuditEvent>();
    expect(event.subtype).toContainEqual({ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110137', display: 'User Security Attributes Changed' });
    expect(event.entity).toContainEqual({
      what: { identifier: { system: USER_SYSTEM, value: doctorId } },
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2' },
      role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '11' },
    });
  });

  it('checks the caller\'s role before the body: a non-administrator\'s malformed request is refused 403 and audited', async () => {
    const feed = await systemClientToken(server, 'rangeley-feed', await newOrg('Rangeley Lab'));
    const nurse = await userWithToken(server, { username: 'rn.curious', role: 'clinical-staff' });
    const before = await lastSeq();
    expect((await call('PUT', '/admin/clients/rangeley-feed/disabled', feed, { disabled: 'yes' })).statusCode).toBe(403);
    expect((await call('PUT', '/admin/users/dr.audited/disabled', nurse, {})).statusCode).toBe(403);
    expect((await call('PUT', '/admin/users/dr.audited/disabled', nurse, { disabled: false, extra: 1 })).statusCode).toBe(403);
    // An administrator's malformed body is still a 400: nothing changed, and the failed call is audited like any other.
    expect((await call('PUT', '/admin/users/dr.audited/disabled', admin, { disabled: 'no' })).statusCode).toBe(400);
    const adminId = await userId('it.admin');
    const nurseId = await userId('rn.curious');
    expect(await entriesSince(before)).toEqual([
      { action: 'disable', outcome: 'denied', agent_user_id: null, agent_client: 'rangeley-feed', entity_refs: [], query: 'client rangeley-feed' },
      { action: 'disable', outcome: 'denied', agent_user_id: nurseId, agent_client: 'katahdin-web', entity_refs: [], query: 'user dr.audited' },
      { action: 'enable', outcome: 'denied', agent_user_id: nurseId, agent_client: 'katahdin-web', entity_refs: [], query: 'user dr.audited' },
      { action: 'disable', outcome: 'error', agent_user_id: adminId, agent_client: 'katahdin-web', entity_refs: [], query: 'PUT /admin/users/:username/disabled' },
    ]);
    // The feed is still enabled.
    expect((await call('GET', '/fhir/Patient', feed)).statusCode).toBe(200);
  });

  it('an administrator revokes one leaked system token; the revocation and a logout are audited, a logout of nothing is not', async () => {
    const org = await newOrg('Allagash Imaging');
    const leaked = await systemClientToken(server, 'allagash-feed', org);
    const before = await lastSeq();
    const revoke = await server.app.inject({
      method: 'POST', url: '/oauth/revoke', payload: new URLSearchParams({ token: leaked, client_id: 'katahdin-web' }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${admin}` },
    });
    expect(revoke.statusCode).toBe(200);
    expect((await call('GET', '/fhir/Patient', leaked)).statusCode).toBe(401);
    const clinician = await signIn(server, 'dr.audited', TEST_PASSWORD);
    const seq = await lastSeq();
    expect((await server.app.inject({ method: 'POST', url: '/oauth/logout', payload: { token: clinician.refresh_token } })).statusCode).toBe(204);
    // A logout naming no token of ours is answered the same and leaves nothing in the log.
    expect((await server.app.inject({ method: 'POST', url: '/oauth/logout', payload: { token: 'junk' } })).statusCode).toBe(204);
    expect((await call('GET', '/fhir/Patient', clinician.access_token)).statusCode).toBe(401);
    const revoked = (await entriesSince(before)).find((r) => r.action === 'revoke');
    expect(revoked).toEqual({
      action: 'revoke', outcome: 'success', agent_user_id: await userId('it.admin'), agent_client: 'katahdin-web', entity_refs: [`${CLIENT_SYSTEM}|allagash-feed`], query: null,
    });
    const doctor = `${USER_SYSTEM}|${await userId('dr.audited')}`;
    expect((await entriesSince(seq)).filter((r) => r.action === 'logout')).toEqual([
      { action: 'logout', outcome: 'success', agent_user_id: await userId('dr.audited'), agent_client: 'katahdin-web', entity_refs: [doctor], query: null },
    ]);
  });
});
