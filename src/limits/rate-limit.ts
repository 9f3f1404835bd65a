import { LazyLru } from "./lazy-lru";

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
export interface Bucket {
  tokens: number;
  at: number;
}

/** Refills `b` up to time `t`, then takes one token if there is one. */
export function takeFrom(b: Bucket, t: number, burst: number, perSecond: number): boolean {
  b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 1000) * perSecond);
  b.at = t;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

export function createRateLimiter(opts: RateLimiterOptions) {
  const now = opts.now ?? (() => performance.now());
  // A bucket left alone this long is full again: the same as no bucket, so it is forgotten (memory follows
  // the keys active lately, not every key ever seen). Stale buckets are dropped in one sweep per period.
  const fullAfterMs = Math.ceil((opts.burst / opts.perSecond) * 1000) + 1;
  const buckets = new LazyLru<string, Bucket>({ max: opts.maxKeys ?? 100_000, ttl: fullAfterMs, ttlResolution: 0, perf: { now } });
  let swept = now();
  return {
    /** Takes one token; false when the bucket is empty. */
    take(key: string): boolean {
      const t = now();
      if (t - swept > fullAfterMs) {
        swept = t;
        buckets.purgeStale();
      }
      const b = buckets.get(key) ?? { tokens: opts.burst, at: t };
      const ok = takeFrom(b, t, opts.burst, opts.perSecond);
      buckets.set(key, b);
      return ok;
    },
    /** Returns one token taken by `take` (the attempt turned out fine). */
    give(key: string): void {
      const b = buckets.peek(key);
      if (b) b.tokens = Math.min(opts.burst, b.tokens + 1);
    },
    /** Buckets held (including ones gone full since the last sweep). */
    size: () => buckets.size,
  };
}
export type RateLimiter = ReturnType<typeof createRateLimiter>;

/** One token bucket without a key (a connection's own budget): no map, a few numbers. */
export function createTokenBucket(opts: Omit<RateLimiterOptions, "maxKeys">) {
  const now = opts.now ?? (() => performance.now());
  const b: Bucket = { tokens: opts.burst, at: now() };
  return { take: () => takeFrom(b, now(), opts.burst, opts.perSecond) };
}
