import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Queryable } from '../store/database.ts';
import type { AuthAuditEvent, AuthAuditHook } from './audit-hook.ts';
import type { AuthService } from './auth-service.ts';
import { findClient, type Client } from './clients.ts';
import {
  CSRF_COOKIE, csrfHash, newCsrfNonce, readCookie, signFormState, verifyFormState, type AuthorizeParams, type FormState,
} from './form-token.ts';
import { renderLoginPage, type LoginPage } from './login-page.ts';
import { verifyDummyPassword, verifyPassword } from './passwords.ts';
import type { RateLimiter } from './rate-limiter.ts';
import { createAuthorizationCode, createSession } from './sessions.ts';
import { newTotpSecret, totpUri, verifyTotp } from './totp.ts';
import {
  acceptTotpStep, findUserById, findUserByUsername, isLocked, recordLoginFailure, recordLoginSuccess, setTotpSecret, type User,
} from './users.ts';

export interface AuthorizeDeps {
  auth: AuthService;
  audit?: AuthAuditHook;
  loginLimiter: RateLimiter;
}

const SIGN_IN_FAILED = 'Sign-in failed. Check your username and password. After repeated failures an account is locked for a while.';
const CODE_FAILED = 'That code was not accepted. Enter the current code from your authenticator app.';

function sendPage(reply: FastifyReply, page: LoginPage, status = 200): FastifyReply {
  return reply
    .status(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('x-frame-options', 'DENY')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
    .send(renderLoginPage(page));
}

function redirectWith(reply: FastifyReply, redirectUri: string, params: Record<string, string>): FastifyReply {
  const url = new URL(redirectUri);
  for (const [k, v] of Object.entries(params)) if (v) url.searchParams.set(k, v);
  return reply.header('cache-control', 'no-store').redirect(url.toString(), 303);
}

type Query = Record<string, string | undefined>;

/** Validates client and redirect URI first: until both are known good we must not redirect anywhere. */
function checkRequest(q: Query, client: Client | undefined, publicUrl: string): { params: AuthorizeParams } | { page: string } | { redirectError: string; redirectUri: string } {
  if (!client || client.disabled) return { page: 'Unknown application.' };
  const redirectUri = q.redirect_uri ?? (client.redirectUris.length === 1 ? client.redirectUris[0] : undefined);
  if (!redirectUri || !client.redirectUris.includes(redirectUri)) return { page: 'The application sent an unregistered redirect address.' };
  const fail = (error: string) => ({ redirectError: error, redirectUri });
  if (q.response_type !== 'code') return fail('unsupported_response_type');
  if (!q.state) return fail('invalid_request');
  if (!q.code_challenge || q.code_challenge_method !== 'S256' || !/^[A-Za-z0-9_-]{43}$/.test(q.code_challenge)) return fail('invalid_request');
  if (q.aud && q.aud !== publicUrl && q.aud !== `${publicUrl}/fhir`) return fail('invalid_request');
  return { params: { clientId: client.clientId, redirectUri, scope: q.scope ?? '', state: q.state, codeChallenge: q.code_challenge } };
}

/** GET /oauth/authorize: check the request, set the CSRF cookie, show the password form. */
export async function showAuthorize(deps: AuthorizeDeps, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const q = req.query as Query;
  const client = q.client_id ? await findClient(deps.auth.db, q.client_id) : undefined;
  const checked = checkRequest(q, client, deps.auth.config.publicUrl);
  if ('page' in checked) return sendPage(reply, { kind: 'error', message: checked.page }, 400);
  if ('redirectError' in checked) return redirectWith(reply, checked.redirectUri, { error: checked.redirectError, state: q.state ?? '' });
  const nonce = newCsrfNonce();
  const secure = deps.auth.config.publicUrl.startsWith('https:') ? '; Secure' : '';
  reply.header('set-cookie', `${CSRF_COOKIE}=${nonce}; Path=/oauth; HttpOnly; SameSite=Lax; Max-Age=600${secure}`);
  const formToken = await signFormState(deps.auth.formSecret, { step: 'password', params: checked.params, csrfHash: csrfHash(nonce) });
  return sendPage(reply, { kind: 'password', formToken, clientName: client!.name });
}

type Form = Record<string, string | undefined>;

async function audit(deps: AuthorizeDeps, event: AuthAuditEvent, work?: (tx: Queryable) => Promise<void>): Promise<void> {
  await deps.auth.db.transaction(async (tx) => {
    await work?.(tx);
    await deps.audit?.(tx, event);
  });
}

/** POST /oauth/authorize: one step of the sign-in (password, TOTP, or forced TOTP enrolment). */
export async function submitAuthorize(deps: AuthorizeDeps, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const form = (req.body ?? {}) as Form;
  const state = await verifyFormState(deps.auth.formSecret, form.form_token ?? '', readCookie(req.headers.cookie, CSRF_COOKIE));
  if (!state) return sendPage(reply, { kind: 'error', message: 'This sign-in form has expired or was not opened in this browser.' }, 400);
  if (!deps.loginLimiter.take(req.ip)) {
    return sendPage(reply, { kind: 'error', message: 'Too many sign-in attempts from this address. Wait a few minutes.' }, 429);
  }
  if (state.step === 'password') return passwordStep(deps, req, reply, state, form);
  return secondFactorStep(deps, req, reply, state, form);
}

async function passwordStep(deps: AuthorizeDeps, req: FastifyRequest, reply: FastifyReply, state: FormState, form: Form): Promise<FastifyReply> {
  const { auth } = deps;
  const user = form.username ? await findUserByUsername(auth.db, form.username) : undefined;
  const client = await findClient(auth.db, state.params.clientId);
  const retry = () => sendPage(reply, { kind: 'password', formToken: form.form_token!, clientName: client?.name ?? '', error: SIGN_IN_FAILED }, 401);
  const base = { type: 'login-failed', outcome: 'failure', clientId: state.params.clientId, sourceIp: req.ip } as const;
  if (!user) {
    await verifyDummyPassword(form.password ?? '');
    await audit(deps, { ...base, detail: 'unknown-user' });
    return retry();
  }
  const who = { username: user.username, userId: user.id };
  if (user.disabled || isLocked(user)) {
    await verifyDummyPassword(form.password ?? '');
    await audit(deps, { ...base, ...who, detail: user.disabled ? 'disabled' : 'locked' });
    return retry();
  }
  if (!(await verifyPassword(user.passwordHash, form.password ?? ''))) {
    await audit(deps, { ...base, ...who, detail: 'bad-password' }, (tx) =>
      recordLoginFailure(tx, user.id, auth.config.loginMaxFailures, auth.config.lockoutMinutes).then(() => undefined));
    return retry();
  }
  if (user.totpEnrolled && user.totpSecret) {
    const formToken = await signFormState(auth.formSecret, { ...state, step: 'totp', userId: user.id });
    return sendPage(reply, { kind: 'totp', formToken });
  }
  if (user.mfaRequired) {
    // Required but not enrolled: enrolment is forced now, before any code is issued.
    const { secret, uri } = newTotpSecret(user.username);
    await setTotpSecret(auth.db, user.id, auth.fieldCrypto.encrypt(secret), false);
    const formToken = await signFormState(auth.formSecret, { ...state, step: 'enrol', userId: user.id });
    return sendPage(reply, { kind: 'enrol', formToken, secret, uri });
  }
  return complete(deps, req, reply, state, user);
}

async function secondFactorStep(deps: AuthorizeDeps, req: FastifyRequest, reply: FastifyReply, state: FormState, form: Form): Promise<FastifyReply> {
  const { auth } = deps;
  const user = state.userId ? await findUserById(auth.db, state.userId) : undefined;
  if (!user || user.disabled || isLocked(user) || !user.totpSecret) {
    if (user) await audit(deps, { type: 'login-failed', outcome: 'failure', username: user.username, userId: user.id, clientId: state.params.clientId, sourceIp: req.ip, detail: user.disabled ? 'disabled' : 'locked' });
    return sendPage(reply, { kind: 'error', message: SIGN_IN_FAILED }, 401);
  }
  const secret = auth.fieldCrypto.decrypt(user.totpSecret);
  const step = verifyTotp(secret, form.code ?? '', user.totpLastStep);
  if (step === undefined) {
    await audit(deps, { type: 'login-failed', outcome: 'failure', username: user.username, userId: user.id, clientId: state.params.clientId, sourceIp: req.ip, detail: 'bad-totp' },
      (tx) => recordLoginFailure(tx, user.id, auth.config.loginMaxFailures, auth.config.lockoutMinutes).then(() => undefined));
    const page: LoginPage = state.step === 'enrol'
      ? { kind: 'enrol', formToken: form.form_token!, secret, uri: totpUri(secret, user.username), error: CODE_FAILED }
      : { kind: 'totp', formToken: form.form_token!, error: CODE_FAILED };
    return sendPage(reply, page, 401);
  }
  await acceptTotpStep(auth.db, user.id, step);
  return complete(deps, req, reply, state, user);
}

/** The user is signed in: open a session, mint a one-minute code, send the browser back to the app. */
async function complete(deps: AuthorizeDeps, req: FastifyRequest, reply: FastifyReply, state: FormState, user: User): Promise<FastifyReply> {
  const { auth } = deps;
  const client = await findClient(auth.db, state.params.clientId);
  if (!client || client.disabled) return sendPage(reply, { kind: 'error', message: 'Unknown application.' }, 400);
  const requested = state.params.scope.split(/\s+/).filter(Boolean);
  const subject = auth.subjectForUser(user, client, requested.length ? requested : undefined);
  const code = await auth.db.transaction(async (tx) => {
    await recordLoginSuccess(tx, user.id);
    const sessionId = await createSession(tx, user.id, client.clientId, auth.config.sessionMinutes);
    const issued = await createAuthorizationCode(tx, {
      clientId: client.clientId, userId: user.id, sessionId, redirectUri: state.params.redirectUri,
      scopes: subject.scopes, codeChallenge: state.params.codeChallenge,
    });
    await deps.audit?.(tx, {
      type: 'login', outcome: 'success', username: user.username, userId: user.id, clientId: client.clientId, sourceIp: req.ip,
      ...(state.step === 'enrol' ? { detail: 'mfa-enrolled' as const } : {}),
    });
    return issued;
  });
  reply.header('set-cookie', `${CSRF_COOKIE}=; Path=/oauth; HttpOnly; SameSite=Lax; Max-Age=0`);
  return redirectWith(reply, state.params.redirectUri, { code, state: state.params.state, iss: auth.config.publicUrl });
}
