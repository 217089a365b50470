import { randomUUID } from 'node:crypto';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateSigningKeys, SIGNING_ALG } from './keys.ts';
import { JWT_BEARER_ASSERTION } from './token-endpoint.ts';
import { exchangeCode, postForm, PUBLIC_URL, signIn, startTestEnv, type TestEnv } from './test-support.ts';

let env: TestEnv;
const PASSWORD = 'correct horse battery';
const TOKEN_URL = `${PUBLIC_URL}/oauth/token`;
let ehrKey: CryptoKey;
let ehrPublic: JWK;
let rsaKey: CryptoKey;

beforeAll(async () => {
  env = await startTestEnv();
  await env.auth.addUser({ username: 'dr.demo', password: PASSWORD, role: 'clinician', displayName: 'Dr. Dana Demo', organizationId: 'org-1' });
  const ec = await generateKeyPair('ES384', { extractable: true });
  ehrKey = ec.privateKey;
  ehrPublic = { ...(await exportJWK(ec.publicKey)), kid: 'ehr-1', alg: 'ES384' };
  await env.auth.addClient({ clientId: 'demo-ehr', name: 'Demo EHR', organizationId: 'org-ehr', scopes: ['system/*.cruds'], jwks: { keys: [ehrPublic] } });
  const rsa = await generateKeyPair('RS384', { extractable: true });
  rsaKey = rsa.privateKey;
  const rsaPublic = { ...(await exportJWK(rsa.publicKey)), kid: 'lab-1', alg: 'RS384' };
  await env.auth.addClient({ clientId: 'demo-lab', name: 'Demo Lab', organizationId: 'org-lab', scopes: ['system/Observation.c', 'system/DiagnosticReport.c'], jwks: { keys: [rsaPublic] } });
});
afterAll(async () => {
  await env.app.close();
  await env.db.close();
});

async function assertion(opts: { key?: CryptoKey; alg?: string; kid?: string; iss?: string; aud?: string; exp?: string; jti?: string } = {}): Promise<string> {
  const iss = opts.iss ?? 'demo-ehr';
  return new SignJWT({})
    .setProtectedHeader({ alg: opts.alg ?? 'ES384', kid: opts.kid ?? 'ehr-1', typ: 'JWT' })
    .setIssuer(iss).setSubject(iss).setAudience(opts.aud ?? TOKEN_URL)
    .setJti(opts.jti ?? randomUUID()).setIssuedAt().setExpirationTime(opts.exp ?? '4m')
    .sign(opts.key ?? ehrKey);
}

const clientCredentials = (clientAssertion: string, scope = 'system/*.rs') =>
  postForm(env.app, '/oauth/token', { grant_type: 'client_credentials', scope, client_assertion_type: JWT_BEARER_ASSERTION, client_assertion: clientAssertion });

describe('client_credentials with private_key_jwt', () => {
  it('issues a system token for an ES384 assertion, scoped to the client organization', async () => {
    const res = await clientCredentials(await assertion(), 'system/*.cruds');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.refresh_token).toBeUndefined();
    expect(body.scope).toBe('system/*.cruds');
    const ctx = await env.auth.verify(body.access_token);
    expect(ctx).toMatchObject({ role: 'system', clientId: 'demo-ehr', organizationId: 'org-ehr', displayName: 'Demo EHR' });
    expect(ctx.userId).toBeUndefined();
    expect(env.events.some((e) => e.type === 'token' && e.clientId === 'demo-ehr' && e.detail === 'client_credentials')).toBe(true);
  });

  it('accepts RS384 and never grants more than the client registration', async () => {
    const res = await clientCredentials(await assertion({ key: rsaKey, alg: 'RS384', kid: 'lab-1', iss: 'demo-lab' }), 'system/*.cruds');
    expect(res.json().scope.split(' ').sort()).toEqual(['system/DiagnosticReport.c', 'system/Observation.c']);
  });

  it('refuses a replayed assertion (same jti)', async () => {
    const jti = randomUUID();
    expect((await clientCredentials(await assertion({ jti }))).statusCode).toBe(200);
    const again = await clientCredentials(await assertion({ jti }));
    expect(again.statusCode).toBe(401);
    expect(again.json().error).toBe('invalid_client');
  });

  it.each([
    ['wrong audience', { aud: `${PUBLIC_URL}/fhir` }],
    ['lifetime over 5 minutes', { exp: '30m' }],
    ['already expired', { exp: '-1m' }],
    ['unknown client', { iss: 'nobody' }],
  ])('refuses an assertion with %s', async (_label, opts) => {
    const res = await clientCredentials(await assertion(opts));
    expect(res.statusCode).toBe(401);
    expect(res.json().error).toBe('invalid_client');
  });

  it('refuses an assertion signed with a key that is not registered', async () => {
    const other = await generateKeyPair('ES384');
    expect((await clientCredentials(await assertion({ key: other.privateKey }))).json().error).toBe('invalid_client');
  });

  it('refuses an HS256 assertion and a missing assertion', async () => {
    const hs = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer('demo-ehr').setSubject('demo-ehr')
      .setAudience(TOKEN_URL).setJti(randomUUID()).setExpirationTime('4m').sign(new Uint8Array(32));
    expect((await clientCredentials(hs)).json().error).toBe('invalid_client');
    const none = await postForm(env.app, '/oauth/token', { grant_type: 'client_credentials', client_id: 'demo-ehr' });
    expect(none.json().error).toBe('invalid_client');
  });

  it('answers unsupported_grant_type for other grants', async () => {
    const res = await postForm(env.app, '/oauth/token', { grant_type: 'password', username: 'dr.demo', password: PASSWORD });
    expect(res.json().error).toBe('unsupported_grant_type');
  });
});

describe('refresh tokens', () => {
  async function freshLogin() {
    const login = await signIn(env.app, { username: 'dr.demo', password: PASSWORD, scope: 'openid user/*.rs offline_access' });
    return (await exchangeCode(env.app, login.code!, login.verifier)).json();
  }
  const refresh = (token: string, clientId = 'katahdin-web') =>
    postForm(env.app, '/oauth/token', { grant_type: 'refresh_token', refresh_token: token, client_id: clientId });

  it('rotates, and reuse of a rotated token revokes the whole family', async () => {
    const first = await freshLogin();
    const second = await refresh(first.refresh_token);
    expect(second.statusCode).toBe(200);
    const secondBody = second.json();
    expect(secondBody.refresh_token).not.toBe(first.refresh_token);
    expect(secondBody.scope).toBe(first.scope);
    const reuse = await refresh(first.refresh_token);
    expect(reuse.json().error).toBe('invalid_grant');
    expect(env.events.some((e) => e.detail === 'refresh-reused')).toBe(true);
    // The thief's replay also kills the legitimate holder's newer token.
    expect((await refresh(secondBody.refresh_token)).json().error).toBe('invalid_grant');
  });

  it('refuses a refresh token presented by another client', async () => {
    const first = await freshLogin();
    expect((await refresh(first.refresh_token, 'demo-ehr')).json().error).toBe('invalid_client');
  });

  it('ends the session on logout and on revocation', async () => {
    const a = await freshLogin();
    const out = await postForm(env.app, '/oauth/logout', { refresh_token: a.refresh_token });
    expect(out.statusCode).toBe(204);
    expect((await refresh(a.refresh_token)).json().error).toBe('invalid_grant');
    const b = await freshLogin();
    const logout = await env.app.inject({ method: 'POST', url: '/oauth/logout', headers: { authorization: `Bearer ${b.access_token}` } });
    expect(logout.statusCode).toBe(204);
    expect((await refresh(b.refresh_token)).json().error).toBe('invalid_grant');
    const c = await freshLogin();
    expect((await postForm(env.app, '/oauth/revoke', { token: c.refresh_token, client_id: 'katahdin-web' })).statusCode).toBe(200);
    expect((await refresh(c.refresh_token)).json().error).toBe('invalid_grant');
  });

  it('refuses refresh after the session idles out', async () => {
    const a = await freshLogin();
    await env.db.query(`update login_sessions set expires_at = now() - interval '1 second'`);
    expect((await refresh(a.refresh_token)).json().error).toBe('invalid_grant');
  });
});

describe('protected routes refuse bad tokens', () => {
  const whoami = (authorization?: string) =>
    env.app.inject({ method: 'GET', url: '/whoami', headers: authorization ? { authorization } : {} });

  async function expectRefused(authorization?: string) {
    const res = await whoami(authorization);
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(res.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'login' }] });
  }

  async function realKeySigned(claims: Record<string, unknown>, opts: { aud?: string; exp?: string; typ?: string } = {}) {
    const ring = await loadOrCreateSigningKeys(env.config.dataDir);
    // An existing, enabled user: tokens of unknown users are refused by the liveness check.
    const sub = (await env.auth.listUsers()).find((u) => u.username === 'dr.demo')!.id;
    return new SignJWT({ role: 'admin', name: 'Mallory', pou: 'TREAT', scope: 'user/*.rs', client_id: 'katahdin-web', ...claims })
      .setProtectedHeader({ alg: SIGNING_ALG, kid: ring.current.kid, typ: opts.typ ?? 'at+jwt' })
      .setIssuer(PUBLIC_URL).setAudience(opts.aud ?? PUBLIC_URL).setSubject(sub).setJti(randomUUID())
      .setIssuedAt().setExpirationTime(opts.exp ?? '5m').sign(ring.current.privateKey);
  }

  it('accepts a well-formed token signed with our key (control for the cases below)', async () => {
    expect((await whoami(`Bearer ${await realKeySigned({})}`)).statusCode).toBe(200);
  });

  it('refuses a missing token and a non-Bearer scheme', async () => {
    await expectRefused();
    await expectRefused('Basic ZHI6ZGVtbw==');
  });

  it('refuses an expired token', async () => {
    await expectRefused(`Bearer ${await realKeySigned({}, { exp: '-10m' })}`);
  });

  it('refuses a token for another audience', async () => {
    await expectRefused(`Bearer ${await realKeySigned({}, { aud: 'https://other-hie.example' })}`);
  });

  it('refuses an id_token used as an access token', async () => {
    await expectRefused(`Bearer ${await realKeySigned({}, { typ: 'JWT' })}`);
  });

  it('refuses a token signed with another key', async () => {
    const other = await generateKeyPair('ES384');
    const ring = await loadOrCreateSigningKeys(env.config.dataDir);
    const forged = await new SignJWT({ role: 'admin', name: 'M', pou: 'TREAT', scope: 'user/*.rs' })
      .setProtectedHeader({ alg: 'ES384', kid: ring.current.kid, typ: 'at+jwt' })
      .setIssuer(PUBLIC_URL).setAudience(PUBLIC_URL).setSubject('u').setJti('j').setIssuedAt().setExpirationTime('5m')
      .sign(other.privateKey);
    await expectRefused(`Bearer ${forged}`);
  });

  it('refuses alg none', async () => {
    const unsigned = new UnsecuredJWT({ role: 'admin', name: 'M', pou: 'TREAT', scope: 'user/*.rs' })
      .setIssuer(PUBLIC_URL).setAudience(PUBLIC_URL).setSubject('u').setJti('j').setIssuedAt().setExpirationTime('5m').encode();
    await expectRefused(`Bearer ${unsigned}`);
  });

  it('refuses a token whose claims were changed after signing', async () => {
    const login = await signIn(env.app, { username: 'dr.demo', password: PASSWORD });
    const { access_token } = (await exchangeCode(env.app, login.code!, login.verifier)).json();
    const [header, , signature] = access_token.split('.');
    const claims = { ...decodeJwt(access_token), role: 'admin', scope: 'system/*.cruds' };
    await expectRefused(`Bearer ${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`);
  });

  it('refuses a token with an unknown role', async () => {
    await expectRefused(`Bearer ${await realKeySigned({ role: 'superuser' })}`);
  });
});

describe('CLI tokens', () => {
  it('mints a user token and a client token that verify', async () => {
    const user = await env.auth.verify((await env.auth.mintTokenForUser('dr.demo')).accessToken);
    expect(user).toMatchObject({ role: 'clinician', username: 'dr.demo', organizationId: 'org-1' });
    expect(user.scopes).not.toContain('patient/*.rs');
    const client = await env.auth.verify((await env.auth.mintTokenForClient('demo-ehr')).accessToken);
    expect(client).toMatchObject({ role: 'system', organizationId: 'org-ehr', scopes: ['system/*.cruds'] });
  });

  it('refuses to mint for a disabled user', async () => {
    await env.auth.addUser({ username: 'gone', password: PASSWORD, role: 'clinician', displayName: 'Gone' });
    await env.auth.setUserDisabled('gone', true);
    await expect(env.auth.mintTokenForUser('gone')).rejects.toThrow(/disabled/);
  });
});
