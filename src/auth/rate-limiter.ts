/**
 * Fixed-window counter per key (client IP): enough to blunt password guessing on one process. Behind several
 * instances use @fastify/rate-limit with a shared store instead.
 */
export interface RateLimiter {
  /** Counts one attempt; false when the key is over its limit for the current window. */
  take(key: string, now?: number): boolean;
}

export function createRateLimiter(opts: { max: number; windowMs: number }): RateLimiter {
  const windows = new Map<string, { start: number; count: number }>();
  let lastSweep = 0;
  return {
    take(key, now = Date.now()) {
      if (now - lastSweep > opts.windowMs) {
        // Drop finished windows so memory stays bounded by the number of recent callers.
        for (const [k, w] of windows) if (now - w.start >= opts.windowMs) windows.delete(k);
        lastSweep = now;
      }
      const w = windows.get(key);
      if (!w || now - w.start >= opts.windowMs) {
        windows.set(key, { start: now, count: 1 });
        return true;
      }
      w.count++;
      return w.count <= opts.max;
    },
  };
}
