import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../../test/support/databases.ts';
import type { Database } from '../store/database.ts';
import { JWT_BEARER_ASSERTION } from './token-endpoint.ts';
import { LIVENESS_CHECK_MS } from './token-liveness.ts';
import { hashToken } from './tokens.ts';
import { exchangeCode, openAuthDbOf, postForm, PUBLIC_URL, signIn, startTestEnv, type TestEnv } from './test-support.ts';

const PASSWORD = 'correct horse battery';

describe.each(await databaseKinds())('access tokens end with their session, user or client (%s)', (kind) => {
  let env: TestEnv;
  let close: () => Promise<void>;
  let offset = 0;
  const sessionQueries: string[] = [];
  let ehrKey: CryptoKey;

  beforeAll(async () => {
    const opened = await openAuthDbOf(kind);
    close = opened.close;
    // Counts the liveness queries about sessions, to hold the "one per session per interval" promise.
    const db: Database = Object.create(opened.db, {
      query: {
        value: (text: string, ...rest: unknown[]) => {
          if (/select ended_at is null as live/.test(text)) sessionQueries.push(text);
          return (opened.db.query as (...a: unknown[]) => unknown)(text, ...rest);
        },
      },
    });
    env = await startTestEnv({ db, clock: () => Date.now() + offset });
    await env.auth.addUser({ username: 'dr.a', password: PASSWORD, role: 'clinician', displayName: 'Dr. A', organizationId: 'org-1' });
    await env.auth.addUser({ username: 'dr.b', password: PASSWORD, role: 'clinician', displayName: 'Dr. B', organizationId: 'org-1' });
    const ec = await generateKeyPair('ES384', { extractable: true });
    ehrKey = ec.privateKey;
    const jwk = { ...(await exportJWK(ec.publicKey)), kid: 'ehr-1', alg: 'ES384' };
    await env.auth.addClient({ clientId: 'demo-ehr', name: 'Demo EHR', organizationId: 'org-ehr', scopes: ['system/*.rs'], jwks: { keys: [jwk] } });
  });
  afterAll(async () => {
    await env.app.close();
    await close();
  });

  async function login(username = 'dr.a') {
    const l = await signIn(env.app, { username, password: PASSWORD, scope: 'openid user/*.rs offline_access' });
    const res = await exchangeCode(env.app, l.code!, l.verifier);
    expect(res.statusCode).toBe(200);
    return { ...res.json(), code: l.code!, verifier: l.verifier } as { access_token: string; refresh_token: string; code: string; verifier: string };
  }
  const whoami = (token: string) => env.app.inject({ method: 'GET', url: '/whoami', headers: { authorization: `Bearer ${token}` } });
  const status = async (token: string) => (await whoami(token)).statusCode;
  const refresh = (token: string) => postForm(env.app, '/oauth/token', { grant_type: 'refresh_token', refresh_token: token, client_id: 'katahdin-web' });
  /** demo-ehr's client authentication (private_key_jwt), at the token endpoint and at revocation. */
  const ehrAuth = async () => ({
    client_assertion_type: JWT_BEARER_ASSERTION,
    client_assertion: await new SignJWT({}).setProtectedHeader({ alg: 'ES384', kid: 'ehr-1' })
      .setIssuer('demo-ehr').setSubject('demo-ehr').setAudience(`${PUBLIC_URL}/oauth/token`)
      .setJti(randomUUID()).setIssuedAt().setExpirationTime('4m').sign(ehrKey),
  });
  async function systemToken(): Promise<string> {
    const res = await postForm(env.app, '/oauth/token', { grant_type: 'client_credentials', scope: 'system/*.rs', ...(await ehrAuth()) });
    return res.json().access_token;
  }
  const userId = async (username: string) => (await env.auth.listUsers()).find((u) => u.username === username)!.id;

  it('refuses the access token at once after logout by Bearer header; other sessions keep working', async () => {
    const a = await login();
    const other = await login();
    expect(await status(a.access_token)).toBe(200);
    const out = await env.app.inject({ method: 'POST', url: '/oauth/logout', headers: { authorization: `Bearer ${a.access_token}` } });
    expect(out.statusCode).toBe(204);
    const refused = await whoami(a.access_token);
    expect(refused.statusCode).toBe(401);
    expect(refused.headers['www-authenticate']).toContain('invalid_token');
    expect(await status(other.access_token)).toBe(200);
  });

  it('refuses it after the web app\'s logout (JSON body with the token, no header)', async () => {
    const a = await login();
    const out = await env.app.inject({ method: 'POST', url: '/oauth/logout', payload: { token: a.access_token } });
    expect(out.statusCode).toBe(204);
    expect(await status(a.access_token)).toBe(401);
    expect((await refresh(a.refresh_token)).json().error).toBe('invalid_grant');
  });

  it('refuses every token of a user at once when an administrator disables them, and only theirs', async () => {
    const a = await login('dr.a');
    const b = await login('dr.b');
    const minted = (await env.auth.mintTokenForUser('dr.b')).accessToken; // no session: the CLI's tokens
    expect(await status(minted)).toBe(200);
    await env.auth.setUserDisabled('dr.b', true);
    expect(await status(b.access_token)).toBe(401);
    expect(await status(minted)).toBe(401);
    expect(await status(a.access_token)).toBe(200);
    await env.auth.setUserDisabled('dr.b', false);
    // Re-enabled: the ended session stays ended; a new sign-in works.
    expect(await status(b.access_token)).toBe(401);
    expect(await status((await login('dr.b')).access_token)).toBe(200);
  });

  it('refuses a session ended by another server within the check interval, with one query per session per interval', async () => {
    const a = await login();
    const other = await login();
    expect(await status(a.access_token)).toBe(200);
    await env.db.query('update login_sessions set ended_at = now() where id = (select session_id from refresh_tokens where token_hash = $1)', [
      hashToken(a.refresh_token),
    ]);
    sessionQueries.length = 0;
    // Within the interval this process still trusts its last answer (the documented lapse) and asks nothing.
    offset += LIVENESS_CHECK_MS - 1_000;
    for (let i = 0; i < 5; i++) expect(await status(a.access_token)).toBe(200);
    expect(sessionQueries).toHaveLength(0);
    offset += 1_001;
    const answers = await Promise.all(Array.from({ length: 5 }, () => status(a.access_token)));
    expect(answers).toEqual([401, 401, 401, 401, 401]);
    expect(await status(other.access_token)).toBe(200);
    // The five concurrent requests and the other session's check: one query each.
    expect(sessionQueries).toHaveLength(2);
  });

  it('a replayed refresh token revokes the session and its access tokens', async () => {
    const a = await login();
    const rotated = await refresh(a.refresh_token);
    expect(rotated.statusCode).toBe(200);
    const second = rotated.json().access_token as string;
    expect(await status(a.access_token)).toBe(200);
    expect(await status(second)).toBe(200);
    expect((await refresh(a.refresh_token)).json().error).toBe('invalid_grant');
    expect(await status(a.access_token)).toBe(401);
    expect(await status(second)).toBe(401);
  });

  it('a replayed authorization code revokes the session it created', async () => {
    const a = await login();
    expect(await status(a.access_token)).toBe(200);
    expect((await exchangeCode(env.app, a.code, a.verifier)).json().error).toBe('invalid_grant');
    expect(await status(a.access_token)).toBe(401);
  });

  it('/oauth/revoke identifies the client, ends the session of an access token, and says when it cannot revoke', async () => {
    const a = await login();
    expect((await postForm(env.app, '/oauth/revoke', { token: a.access_token })).statusCode).toBe(401);
    const wrongClient = await postForm(env.app, '/oauth/revoke', { token: a.access_token, client_id: 'demo-ehr' });
    expect(wrongClient.json().error).toBe('invalid_client'); // a confidential client must authenticate
    expect(await status(a.access_token)).toBe(200);
    expect((await postForm(env.app, '/oauth/revoke', { token: a.access_token, client_id: 'katahdin-web' })).statusCode).toBe(200);
    expect(await status(a.access_token)).toBe(401);
    expect((await postForm(env.app, '/oauth/revoke', { token: 'no-such-token', client_id: 'katahdin-web' })).statusCode).toBe(200);
    const system = await systemToken();
    const notMine = await postForm(env.app, '/oauth/revoke', { token: system, client_id: 'katahdin-web' });
    expect(notMine.json().error).toBe('invalid_grant');
    expect(await status(system)).toBe(200);
  });

  it('/oauth/revoke lets a client revoke one system token: refused at once here, within the interval elsewhere; its other tokens live on', async () => {
    const smart = (await env.app.inject({ method: 'GET', url: '/.well-known/smart-configuration' })).json();
    expect(smart.revocation_endpoint).toBe(`${PUBLIC_URL}/oauth/revoke`);
    const leaked = await systemToken();
    const kept = await systemToken();
    // A second server process on the same database and keys.
    const elsewhere = await startTestEnv({ db: env.db, env: { DATA_DIR: env.config.dataDir }, clock: () => Date.now() + offset });
    try {
      const there = async (token: string) => (await elsewhere.app.inject({ method: 'GET', url: '/whoami', headers: { authorization: `Bearer ${token}` } })).statusCode;
      expect([await status(leaked), await there(leaked)]).toEqual([200, 200]);
      const res = await postForm(env.app, '/oauth/revoke', { token: leaked, token_type_hint: 'access_token', ...(await ehrAuth()) });
      expect(res.statusCode).toBe(200);
      expect(await status(leaked)).toBe(401);
      expect(await status(kept)).toBe(200);
      offset += LIVENESS_CHECK_MS + 1;
      expect([await there(leaked), await there(kept)]).toEqual([401, 200]);
    } finally {
      await elsewhere.app.close();
    }
    expect(env.events.findLast((e) => e.type === 'revoke')).toMatchObject({
      outcome: 'success', clientId: 'demo-ehr', userId: undefined, account: { kind: 'client', id: 'demo-ehr' }, detail: 'access-token',
    });
  });

  it('revokes a token minted without a session (the CLI\'s) for its client, and a refresh token whatever the hint says', async () => {
    const minted = (await env.auth.mintTokenForUser('dr.a')).accessToken;
    expect((await postForm(env.app, '/oauth/revoke', { token: minted, client_id: 'katahdin-web' })).statusCode).toBe(200);
    expect(await status(minted)).toBe(401);
    const a = await login();
    expect((await postForm(env.app, '/oauth/revoke', { token: a.refresh_token, token_type_hint: 'access_token', client_id: 'katahdin-web' })).statusCode).toBe(200);
    expect((await refresh(a.refresh_token)).json().error).toBe('invalid_grant');
    expect(await status(a.access_token)).toBe(401);
    expect(env.events.findLast((e) => e.type === 'revoke')).toMatchObject({
      outcome: 'success', clientId: 'katahdin-web', userId: await userId('dr.a'), account: { kind: 'user', id: await userId('dr.a') }, detail: 'session',
    });
  });

  it('an administrator revokes another client\'s token with their own token; anyone else is refused, and audited', async () => {
    await env.auth.addUser({ username: 'it.admin', password: PASSWORD, role: 'admin', displayName: 'IT Admin' });
    const admin = (await env.auth.mintTokenForUser('it.admin')).accessToken;
    const other = (await login('dr.b')).access_token;
    const system = await systemToken();
    const revokeAs = (bearer: string) => env.app.inject({
      method: 'POST', url: '/oauth/revoke', payload: new URLSearchParams({ token: system, client_id: 'katahdin-web' }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${bearer}` },
    });
    const refused = await revokeAs(other);
    expect(refused.json().error).toBe('invalid_grant');
    expect(await status(system)).toBe(200);
    expect(env.events.findLast((e) => e.type === 'revoke')).toMatchObject({ outcome: 'failure', clientId: 'katahdin-web', account: { kind: 'client', id: 'demo-ehr' } });
    expect((await revokeAs(admin)).statusCode).toBe(200);
    expect(await status(system)).toBe(401);
    expect(env.events.findLast((e) => e.type === 'revoke')).toMatchObject({ outcome: 'success', userId: await userId('it.admin'), account: { kind: 'client', id: 'demo-ehr' } });
  });

  it('audits a logout under the signed-in user, however the token arrives, and a refused client authentication', async () => {
    const a = await login('dr.b');
    expect((await env.app.inject({ method: 'POST', url: '/oauth/logout', payload: { token: a.refresh_token } })).statusCode).toBe(204);
    expect(env.events.findLast((e) => e.type === 'logout')).toMatchObject({
      outcome: 'success', userId: await userId('dr.b'), clientId: 'katahdin-web', account: { kind: 'user', id: await userId('dr.b') },
    });
    expect((await postForm(env.app, '/oauth/revoke', { token: a.access_token, client_id: 'demo-ehr' })).json().error).toBe('invalid_client');
    expect(env.events.findLast((e) => e.type === 'revoke')).toMatchObject({ outcome: 'failure', detail: 'invalid-client' });
  });

  it('refuses a system token at once when its client is disabled', async () => {
    const system = await systemToken();
    expect(await status(system)).toBe(200);
    await env.auth.setClientDisabled('demo-ehr', true);
    expect(await status(system)).toBe(401);
    await env.auth.setClientDisabled('demo-ehr', false);
    expect(await status(system)).toBe(200);
  });
});
