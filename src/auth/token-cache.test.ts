import { describe, expect, it } from 'vitest';
import { cachedVerifier } from './token-cache.ts';
import type { VerifiedContext } from './tokens.ts';

function contextFor(token: string, expiresAt: number): VerifiedContext {
  return { displayName: token, role: 'clinician', scopes: ['user/*.rs'], purposeOfUse: 'TREAT', tokenId: token, expiresAt: new Date(expiresAt) };
}

describe('cachedVerifier', () => {
  it('verifies a token once and serves the same context until it expires', async () => {
    let now = 1_000;
    const calls: string[] = [];
    const cache = cachedVerifier(async (t) => {
      calls.push(t);
      return contextFor(t, 5_000);
    }, { clock: () => now });
    expect((await cache.verify('a')).tokenId).toBe('a');
    expect((await cache.verify('a')).tokenId).toBe('a');
    expect(calls).toEqual(['a']);
    now = 5_000;
    await cache.verify('a');
    expect(calls).toEqual(['a', 'a']);
  });

  it('never caches a refusal', async () => {
    let calls = 0;
    const cache = cachedVerifier(async () => {
      calls += 1;
      throw new Error('invalid');
    });
    await expect(cache.verify('bad')).rejects.toThrow('invalid');
    await expect(cache.verify('bad')).rejects.toThrow('invalid');
    expect(calls).toBe(2);
  });

  it('keeps at most maxEntries tokens, dropping the least recently used', async () => {
    const calls: string[] = [];
    const cache = cachedVerifier(async (t) => {
      calls.push(t);
      return contextFor(t, Date.now() + 60_000);
    }, { maxEntries: 2 });
    await cache.verify('a');
    await cache.verify('b');
    await cache.verify('a');
    await cache.verify('c');
    await cache.verify('a');
    await cache.verify('b');
    expect(calls).toEqual(['a', 'b', 'c', 'b']);
  });

  it('hands out a frozen context so one request cannot change another request\'s caller', async () => {
    const cache = cachedVerifier(async (t) => contextFor(t, Date.now() + 60_000));
    const ctx = await cache.verify('a');
    expect(Object.isFrozen(ctx)).toBe(true);
    expect(Object.isFrozen(ctx.scopes)).toBe(true);
  });

  it('forgets the tokens a revocation names, and only those', async () => {
    const calls: string[] = [];
    const cache = cachedVerifier(async (t) => {
      calls.push(t);
      return contextFor(t, Date.now() + 60_000);
    });
    await cache.verify('a');
    await cache.verify('b');
    cache.forget((ctx) => ctx.tokenId === 'a');
    await cache.verify('a');
    await cache.verify('b');
    expect(calls).toEqual(['a', 'b', 'a']);
  });
});
