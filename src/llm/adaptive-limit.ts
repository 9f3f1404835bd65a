/**
 * AIMD concurrency limit, the TCP congestion-control rule applied to model calls: grow by one slot per
 * window of good calls, shrink by a factor on an error, timeout or slow first token. It finds how many
 * parallel calls a provider sustains right now, like an autoscaler, between the configured min and max.
 * With `slowStart` it starts below max and grows fast until the provider first shows strain.
 */

export interface AimdOptions {
  min: number;
  max: number;
  /** Starting limit. Default `max`: trust the operator until the provider shows strain. */
  initial?: number;
  /** Latency above which a successful call still counts as congestion. Default 5000 ms. */
  latencyThresholdMs?: number;
  /** Multiplicative decrease factor, 0..1. Default 0.75. */
  backoff?: number;
  /**
   * Slow start, as TCP's: until the first congestion signal the limit grows by one per good sample while it
   * is being used (doubling per round of calls), so a moderate starting limit reaches a provider's real
   * capacity within one burst; after the first decrease it grows by one per `limit` good samples. Default false.
   */
  slowStart?: boolean;
  /** Clock in ms, injectable for tests. Default performance.now. */
  now?: () => number;
}

export interface LimitSample {
  /** When the call started, on the limiter's clock (`limiter.now()`). */
  startedAt: number;
  /** Latency that reflects provider load: time to first token for streams. */
  latencyMs: number;
  /** "failure": provider error or timeout. "ignore": e.g. the caller aborted; says nothing about the provider. */
  outcome: "success" | "failure" | "ignore";
  /** Calls in flight when this one finished (including it). */
  inFlight: number;
}

export interface LimitSnapshot {
  limit: number;
  min: number;
  max: number;
  increases: number;
  decreases: number;
}

export class AimdLimit {
  readonly min: number;
  readonly max: number;
  readonly now: () => number;
  private readonly threshold: number;
  private readonly backoff: number;
  private slowStart: boolean;
  // Fractional so growth is +1 per `limit` good samples rather than +1 per sample.
  private estimate: number;
  private lastDecreaseAt = Number.NEGATIVE_INFINITY;
  private increases = 0;
  private decreases = 0;
  private readonly listeners = new Set<(limit: number) => void>();

  constructor(opts: AimdOptions) {
    this.min = Math.max(1, Math.floor(opts.min));
    this.max = Math.max(this.min, Math.floor(opts.max));
    this.threshold = opts.latencyThresholdMs ?? 5000;
    this.backoff = opts.backoff ?? 0.75;
    this.slowStart = opts.slowStart ?? false;
    this.now = opts.now ?? (() => performance.now());
    this.estimate = clamp(opts.initial ?? this.max, this.min, this.max);
  }

  get limit(): number {
    return Math.floor(this.estimate);
  }

  /** Called with the new limit whenever its integer value changes; returns an unsubscribe function. */
  onChange(listener: (limit: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onSample(s: LimitSample): void {
    if (s.outcome === "ignore") return;
    const before = this.limit;
    if (s.outcome === "failure" || s.latencyMs > this.threshold) {
      // Calls started before the last decrease saw the old, larger limit; counting them again would
      // collapse the limit to min after one burst of failures.
      if (s.startedAt < this.lastDecreaseAt) return;
      this.estimate = Math.max(this.min, Math.floor(this.estimate * this.backoff));
      this.lastDecreaseAt = this.now();
      this.slowStart = false;
      if (this.limit !== before) this.decreases++;
    } else if (s.inFlight * 2 >= this.limit) {
      // Growing while mostly idle would raise the limit without evidence the provider copes with it.
      this.estimate = Math.min(this.max, this.estimate + (this.slowStart ? 1 : 1 / Math.max(1, this.limit)));
      if (this.limit !== before) this.increases++;
    }
    if (this.limit !== before) for (const l of this.listeners) l(this.limit);
  }

  snapshot(): LimitSnapshot {
    return { limit: this.limit, min: this.min, max: this.max, increases: this.increases, decreases: this.decreases };
  }
}

function clamp(n: number, lo: number, hi: number) {
  return Math.min(hi, Math.max(lo, n));
}
