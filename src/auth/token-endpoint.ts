import { createHash } from 'node:crypto';
import type { Queryable } from '../store/database.ts';
import { newestPatientOfPerson } from '../store/person-patients.ts';
import type { AuthAuditHook } from './audit-hook.ts';
import type { AuthService } from './auth-service.ts';
import { authenticateClient, ClientAuthError, findClient, type Client } from './clients.ts';
import { splitScope } from './scopes.ts';
import { issueRefreshToken, redeemAuthorizationCode, rotateRefreshToken } from './sessions.ts';
import type { TokenSubject } from './tokens.ts';
import { findUserById, type User } from './users.ts';

export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** RFC 6749 §5.2 error codes (revocation answers with the same, RFC 7009 §2.2.1). */
export type OAuthErrorCode =
  | 'invalid_request' | 'invalid_client' | 'invalid_grant' | 'unauthorized_client' | 'unsupported_grant_type' | 'invalid_scope';

export class OAuthError extends Error {
  constructor(readonly code: OAuthErrorCode, readonly description: string) {
    super(description);
  }
  get status(): number {
    return this.code === 'invalid_client' ? 401 : 400;
  }
}

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  refresh_token?: string;
  id_token?: string;
  /** Who signed in, so an app can choose its screens (the server still checks every call). */
  role?: string;
  username?: string;
  display_name?: string;
  organization_id?: string;
  person_id?: string;
  /** SMART launch context: the Patient in context, when `launch/patient` was granted and there is one. */
  patient?: string;
}

export interface TokenDeps {
  auth: AuthService;
  audit?: AuthAuditHook;
}

export type TokenForm = Record<string, string | undefined>;

/** POST /oauth/token: dispatches on grant_type. Each grant's database work and its audit event share one transaction. */
export async function handleTokenRequest(deps: TokenDeps, form: TokenForm, sourceIp: string): Promise<TokenResponse> {
  switch (form.grant_type) {
    case 'authorization_code': return authorizationCodeGrant(deps, form, sourceIp);
    case 'refresh_token': return refreshTokenGrant(deps, form, sourceIp);
    case 'client_credentials': return clientCredentialsGrant(deps, form, sourceIp);
    default: throw new OAuthError('unsupported_grant_type', 'grant_type must be authorization_code, refresh_token or client_credentials');
  }
}

/** Public clients name themselves; confidential ones must prove it with a client assertion (also for revocation). */
export async function identifyClient(tx: Queryable, deps: TokenDeps, form: TokenForm): Promise<Client> {
  if (form.client_assertion) {
    if (form.client_assertion_type !== JWT_BEARER_ASSERTION) throw new OAuthError('invalid_client', 'unsupported client_assertion_type');
    const client = await authenticate(tx, deps, form.client_assertion);
    if (form.client_id && form.client_id !== client.clientId) throw new OAuthError('invalid_client', 'client_id does not match the assertion');
    return client;
  }
  const client = form.client_id ? await findClient(tx, form.client_id) : undefined;
  if (!client || client.disabled) throw new OAuthError('invalid_client', 'unknown client');
  if (!client.public) throw new OAuthError('invalid_client', 'this client must authenticate with private_key_jwt');
  return client;
}

async function authenticate(tx: Queryable, deps: TokenDeps, assertion: string): Promise<Client> {
  try {
    return await authenticateClient(tx, assertion, deps.auth.tokenUrl);
  } catch (err) {
    if (err instanceof ClientAuthError) throw new OAuthError('invalid_client', err.message);
    throw err;
  }
}

function pkceMatches(verifier: string | undefined, challenge: string): boolean {
  if (!verifier || !/^[A-Za-z0-9._~-]{43,128}$/.test(verifier)) return false;
  return createHash('sha256').update(verifier).digest('base64url') === challenge;
}

async function activeUser(tx: Queryable, userId: string): Promise<User> {
  const user = await findUserById(tx, userId);
  if (!user || user.disabled) throw new OAuthError('invalid_grant', 'the user is no longer active');
  return user;
}

/**
 * The Patient in context for `launch/patient` (SMART standalone launch): a patient user's own record. Other roles
 * get none, since there is no patient picker to choose one.
 */
async function launchPatient(tx: Queryable, subject: TokenSubject): Promise<string | undefined> {
  if (subject.role !== 'patient' || !subject.personId || !subject.scopes.includes('launch/patient')) return undefined;
  return newestPatientOfPerson(tx, subject.personId);
}

async function userTokens(deps: TokenDeps, tx: Queryable, user: User, subject: TokenSubject, refreshToken: string): Promise<TokenResponse> {
  const patient = await launchPatient(tx, subject);
  const { accessToken, expiresIn } = await deps.auth.tokens.issue(subject);
  const idToken = subject.scopes.includes('openid') ? await deps.auth.tokens.idToken(subject, deps.auth.fhirUser(user)) : undefined;
  return {
    access_token: accessToken, token_type: 'Bearer', expires_in: expiresIn, scope: subject.scopes.join(' '),
    refresh_token: refreshToken, ...(idToken ? { id_token: idToken } : {}),
    role: subject.role, username: subject.username, display_name: subject.displayName,
    ...(subject.organizationId ? { organization_id: subject.organizationId } : {}), ...(subject.personId ? { person_id: subject.personId } : {}),
    ...(patient ? { patient } : {}),
  };
}

/**
 * Errors inside the transaction are returned, not thrown, so that what must stick (a consumed code, a revoked
 * family after reuse) commits together with its audit event. `onCommit` work runs once it has committed.
 */
export async function inTransaction<T>(
  deps: TokenDeps,
  fn: (tx: Queryable, onCommit: (work: () => void) => void) => Promise<T>,
): Promise<T> {
  const committed: Array<() => void> = [];
  const result = await deps.auth.db.transaction(async (tx) => {
    try {
      return { ok: true as const, value: await fn(tx, (work) => committed.push(work)) };
    } catch (err) {
      if (err instanceof OAuthError) return { ok: false as const, err };
      throw err;
    }
  });
  for (const work of committed) work();
  if (!result.ok) throw result.err;
  return result.value;
}

async function authorizationCodeGrant(deps: TokenDeps, form: TokenForm, sourceIp: string): Promise<TokenResponse> {
  if (!form.code) throw new OAuthError('invalid_request', 'code is required');
  return inTransaction(deps, async (tx, onCommit) => {
    const client = await identifyClient(tx, deps, form);
    const redeemed = await redeemAuthorizationCode(tx, form.code!);
    if (!redeemed.ok) {
      if (redeemed.reason === 'replayed') onCommit(() => deps.auth.sessionEnded(redeemed.endedSession));
      await deps.audit?.(tx, { type: 'token', outcome: 'failure', clientId: client.clientId, sourceIp, detail: redeemed.reason === 'replayed' ? 'code-replayed' : 'invalid-grant' });
      throw new OAuthError('invalid_grant', `authorization code is ${redeemed.reason === 'unknown' ? 'unknown' : redeemed.reason}`);
    }
    const code = redeemed.code;
    if (code.clientId !== client.clientId) throw new OAuthError('invalid_grant', 'code was issued to another client');
    if (form.redirect_uri !== code.redirectUri) throw new OAuthError('invalid_grant', 'redirect_uri does not match the authorization request');
    if (!pkceMatches(form.code_verifier, code.codeChallenge)) throw new OAuthError('invalid_grant', 'PKCE code_verifier does not match');
    const user = await activeUser(tx, code.userId);
    const subject = { ...deps.auth.subjectForUser(user, client, code.scopes, code.sessionId), scopes: code.scopes };
    const refresh = await issueRefreshToken(tx, {
      sessionId: code.sessionId, userId: user.id, clientId: client.clientId, scopes: code.scopes, days: deps.auth.config.refreshTokenDays,
    });
    await deps.audit?.(tx, { type: 'token', outcome: 'success', username: user.username, userId: user.id, clientId: client.clientId, sourceIp, detail: 'authorization_code' });
    return userTokens(deps, tx, user, subject, refresh);
  });
}

async function refreshTokenGrant(deps: TokenDeps, form: TokenForm, sourceIp: string): Promise<TokenResponse> {
  if (!form.refresh_token) throw new OAuthError('invalid_request', 'refresh_token is required');
  return inTransaction(deps, async (tx, onCommit) => {
    const client = await identifyClient(tx, deps, form);
    const rotated = await rotateRefreshToken(tx, form.refresh_token!, client.clientId, deps.auth.config);
    if (!rotated.ok) {
      if (rotated.reason === 'reused') onCommit(() => deps.auth.sessionEnded(rotated.endedSession));
      await deps.audit?.(tx, { type: 'token', outcome: 'failure', clientId: client.clientId, sourceIp, detail: rotated.reason === 'reused' ? 'refresh-reused' : 'invalid-grant' });
      throw new OAuthError('invalid_grant', rotated.reason === 'reused' ? 'refresh token was already used; the session is revoked' : 'refresh token is invalid or expired');
    }
    const user = await activeUser(tx, rotated.value.userId);
    const requested = splitScope(form.scope);
    // A refresh may narrow the scopes, never widen them beyond the original grant.
    const scopes = requested.length ? requested.filter((s) => rotated.value.scopes.includes(s)) : rotated.value.scopes;
    const subject = { ...deps.auth.subjectForUser(user, client, scopes, rotated.value.sessionId), scopes };
    await deps.audit?.(tx, { type: 'token', outcome: 'success', username: user.username, userId: user.id, clientId: client.clientId, sourceIp, detail: 'refresh_token' });
    return userTokens(deps, tx, user, subject, rotated.value.refreshToken);
  });
}

async function clientCredentialsGrant(deps: TokenDeps, form: TokenForm, sourceIp: string): Promise<TokenResponse> {
  if (form.client_assertion_type !== JWT_BEARER_ASSERTION || !form.client_assertion) {
    throw new OAuthError('invalid_client', 'client_credentials requires a private_key_jwt client assertion');
  }
  return inTransaction(deps, async (tx) => {
    let client: Client;
    try {
      client = await authenticate(tx, deps, form.client_assertion!);
    } catch (err) {
      await deps.audit?.(tx, { type: 'token', outcome: 'failure', sourceIp, detail: 'invalid-client' });
      throw err;
    }
    const requested = splitScope(form.scope);
    const subject = deps.auth.subjectForClient(client, requested.length ? requested : undefined);
    if (subject.scopes.length === 0) throw new OAuthError('invalid_scope', 'none of the requested scopes is allowed for this client');
    const { accessToken, expiresIn } = await deps.auth.tokens.issue(subject);
    await deps.audit?.(tx, { type: 'token', outcome: 'success', clientId: client.clientId, sourceIp, detail: 'client_credentials' });
    return { access_token: accessToken, token_type: 'Bearer', expires_in: expiresIn, scope: subject.scopes.join(' ') };
  });
}
