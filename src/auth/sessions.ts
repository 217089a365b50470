import { randomUUID } from 'node:crypto';
import { run, type Queryable } from '../store/database.ts';
import { sql } from '../store/sql.ts';
import { hashToken, newOpaqueToken } from './tokens.ts';

/** Login sessions, authorization codes and rotating refresh tokens: the stateful half of OAuth. */

export async function createSession(db: Queryable, userId: string, clientId: string, minutes: number): Promise<string> {
  const id = randomUUID();
  await run(db, sql`insert into login_sessions (id, user_id, client_id, expires_at)
    values (${id}, ${userId}, ${clientId}, now() + make_interval(mins => ${minutes}::int))`);
  return id;
}

/** Ends a session and revokes every refresh token hanging off it. */
export async function endSession(db: Queryable, sessionId: string): Promise<void> {
  await run(db, sql`update login_sessions set ended_at = coalesce(ended_at, now()) where id = ${sessionId}`);
  await run(db, sql`update refresh_tokens set revoked_at = coalesce(revoked_at, now()) where session_id = ${sessionId}`);
}

export async function endUserSessions(db: Queryable, userId: string): Promise<void> {
  const rows = await run<{ id: string }>(db, sql`select id from login_sessions where user_id = ${userId} and ended_at is null`);
  for (const r of rows) await endSession(db, r.id);
}

export interface NewCode {
  clientId: string;
  userId: string;
  sessionId: string;
  redirectUri: string;
  scopes: string[];
  codeChallenge: string;
}

/** Authorization codes live one minute and are single-use. */
export async function createAuthorizationCode(db: Queryable, c: NewCode): Promise<string> {
  const code = newOpaqueToken();
  await run(db, sql`insert into oauth_codes (code_hash, client_id, user_id, session_id, redirect_uri, scopes, code_challenge, expires_at)
    values (${hashToken(code)}, ${c.clientId}, ${c.userId}, ${c.sessionId}, ${c.redirectUri}, ${c.scopes}, ${c.codeChallenge},
      now() + interval '60 seconds')`);
  return code;
}

export interface RedeemedCode {
  userId: string;
  sessionId: string;
  clientId: string;
  redirectUri: string;
  scopes: string[];
  codeChallenge: string;
}

/** `endedSession`: the session a replay ended, so the caller can refuse its access tokens once committed. */
export type CodeResult =
  | { ok: true; code: RedeemedCode }
  | { ok: false; reason: 'unknown' | 'expired' }
  | { ok: false; reason: 'replayed'; endedSession: string };

/** Marks a code used. A second redemption ends the session it created (RFC 6749 §4.1.2: revoke what it issued). */
export async function redeemAuthorizationCode(db: Queryable, code: string): Promise<CodeResult> {
  const rows = await run<{
    user_id: string; session_id: string; client_id: string; redirect_uri: string; scopes: string[];
    code_challenge: string; used: boolean; expired: boolean;
  }>(db, sql`select user_id, session_id, client_id, redirect_uri, scopes, code_challenge,
      used_at is not null as used, expires_at < now() as expired
    from oauth_codes where code_hash = ${hashToken(code)} for update`);
  const r = rows[0];
  if (!r) return { ok: false, reason: 'unknown' };
  if (r.used) {
    await endSession(db, r.session_id);
    return { ok: false, reason: 'replayed', endedSession: r.session_id };
  }
  await run(db, sql`update oauth_codes set used_at = now() where code_hash = ${hashToken(code)}`);
  if (r.expired) return { ok: false, reason: 'expired' };
  return {
    ok: true,
    code: { userId: r.user_id, sessionId: r.session_id, clientId: r.client_id, redirectUri: r.redirect_uri, scopes: r.scopes, codeChallenge: r.code_challenge },
  };
}

export interface NewRefreshToken {
  sessionId: string;
  userId: string;
  clientId: string;
  scopes: string[];
  familyId?: string;
  days: number;
}

export async function issueRefreshToken(db: Queryable, t: NewRefreshToken): Promise<string> {
  const token = newOpaqueToken();
  await run(db, sql`insert into refresh_tokens (token_hash, family_id, session_id, user_id, client_id, scopes, expires_at)
    values (${hashToken(token)}, ${t.familyId ?? randomUUID()}, ${t.sessionId}, ${t.userId}, ${t.clientId}, ${t.scopes},
      now() + make_interval(days => ${t.days}::int))`);
  return token;
}

export interface RotatedRefresh {
  userId: string;
  clientId: string;
  sessionId: string;
  scopes: string[];
  refreshToken: string;
}

export type RefreshResult =
  | { ok: true; value: RotatedRefresh }
  | { ok: false; reason: 'unknown' | 'expired' | 'client-mismatch' }
  | { ok: false; reason: 'reused'; endedSession: string };

/**
 * Exchanges a refresh token for a new one in the same family. Presenting a token that was already rotated is
 * taken as theft: the whole session (every token of the family) is revoked. Each use also extends the
 * session's idle timeout by `sessionMinutes`.
 */
export async function rotateRefreshToken(
  db: Queryable,
  token: string,
  clientId: string,
  opts: { sessionMinutes: number; refreshTokenDays: number },
): Promise<RefreshResult> {
  const rows = await run<{
    family_id: string; session_id: string; user_id: string; client_id: string; scopes: string[];
    spent: boolean; expired: boolean; session_live: boolean;
  }>(db, sql`select t.family_id, t.session_id, t.user_id, t.client_id, t.scopes,
      (t.rotated_at is not null or t.revoked_at is not null) as spent,
      t.expires_at < now() as expired,
      (s.ended_at is null and s.expires_at > now()) as session_live
    from refresh_tokens t join login_sessions s on s.id = t.session_id
    where t.token_hash = ${hashToken(token)} for update of t`);
  const r = rows[0];
  if (!r) return { ok: false, reason: 'unknown' };
  if (r.client_id !== clientId) return { ok: false, reason: 'client-mismatch' };
  if (r.spent) {
    await endSession(db, r.session_id);
    return { ok: false, reason: 'reused', endedSession: r.session_id };
  }
  if (r.expired || !r.session_live) return { ok: false, reason: 'expired' };
  await run(db, sql`update refresh_tokens set rotated_at = now() where token_hash = ${hashToken(token)}`);
  await run(db, sql`update login_sessions set expires_at = now() + make_interval(mins => ${opts.sessionMinutes}::int)
    where id = ${r.session_id}`);
  const refreshToken = await issueRefreshToken(db, {
    sessionId: r.session_id, userId: r.user_id, clientId: r.client_id, scopes: r.scopes, familyId: r.family_id, days: opts.refreshTokenDays,
  });
  return { ok: true, value: { userId: r.user_id, clientId: r.client_id, sessionId: r.session_id, scopes: r.scopes, refreshToken } };
}

/** The session, user and client of a refresh token (spent or not), for revocation; undefined when unknown. */
export async function refreshTokenOwner(db: Queryable, token: string): Promise<{ sessionId: string; userId: string; clientId: string } | undefined> {
  const rows = await run<{ session_id: string; user_id: string; client_id: string }>(db,
    sql`select session_id, user_id, client_id from refresh_tokens where token_hash = ${hashToken(token)}`);
  return rows[0] ? { sessionId: rows[0].session_id, userId: rows[0].user_id, clientId: rows[0].client_id } : undefined;
}

/** Revokes an access token that has no session to end, until it expires; forgets the revocations already past that. */
export async function revokeAccessToken(db: Queryable, jti: string, expiresAt: Date): Promise<void> {
  await run(db, sql`delete from revoked_tokens where expires_at < now()`);
  await run(db, sql`insert into revoked_tokens (jti, expires_at) values (${jti}, ${expiresAt.toISOString()}) on conflict (jti) do nothing`);
}
