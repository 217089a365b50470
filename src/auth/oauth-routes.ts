import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BULK_EXPORT_SCOPE, QUERY_ROLE_SCOPE } from '../access/scopes.ts';
import type { Config } from '../config.ts';
import type { Database } from '../store/database.ts';
import type { AuthAuditHook } from './audit-hook.ts';
import type { AuthService } from './auth-service.ts';
import { showAuthorize, submitAuthorize } from './authorize.ts';
import { createRateLimiter, type RateLimiter } from './rate-limiter.ts';
import { endSession } from './sessions.ts';
import { handleTokenRequest, OAuthError, type TokenForm } from './token-endpoint.ts';
import { accountOf, revokeToken, tokenOwner, type TokenOwner } from './token-revocation.ts';

export interface OAuthRoutesOptions {
  db: Database;
  config: Config;
  auth: AuthService;
  audit?: AuthAuditHook;
  /**
   * Per-IP limits; defaults: AUTH_LOGIN_RATE_LIMIT (20) sign-in posts and AUTH_TOKEN_RATE_LIMIT (60) token, revocation
   * and logout requests per minute (one budget).
   */
  loginLimiter?: RateLimiter;
  tokenLimiter?: RateLimiter;
}

/** Scopes we advertise (examples of each context; the role ceilings in scopes.ts decide what is granted). */
const SCOPES_SUPPORTED = [
  'openid', 'fhirUser', 'profile', 'offline_access', 'online_access', 'launch/patient',
  'patient/*.rs', 'user/*.rs', 'user/*.cruds', 'system/*.rs', 'system/*.cruds', QUERY_ROLE_SCOPE, BULK_EXPORT_SCOPE,
];

export function smartConfiguration(publicUrl: string): Record<string, unknown> {
  return {
    issuer: publicUrl,
    jwks_uri: `${publicUrl}/oauth/jwks`,
    authorization_endpoint: `${publicUrl}/oauth/authorize`,
    token_endpoint: `${publicUrl}/oauth/token`,
    revocation_endpoint: `${publicUrl}/oauth/revoke`,
    token_endpoint_auth_methods_supported: ['private_key_jwt', 'none'],
    token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
    grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
    scopes_supported: SCOPES_SUPPORTED,
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    capabilities: [
      // context-standalone-patient: a patient user asking for launch/patient gets their own Patient (token-endpoint.ts).
      'launch-standalone', 'context-standalone-patient', 'client-public', 'client-confidential-asymmetric', 'sso-openid-connect',
      'permission-v2', 'permission-patient', 'permission-user', 'permission-offline', 'permission-online',
    ],
  };
}

function parseForm(body: string): Record<string, string> {
  const out: Record<string, string> = {};
  // Repeated parameters are an error in OAuth (RFC 6749 §3.1); keeping the first is the safe reading.
  for (const [k, v] of new URLSearchParams(body)) if (!(k in out)) out[k] = v;
  return out;
}

function bearerOf(req: FastifyRequest): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  return m?.[1];
}

const noStoreJson = (reply: FastifyReply, status: number, body: unknown) =>
  reply.status(status).header('cache-control', 'no-store').header('pragma', 'no-cache').send(body);

const tooManyRequests = (reply: FastifyReply) =>
  noStoreJson(reply.header('retry-after', '60'), 429, { error: 'invalid_request', error_description: 'too many requests' });

/** OAuth 2.0 / SMART endpoints. Register without a prefix, outside the protected (token-checking) scope. */
export async function oauthRoutes(app: FastifyInstance, opts: OAuthRoutesOptions): Promise<void> {
  const { auth, config, audit } = opts;
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => {
    done(null, parseForm(body as string));
  });
  app.get('/.well-known/smart-configuration', async (_req, reply) =>
    reply.header('cache-control', 'public, max-age=300').send(smartConfiguration(config.publicUrl)));
  app.get('/oauth/jwks', async (_req, reply) => reply.header('cache-control', 'public, max-age=300').send(auth.jwks()));

  const deps = { auth, audit, loginLimiter: opts.loginLimiter ?? createRateLimiter({ max: config.authLoginRateLimit, windowMs: 60_000 }) };
  app.get('/oauth/authorize', (req, reply) => showAuthorize(deps, req, reply));
  app.post('/oauth/authorize', (req, reply) => submitAuthorize(deps, req, reply));
  const tokenLimiter = opts.tokenLimiter ?? createRateLimiter({ max: config.authTokenRateLimit, windowMs: 60_000 });
  tokenRoute(app, auth, audit, tokenLimiter);
  sessionRoutes(app, auth, audit, tokenLimiter);
}

function tokenRoute(app: FastifyInstance, auth: AuthService, audit: AuthAuditHook | undefined, limiter: RateLimiter): void {
  app.post('/oauth/token', async (req, reply) => {
    if (!limiter.take(req.ip)) return tooManyRequests(reply);
    try {
      return noStoreJson(reply, 200, await handleTokenRequest({ auth, audit }, (req.body ?? {}) as TokenForm, req.ip));
    } catch (err) {
      return oauthErrorReply(reply, err);
    }
  });
}

function oauthErrorReply(reply: FastifyReply, err: unknown): FastifyReply {
  if (!(err instanceof OAuthError)) throw err;
  if (err.code === 'invalid_client') reply.header('www-authenticate', 'Bearer error="invalid_client"');
  return noStoreJson(reply, err.status, { error: err.code, error_description: err.description });
}

function sessionRoutes(app: FastifyInstance, auth: AuthService, audit: AuthAuditHook | undefined, limiter: RateLimiter): void {
  app.post('/oauth/revoke', async (req, reply) => {
    if (!limiter.take(req.ip)) return tooManyRequests(reply);
    // An administrator's own token, sent with the request, lets them revoke any client's token (token-revocation.ts).
    const bearer = bearerOf(req);
    const caller = bearer ? await auth.verify(bearer).catch(() => undefined) : undefined;
    try {
      await revokeToken({ auth, audit }, (req.body ?? {}) as TokenForm, caller, req.ip);
      return noStoreJson(reply, 200, {});
    } catch (err) {
      return oauthErrorReply(reply, err);
    }
  });

  // Logout by refresh or access token (`refresh_token` or `token` in the body, form or JSON; or the Bearer header):
  // ends its session. The holder of a token may end it without authenticating the client. Audited under the token's
  // user, with the session's end. Anyone may call it: a logout naming no token of ours is answered the same (204) but
  // writes nothing, so junk cannot flood the audit log, and it counts against the token endpoint's per-address limit.
  // A real logout is never refused: a user behind a busy address must always be able to end their session.
  app.post('/oauth/logout', async (req, reply) => {
    const body = (req.body ?? {}) as TokenForm;
    const owners: TokenOwner[] = [];
    for (const token of [body.refresh_token, body.token, bearerOf(req)]) {
      // A JSON body may carry anything; only strings can be tokens.
      const owner = typeof token === 'string' ? await tokenOwner(auth, auth.db, token) : undefined;
      if (owner) owners.push(owner);
    }
    const who = owners[0];
    if (!who && !limiter.take(req.ip)) return tooManyRequests(reply);
    if (who) {
      const sessions = [...new Set(owners.flatMap((o) => o.sessionId ?? []))];
      await auth.db.transaction(async (tx) => {
        for (const sessionId of sessions) await endSession(tx, sessionId);
        await audit?.(tx, { type: 'logout', outcome: 'success', userId: who.userId, clientId: who.clientId, account: accountOf(who), sourceIp: req.ip });
      });
      for (const sessionId of sessions) auth.sessionEnded(sessionId);
    }
    return reply.status(204).header('cache-control', 'no-store').send();
  });
}
