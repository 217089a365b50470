import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemContext } from '../../src/access/context.ts';
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
});
