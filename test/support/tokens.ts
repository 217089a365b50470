import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { TOTP } from 'otpauth';
import type { RunningServer } from '../../src/server.ts';

const form = (o: Record<string, string>) => new URLSearchParams(o).toString();

/** Signs in like a browser through the real authorization-code + PKCE flow and returns the token response. */
export async function signIn(server: RunningServer, username: string, password: string, totpUri?: string): Promise<Record<string, string>> {
  const { app, services } = server;
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const redirect = `${services.config.publicUrl}/callback`;
  const query = new URLSearchParams({
    response_type: 'code', client_id: 'katahdin-web', redirect_uri: redirect, state: 's1', code_challenge: challenge, code_challenge_method: 'S256',
    scope: 'openid fhirUser user/*.rs user/*.cruds patient/*.cruds offline_access',
  });
  const page = await app.inject({ method: 'GET', url: `/oauth/authorize?${query}` });
  if (page.statusCode !== 200) throw new Error(`authorize answered ${page.statusCode}`);
  const cookie = String([page.headers['set-cookie']].flat()[0]).split(';')[0];
  const token = (html: string) => /name="form_token" value="([^"]+)"/.exec(html)?.[1] ?? '';
  const post = (payload: Record<string, string>) =>
    app.inject({ method: 'POST', url: '/oauth/authorize', payload: form(payload), headers: { 'content-type': 'application/x-www-form-urlencoded', cookie } });
  let last = await post({ form_token: token(page.body), username, password });
  if (last.statusCode === 200 && last.body.includes('name="code"') && totpUri) {
    const totp = new TOTP({ secret: new URL(totpUri).searchParams.get('secret')! });
    last = await post({ form_token: token(last.body), code: totp.generate() });
  }
  const location = String(last.headers.location ?? '');
  const code = location ? new URL(location).searchParams.get('code') : null;
  if (last.statusCode !== 303 || !code) throw new Error(`sign-in for ${username} failed (${last.statusCode})`);
  const res = await app.inject({
    method: 'POST', url: '/oauth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: form({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: redirect, client_id: 'katahdin-web' }),
  });
  if (res.statusCode !== 200) throw new Error(`token exchange failed (${res.statusCode})`);
  return res.json();
}

export const TEST_PASSWORD = 'correct-horse-battery';

/** Creates a user with the test password and signs them in; returns the bearer token. */
export async function userWithToken(
  server: RunningServer,
  user: { username: string; role: 'clinician' | 'clinical-staff' | 'registrar' | 'privacy-officer' | 'admin' | 'patient'; organizationId?: string; personId?: string },
): Promise<string> {
  await server.services.auth.addUser({ ...user, password: TEST_PASSWORD, displayName: `Test ${user.username}` });
  const totp = user.role === 'admin' || user.role === 'privacy-officer' ? await server.services.auth.enrolTotp(user.username) : undefined;
  return (await signIn(server, user.username, TEST_PASSWORD, totp)).access_token;
}

/** Registers a system client with a fresh ES384 key and gets a token with SMART backend services (private_key_jwt). */
export async function systemClientToken(server: RunningServer, clientId: string, organizationId: string, scopes = ['system/*.cruds']): Promise<string> {
  const { publicKey, privateKey } = await generateKeyPair('ES384');
  const jwk = { ...(await exportJWK(publicKey)), kid: `${clientId}-k1`, alg: 'ES384' };
  await server.services.auth.addClient({ clientId, name: clientId, organizationId, scopes, jwks: { keys: [jwk] } });
  const tokenUrl = `${server.services.config.publicUrl}/oauth/token`;
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg: 'ES384', kid: jwk.kid })
    .setIssuer(clientId).setSubject(clientId).setAudience(tokenUrl).setJti(randomUUID()).setIssuedAt().setExpirationTime('2m')
    .sign(privateKey);
  const res = await server.app.inject({
    method: 'POST', url: '/oauth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: form({ grant_type: 'client_credentials', scope: scopes.join(' '), client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion }),
  });
  if (res.statusCode !== 200) throw new Error(`client_credentials failed (${res.statusCode}): ${res.body}`);
  return res.json().access_token;
}
