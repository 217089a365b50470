import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotateDataKey } from './key-rotation.ts';
import { currentTotp } from './totp.ts';
import {
  cookieOf, exchangeCode, formTokenOf, pkcePair, postForm, PUBLIC_URL, REDIRECT, secretOfUri, signIn, startTestEnv, type TestEnv,
} from './test-support.ts';

let env: TestEnv;
const PASSWORD = 'correct horse battery';

beforeAll(async () => {
  env = await startTestEnv();
  await env.auth.addUser({ username: 'dr.demo', password: PASSWORD, role: 'clinician', displayName: 'Dr. Dana Demo', organizationId: 'org-1', practitionerId: 'pr-1' });
  await env.auth.addUser({ username: 'nurse.totp', password: PASSWORD, role: 'clinical-staff', displayName: 'Nurse Totp', organizationId: 'org-1' });
  await env.auth.addUser({ username: 'admin', password: PASSWORD, role: 'admin', displayName: 'Ada Admin' });
  await env.auth.addUser({ username: 'po', password: PASSWORD, role: 'privacy-officer', displayName: 'Pia Officer' });
  await env.auth.addUser({ username: 'locky', password: PASSWORD, role: 'registrar', displayName: 'Lou Locky', organizationId: 'org-2' });
  await env.auth.addUser({ username: 'pat', password: PASSWORD, role: 'patient', displayName: 'Pat Patient', personId: 'person-9' });
});
afterAll(async () => {
  await env.app.close();
  await env.db.close();
});

describe('SMART discovery', () => {
  it('advertises the endpoints, PKCE S256 and backend-services capabilities', async () => {
    const res = await env.app.inject({ method: 'GET', url: '/.well-known/smart-configuration' });
    const body = res.json();
    expect(body.token_endpoint).toBe(`${PUBLIC_URL}/oauth/token`);
    expect(body.code_challenge_methods_supported).toEqual(['S256']);
    expect(body.token_endpoint_auth_signing_alg_values_supported).toEqual(['RS384', 'ES384']);
    expect(body.capabilities).toContain('client-confidential-asymmetric');
    expect(body.grant_types_supported).toContain('client_credentials');
  });

  it('publishes only public keys in the JWKS', async () => {
    const { keys } = (await env.app.inject({ method: 'GET', url: '/oauth/jwks' })).json();
    expect(keys).toHaveLength(1);
    expect(keys[0].alg).toBe('ES384');
    expect(keys[0]).not.toHaveProperty('d');
  });
});

describe('authorization code + PKCE, password only', () => {
  it('signs a clinician in and the access token maps to the AccessContext', async () => {
    const login = await signIn(env.app, { username: 'dr.demo', password: PASSWORD });
    expect(login.last.statusCode).toBe(303);
    const location = new URL(login.last.headers.location as string);
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
    expect(location.searchParams.get('state')).toBe('state-123');
    const token = await exchangeCode(env.app, login.code!, login.verifier);
    expect(token.statusCode).toBe(200);
    expect(token.headers['cache-control']).toBe('no-store');
    const body = token.json();
    expect(body.token_type).toBe('Bearer');
    expect(body.refresh_token).toBeTruthy();
    expect(body.id_token).toBeTruthy();
    // patient/*.rs was asked for but a clinician may not hold it.
    expect(body.scope.split(' ').sort()).toEqual(['fhirUser', 'openid', 'user/*.rs']);
    const who = await env.app.inject({ method: 'GET', url: '/whoami', headers: { authorization: `Bearer ${body.access_token}` } });
    expect(who.statusCode).toBe(200);
    expect(who.json()).toMatchObject({
      role: 'clinician', organizationId: 'org-1', practitionerId: 'pr-1', displayName: 'Dr. Dana Demo', username: 'dr.demo',
      purposeOfUse: 'TREAT', clientId: 'katahdin-web', scopes: ['openid', 'fhirUser', 'user/*.rs'],
    });
    expect(env.events.some((e) => e.type === 'login' && e.username === 'dr.demo' && e.outcome === 'success')).toBe(true);
    expect(env.events.some((e) => e.type === 'token' && e.username === 'dr.demo' && e.detail === 'authorization_code')).toBe(true);
  });

  it('gives a patient patient scopes, PATRQT and their person id', async () => {
    const login = await signIn(env.app, { username: 'pat', password: PASSWORD, scope: 'openid patient/*.rs user/*.cruds system/*.cruds' });
    const body = (await exchangeCode(env.app, login.code!, login.verifier)).json();
    expect(body.scope).toBe('openid patient/*.rs');
    const ctx = await env.auth.verify(body.access_token);
    expect(ctx).toMatchObject({ role: 'patient', personId: 'person-9', purposeOfUse: 'PATRQT' });
  });

  it('refuses a wrong PKCE verifier, and the code is then spent', async () => {
    const login = await signIn(env.app, { username: 'dr.demo', password: PASSWORD });
    const wrong = await exchangeCode(env.app, login.code!, pkcePair().verifier);
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().error).toBe('invalid_grant');
    expect((await exchangeCode(env.app, login.code!, login.verifier)).json().error).toBe('invalid_grant');
  });

  it('refuses a second redemption of a code and revokes what the first one issued', async () => {
    const login = await signIn(env.app, { username: 'dr.demo', password: PASSWORD });
    const first = (await exchangeCode(env.app, login.code!, login.verifier)).json();
    const second = await exchangeCode(env.app, login.code!, login.verifier);
    expect(second.json().error).toBe('invalid_grant');
    const refresh = await postForm(env.app, '/oauth/token', { grant_type: 'refresh_token', refresh_token: first.refresh_token, client_id: 'katahdin-web' });
    expect(refresh.json().error).toBe('invalid_grant');
  });

  it('refuses a mismatched redirect_uri at the token endpoint', async () => {
    const login = await signIn(env.app, { username: 'dr.demo', password: PASSWORD });
    const res = await postForm(env.app, '/oauth/token', {
      grant_type: 'authorization_code', code: login.code!, code_verifier: login.verifier, redirect_uri: `${PUBLIC_URL}/other`, client_id: 'katahdin-web',
    });
    expect(res.json().error).toBe('invalid_grant');
  });

  it('never redirects to an unregistered redirect_uri and requires PKCE S256', async () => {
    const { challenge } = pkcePair();
    const base = { response_type: 'code', client_id: 'katahdin-web', state: 's', code_challenge: challenge, code_challenge_method: 'S256' };
    const evil = await env.app.inject({ method: 'GET', url: `/oauth/authorize?${new URLSearchParams({ ...base, redirect_uri: 'https://evil.example/cb' })}` });
    expect(evil.statusCode).toBe(400);
    expect(evil.headers.location).toBeUndefined();
    const plain = await env.app.inject({ method: 'GET', url: `/oauth/authorize?${new URLSearchParams({ ...base, redirect_uri: REDIRECT, code_challenge_method: 'plain' })}` });
    expect(plain.statusCode).toBe(303);
    expect(new URL(plain.headers.location as string).searchParams.get('error')).toBe('invalid_request');
  });

  it('refuses a form posted without the browser cookie (login CSRF)', async () => {
    const { challenge } = pkcePair();
    const q = new URLSearchParams({ response_type: 'code', client_id: 'katahdin-web', redirect_uri: REDIRECT, state: 's', code_challenge: challenge, code_challenge_method: 'S256' });
    const page = await env.app.inject({ method: 'GET', url: `/oauth/authorize?${q}` });
    const res = await postForm(env.app, '/oauth/authorize', { form_token: formTokenOf(page.body), username: 'dr.demo', password: PASSWORD }, 'katahdin_login=forged');
    expect(res.statusCode).toBe(400);
    expect(res.headers.location).toBeUndefined();
  });

  it('renders an accessible form without PHI', async () => {
    const { challenge } = pkcePair();
    const q = new URLSearchParams({ response_type: 'code', client_id: 'katahdin-web', redirect_uri: REDIRECT, state: 's', code_challenge: challenge, code_challenge_method: 'S256' });
    const page = await env.app.inject({ method: 'GET', url: `/oauth/authorize?${q}` });
    expect(page.body).toContain('<html lang="en">');
    expect(page.body).toContain('<label for="username">');
    expect(page.body).toContain('autocomplete="current-password"');
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(cookieOf(page)).toMatch(/^katahdin_login=/);
  });
});

describe('TOTP', () => {
  it('asks for the code when enrolled and refuses a wrong one', async () => {
    const secret = secretOfUri(await env.auth.enrolTotp('nurse.totp'));
    const noCode = await signIn(env.app, { username: 'nurse.totp', password: PASSWORD });
    expect(noCode.last.statusCode).toBe(200);
    expect(noCode.last.body).toContain('autocomplete="one-time-code"');
    expect(noCode.code).toBeUndefined();
    const login = await signIn(env.app, { username: 'nurse.totp', password: PASSWORD, totpSecret: secret });
    expect(login.last.statusCode).toBe(303);
    expect((await exchangeCode(env.app, login.code!, login.verifier)).statusCode).toBe(200);
    // The same code cannot be used twice.
    const replay = await signIn(env.app, { username: 'nurse.totp', password: PASSWORD, totpSecret: secret });
    expect(replay.last.statusCode).toBe(401);
  });

  it('forces enrolment for an administrator at first sign-in, then requires the code', async () => {
    const { challenge, verifier } = pkcePair();
    const q = new URLSearchParams({ response_type: 'code', client_id: 'katahdin-web', redirect_uri: REDIRECT, state: 's', code_challenge: challenge, code_challenge_method: 'S256' });
    const page = await env.app.inject({ method: 'GET', url: `/oauth/authorize?${q}` });
    const cookie = cookieOf(page);
    const enrol = await postForm(env.app, '/oauth/authorize', { form_token: formTokenOf(page.body), username: 'admin', password: PASSWORD }, cookie);
    expect(enrol.body).toContain('Set up two-step verification');
    const secret = /otpauth:\/\/[^<]+/.exec(enrol.body)![0].replace(/&amp;/g, '&');
    const done = await postForm(env.app, '/oauth/authorize', { form_token: formTokenOf(enrol.body), code: currentTotp(secretOfUri(secret)) }, cookie);
    expect(done.statusCode).toBe(303);
    const code = new URL(done.headers.location as string).searchParams.get('code')!;
    expect((await exchangeCode(env.app, code, verifier)).statusCode).toBe(200);
    const passwordOnly = await signIn(env.app, { username: 'admin', password: PASSWORD });
    expect(passwordOnly.code).toBeUndefined();
    expect(passwordOnly.last.body).toContain('Two-step verification');
  });
});

describe('privacy officers (privacy-rules §7: TOTP required for administrators and privacy officers)', () => {
  it('cannot sign in with a password alone: enrolment first, then the code every time', async () => {
    const { challenge, verifier } = pkcePair();
    const q = new URLSearchParams({ response_type: 'code', client_id: 'katahdin-web', redirect_uri: REDIRECT, state: 's', code_challenge: challenge, code_challenge_method: 'S256' });
    const page = await env.app.inject({ method: 'GET', url: `/oauth/authorize?${q}` });
    const cookie = cookieOf(page);
    const enrol = await postForm(env.app, '/oauth/authorize', { form_token: formTokenOf(page.body), username: 'po', password: PASSWORD }, cookie);
    expect(enrol.statusCode).toBe(200);
    expect(enrol.headers.location).toBeUndefined();
    expect(enrol.body).toContain('Set up two-step verification');
    const secret = secretOfUri(/otpauth:\/\/[^<]+/.exec(enrol.body)![0].replace(/&amp;/g, '&'));
    const done = await postForm(env.app, '/oauth/authorize', { form_token: formTokenOf(enrol.body), code: currentTotp(secret) }, cookie);
    expect(done.statusCode).toBe(303);
    expect((await exchangeCode(env.app, new URL(done.headers.location as string).searchParams.get('code')!, verifier)).statusCode).toBe(200);
    const passwordOnly = await signIn(env.app, { username: 'po', password: PASSWORD });
    expect(passwordOnly.code).toBeUndefined();
    expect(passwordOnly.last.body).toContain('Two-step verification');
  });
});

describe('password storage (privacy-rules §7)', () => {
  it('keeps only an Argon2id hash, never the password', async () => {
    const rows = await env.db.query<{ username: string; password_hash: string }>('select username, password_hash from users');
    expect(rows.rows.length).toBeGreaterThan(3);
    for (const r of rows.rows) {
      expect(r.password_hash, r.username).toMatch(/^\$argon2id\$v=19\$/);
      expect(r.password_hash).not.toContain(PASSWORD);
    }
  });
});

describe('data-key rotation', () => {
  it('re-encrypts TOTP secrets under a new key, and the running server still signs the user in', async () => {
    await env.auth.addUser({ username: 'rota', password: PASSWORD, role: 'registrar', displayName: 'Rita Rota' });
    const secret = secretOfUri(await env.auth.enrolTotp('rota'));
    const before = (await env.db.query<{ totp_secret: string }>(`select totp_secret from users where username = 'rota'`)).rows[0].totp_secret;
    const report = await rotateDataKey({ db: env.db, config: env.config });
    expect(report.addedKey).toBe(true);
    expect(report.totpSecrets.reencrypted).toBeGreaterThanOrEqual(1);
    const after = (await env.db.query<{ totp_secret: string }>(`select totp_secret from users where username = 'rota'`)).rows[0].totp_secret;
    expect(after.split(':')[0]).toBe(report.currentKeyId);
    expect(after.split(':')[0]).not.toBe(before.split(':')[0]);
    const login = await signIn(env.app, { username: 'rota', password: PASSWORD, totpSecret: secret });
    expect(login.last.statusCode).toBe(303);
  });
});

describe('lockout', () => {
  it('locks after loginMaxFailures wrong passwords, even for the right one, until lockoutMinutes pass', async () => {
    for (let i = 0; i < env.config.loginMaxFailures; i++) {
      const bad = await signIn(env.app, { username: 'locky', password: 'wrong password!!' });
      expect(bad.last.statusCode).toBe(401);
    }
    const locked = await signIn(env.app, { username: 'locky', password: PASSWORD });
    expect(locked.code).toBeUndefined();
    expect(env.events.some((e) => e.type === 'login-failed' && e.username === 'locky' && e.detail === 'locked')).toBe(true);
    await env.db.query(`update users set locked_until = now() - interval '1 second' where username = 'locky'`);
    expect((await signIn(env.app, { username: 'locky', password: PASSWORD })).code).toBeTruthy();
  });

  it('does not name a typed username that is not an account in the audit event', async () => {
    await signIn(env.app, { username: 'my-secret-password', password: 'x' });
    const e = env.events.findLast((x) => x.type === 'login-failed')!;
    expect(e.detail).toBe('unknown-user');
    expect(e.username).toBeUndefined();
  });
});
