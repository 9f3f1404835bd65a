import { LRUCache } from "lru-cache";

export interface RateLimiterOptions {
  /** Bucket size: how many messages may be sent at once. */
  burst: number;
  /** Refill rate in messages per second. */
  perSecond: number;
  /** Buckets kept in memory; the least recently used are forgotten (a forgotten bucket is full again). Default 100 000. */
  maxKeys?: number;
  /** Clock in milliseconds; tests pass their own. Default performance.now. */
  now?: () => number;
}

/**
 * Token buckets by key (a visitor, so that several tabs share one limit; a client
 * IP for login attempts). Memory is bounded by the LRU: an attacker rotating keys
 * only gets fresh buckets, which the per-key limit already allows.
 */
export function createRateLimiter(opts: RateLimiterOptions) {
  const now = opts.now ?? (() => performance.now());
  const buckets = new LRUCache<string, { tokens: number; at: number }>({ max: opts.maxKeys ?? 100_000 });
  return {
    /** Takes one token; false when the bucket is empty. */
    take(key: string): boolean {
      const t = now();
      const b = buckets.get(key) ?? { tokens: opts.burst, at: t };
      b.tokens = Math.min(opts.burst, b.tokens + ((t - b.at) / 1000) * opts.perSecond);
      b.at = t;
      const ok = b.tokens >= 1;
      if (ok) b.tokens -= 1;
      buckets.set(key, b);
      return ok;
    },
    /** Returns one token taken by `take` (the attempt turned out fine). */
    give(key: string): void {
      const b = buckets.peek(key);
      if (b) b.tokens = Math.min(opts.burst, b.tokens + 1);
    },
  };
}
export type RateLimiter = ReturnType<typeof createRateLimiter>;
