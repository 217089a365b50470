import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRateLimiter } from './rate-limiter.ts';
import { exchangeCode, postForm, PUBLIC_URL, signIn, startTestEnv, type TestEnv } from './test-support.ts';

const PASSWORD = 'correct horse battery';

/** `/oauth/logout` is public: it must not let anyone write to the audit log at will. */
describe('logout', () => {
  let env: TestEnv;

  beforeAll(async () => {
    env = await startTestEnv();
    await env.auth.addUser({ username: 'dr.l', password: PASSWORD, role: 'clinician', displayName: 'Dr. L', organizationId: 'org-1' });
  });
  afterAll(async () => env.app.close());

  async function login() {
    const l = await signIn(env.app, { username: 'dr.l', password: PASSWORD, scope: 'openid user/*.rs offline_access' });
    const res = await exchangeCode(env.app, l.code!, l.verifier);
    expect(res.statusCode).toBe(200);
    return res.json() as { access_token: string; refresh_token: string };
  }
  const logout = (init: { payload?: unknown; bearer?: string }) => env.app.inject({
    method: 'POST', url: '/oauth/logout', payload: init.payload as never, headers: init.bearer ? { authorization: `Bearer ${init.bearer}` } : {},
  });
  const whoami = (token: string) => env.app.inject({ method: 'GET', url: '/whoami', headers: { authorization: `Bearer ${token}` } });

  it('answers a logout naming no token of ours as before (204) and audits nothing', async () => {
    const { privateKey } = await generateKeyPair('ES384');
    const forged = await new SignJWT({ sub: 'someone' }).setProtectedHeader({ alg: 'ES384', kid: 'nope' })
      .setIssuer(PUBLIC_URL).setAudience(PUBLIC_URL).setIssuedAt().setExpirationTime('5m').sign(privateKey);
    const before = env.events.length;
    const calls = [
      logout({}),
      logout({ payload: { token: 'not-a-token' } }),
      logout({ payload: { token: forged } }),
      logout({ payload: { token: 42, refresh_token: ['x'] } }),
      logout({ bearer: forged }),
      postForm(env.app, '/oauth/logout', { refresh_token: 'made-up-refresh-token' }),
    ];
    for (const res of await Promise.all(calls)) expect(res.statusCode).toBe(204);
    expect(env.events.slice(before)).toEqual([]);
  });

  it('still ends and audits the session of a real token, however it arrives (the web app sends JSON {token})', async () => {
    const a = await login();
    const before = env.events.length;
    expect((await logout({ payload: { token: a.access_token } })).statusCode).toBe(204);
    expect((await whoami(a.access_token)).statusCode).toBe(401);
    const b = await login();
    expect((await postForm(env.app, '/oauth/logout', { refresh_token: b.refresh_token })).statusCode).toBe(204);
    expect((await whoami(b.access_token)).statusCode).toBe(401);
    const logouts = env.events.slice(before).filter((e) => e.type === 'logout');
    expect(logouts).toHaveLength(2);
    for (const e of logouts) expect(e).toMatchObject({ outcome: 'success', clientId: 'katahdin-web', account: { kind: 'user' } });
  });
});

describe('logouts naming nothing of ours are rate limited with the token endpoint; a real logout never is', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await startTestEnv({ tokenLimiter: createRateLimiter({ max: 3, windowMs: 60_000 }) });
    await env.auth.addUser({ username: 'dr.m', password: PASSWORD, role: 'clinician', displayName: 'Dr. M', organizationId: 'org-1' });
  });
  afterAll(async () => env.app.close());

  it('refuses junk over the limit with 429, at logout and at the token endpoint; other addresses are not affected; a real logout still ends its session', async () => {
    const signedIn = await signIn(env.app, { username: 'dr.m', password: PASSWORD, scope: 'openid user/*.rs' });
    const tokens = (await exchangeCode(env.app, signedIn.code!, signedIn.verifier)).json() as { access_token: string };
    const junk = () => env.app.inject({ method: 'POST', url: '/oauth/logout', payload: { token: 'junk' } });
    // The code exchange took one of the address's three.
    for (let i = 0; i < 2; i++) expect((await junk()).statusCode).toBe(204);
    const over = await junk();
    expect(over.statusCode).toBe(429);
    expect(over.headers['retry-after']).toBe('60');
    expect(over.json()).toMatchObject({ error: 'invalid_request' });
    expect((await postForm(env.app, '/oauth/token', { grant_type: 'client_credentials' })).statusCode).toBe(429);
    const elsewhere = await env.app.inject({ method: 'POST', url: '/oauth/logout', payload: { token: 'junk' }, remoteAddress: '192.0.2.7' });
    expect(elsewhere.statusCode).toBe(204);
    expect(env.events.filter((e) => e.type === 'logout')).toEqual([]);
    const real = await env.app.inject({ method: 'POST', url: '/oauth/logout', payload: { token: tokens.access_token } });
    expect(real.statusCode).toBe(204);
    expect((await env.app.inject({ method: 'GET', url: '/whoami', headers: { authorization: `Bearer ${tokens.access_token}` } })).statusCode).toBe(401);
    expect(env.events.filter((e) => e.type === 'logout')).toHaveLength(1);
  });
});
