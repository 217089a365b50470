import { run, type Queryable } from '../store/database.ts';
import { sql } from '../store/sql.ts';
import { InvalidTokenError, type VerifiedContext } from './tokens.ts';

/**
 * How long a process trusts a "still live" answer from the database about a session, user, client or session-less
 * token that it did not end itself (several servers on one database): a revocation made by another process takes
 * effect here within this time. One query per session, user, client and token per interval, never one per request.
 */
export const LIVENESS_CHECK_MS = 5_000;

/** Sessions, tokens, users and clients remembered at most (a few MB); the oldest answers are dropped first. */
const MAX_ENTRIES = 50_000;

/**
 * What an access token hangs off; ending any of them ends the token. A token of a login session is revoked by ending
 * the session; one without a session (a system client's, or minted by the CLI) by its own id (`jti`).
 */
export type Holder = { kind: 'session' | 'token' | 'user' | 'client'; id: string };

export interface TokenLivenessOptions {
  db: Queryable;
  clock?: () => number;
}

export interface TokenLiveness {
  /** Refuses (InvalidTokenError) a token revoked, or whose session has ended, whose user or client is disabled. */
  check(ctx: VerifiedContext): Promise<void>;
  /** This process ended or disabled it (call once the change is committed): refused at once from now on. */
  ended(holder: Holder): void;
  /** A user or client was enabled again: ask the database next time. */
  restored(holder: Holder): void;
}

interface Entry {
  live: boolean;
  until: number;
  /** Set by `ended`, so a database answer that was in flight when it happened cannot overwrite it. */
  local: boolean;
}

const revoked = () => new InvalidTokenError('access token is revoked');

export function holdersOf(ctx: VerifiedContext): Holder[] {
  const out: Holder[] = [];
  out.push(ctx.sessionId ? { kind: 'session', id: ctx.sessionId } : { kind: 'token', id: ctx.tokenId });
  if (ctx.userId) out.push({ kind: 'user', id: ctx.userId });
  if (ctx.clientId) out.push({ kind: 'client', id: ctx.clientId });
  return out;
}

async function liveInDatabase(db: Queryable, h: Holder): Promise<boolean> {
  if (h.kind === 'token') {
    return (await run(db, sql`select 1 from revoked_tokens where jti = ${h.id}`)).length === 0;
  }
  // A row that is gone counts as ended.
  const rows = await run<{ live: boolean }>(db, h.kind === 'session'
    ? sql`select ended_at is null as live from login_sessions where id = ${h.id}`
    : h.kind === 'user'
      ? sql`select not disabled as live from users where id = ${h.id}`
      : sql`select not disabled as live from oauth_clients where client_id = ${h.id}`);
  return rows[0]?.live === true;
}

export function createTokenLiveness(opts: TokenLivenessOptions): TokenLiveness {
  const checkMs = LIVENESS_CHECK_MS;
  const now = opts.clock ?? Date.now;
  const entries = new Map<string, Entry>();
  const inFlight = new Map<string, Promise<boolean>>();
  const keyOf = (h: Holder) => `${h.kind}:${h.id}`;

  function remember(key: string, entry: Entry): void {
    entries.delete(key);
    entries.set(key, entry);
    if (entries.size <= MAX_ENTRIES) return;
    const t = now();
    for (const [k, e] of entries) if (e.until <= t) entries.delete(k);
    // Dropping a live or ended entry early only costs a query: the database stays the authority.
    for (const k of entries.keys()) {
      if (entries.size <= MAX_ENTRIES) break;
      entries.delete(k);
    }
  }

  function load(h: Holder): Promise<boolean> {
    const key = keyOf(h);
    let pending = inFlight.get(key);
    if (!pending) {
      pending = liveInDatabase(opts.db, h)
        .then((live) => {
          if (!entries.get(key)?.local) remember(key, { live, until: now() + checkMs, local: false });
          return live;
        })
        .finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    return pending;
  }

  return {
    check(ctx) {
      const t = now();
      let stale: Holder[] | undefined;
      for (const h of holdersOf(ctx)) {
        const e = entries.get(keyOf(h));
        if (!e || e.until <= t) (stale ??= []).push(h);
        else if (!e.live) return Promise.reject(revoked());
      }
      if (!stale) return Promise.resolve();
      const asked = stale;
      return Promise.all(asked.map(load)).then((live) => {
        // Re-read too: a holder may have been ended here while the query was out.
        if (live.includes(false) || asked.some((h) => entries.get(keyOf(h))?.live === false)) throw revoked();
      });
    },
    ended(h) {
      // Committed already, so after this interval the database gives the same answer.
      remember(keyOf(h), { live: false, until: now() + checkMs, local: true });
    },
    restored(h) {
      entries.delete(keyOf(h));
    },
  };
}
