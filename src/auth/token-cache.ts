import type { VerifiedContext } from './tokens.ts';

export interface TokenCacheOptions {
  /** Most tokens remembered; the least recently used is dropped first. */
  maxEntries?: number;
  clock?: () => number;
}

/**
 * Remembers verified access tokens until they expire, so a client that sends the same token on every call pays
 * for the signature check once (ES384 verification costs ~1 ms of CPU per request otherwise). Sound because
 * verification is a pure function of the token text and our keys: the same text always verifies the same way,
 * and an entry is never served past the token's own `exp`. Failures are not cached. Whether the token's session,
 * user or client is still live is not a property of its text: `token-liveness.ts` checks that on every use, and
 * `forget` drops the tokens of what was revoked here.
 */
export function cachedVerifier(
  verify: (token: string) => Promise<VerifiedContext>,
  opts: TokenCacheOptions = {},
): { verify(token: string): Promise<VerifiedContext>; forget(match: (ctx: VerifiedContext) => boolean): void; clear(): void } {
  const max = opts.maxEntries ?? 10_000;
  const now = opts.clock ?? Date.now;
  const entries = new Map<string, VerifiedContext>();
  return {
    async verify(token) {
      const hit = entries.get(token);
      if (hit) {
        entries.delete(token);
        if (hit.expiresAt.getTime() > now()) {
          entries.set(token, hit);
          return hit;
        }
      }
      // Frozen: one verified context is shared by every request that presents the token.
      const ctx = Object.freeze({ ...(await verify(token)) });
      Object.freeze(ctx.scopes);
      entries.set(token, ctx);
      if (entries.size > max) entries.delete(entries.keys().next().value as string);
      return ctx;
    },
    forget(match) {
      for (const [token, ctx] of entries) if (match(ctx)) entries.delete(token);
    },
    clear: () => entries.clear(),
  };
}
