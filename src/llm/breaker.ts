/**
 * Circuit breaker per provider: closed → open → half-open → closed.
 *
 * Closed: calls pass; outcomes go into a sliding time window and the strategy decides when to open.
 * Open: calls are refused at once (the degrade chain skips the provider) for the open duration.
 * Half-open: up to `halfOpenProbes` calls pass as probes; all succeeding closes the breaker, any failing
 * opens it again. Callers report each call's outcome through the ticket they were given.
 */

export type BreakerState = "closed" | "open" | "half_open";

export interface WindowStats {
  window_ms: number;
  requests: number;
  failures: number;
  /** failures / requests, 0 when there were no requests. */
  failure_rate: number;
}

export interface BreakerOutcome {
  ok: boolean;
  /** Breaker clock time the call ended. */
  at: number;
  /** The error that made the call fail, for strategies that weigh error kinds. */
  error?: unknown;
}

/**
 * When to open, and for how long. A plugin may supply its own (consecutive failures, error kinds,
 * exponential open time...). Strategies may keep state; `onClose` tells them a new closed period began.
 */
export interface BreakerStrategy {
  readonly name: string;
  /** Called after each outcome recorded while closed (the window already includes it). */
  shouldOpen(window: WindowStats, outcome: BreakerOutcome): boolean;
  /** Open time for the n-th consecutive opening (1 = first since last close). Default: the configured open time. */
  openDurationMs?(consecutiveOpens: number, configuredMs: number): number;
  onClose?(): void;
}

export interface FailureRateOptions {
  /** Failure share (0..1] in the window that opens the breaker. Default 0.5. */
  failureRate?: number;
  /** Calls needed in the window before the rate counts. Default 5. */
  minRequests?: number;
}

/** Default strategy: open when the window holds at least `minRequests` calls and the failure share reaches the threshold. */
export function failureRateStrategy(opts: FailureRateOptions = {}): BreakerStrategy {
  const rate = opts.failureRate ?? 0.5;
  const min = opts.minRequests ?? 5;
  return {
    name: "failure_rate",
    shouldOpen: (w) => w.requests >= min && w.failure_rate >= rate,
  };
}

export interface BreakerOptions {
  /** Sliding window length. Default 30000 ms. */
  windowMs?: number;
  /** Window resolution: the window slides one bucket at a time. Default 10. */
  buckets?: number;
  /** Time open before probes are let through. Default 15000 ms. */
  openMs?: number;
  /** Concurrent probes while half-open; all must succeed to close. Default 1. */
  halfOpenProbes?: number;
  /** Default `failureRateStrategy()`. */
  strategy?: BreakerStrategy;
  /** Clock in ms, injectable for tests. Default performance.now. */
  now?: () => number;
}

export interface BreakerTicket {
  /** Exactly one of these counts; later calls are ignored. */
  success(): void;
  failure(error?: unknown): void;
  /** The call ended for reasons unrelated to the provider (caller abort): counts for nothing, frees a probe slot. */
  cancel(): void;
}

export interface BreakerSnapshot {
  state: BreakerState;
  strategy: string;
  window: WindowStats;
  /** Times the breaker opened since start. */
  opens: number;
  /** Openings since the last close (drives exponential strategies). */
  consecutive_opens: number;
  /** Calls refused while open or half-open with all probes out. */
  rejected: number;
  /** ms until an open breaker lets a probe through; 0 otherwise. */
  retry_in_ms: number;
  probes_in_flight: number;
}

export class CircuitBreaker {
  private _state: BreakerState = "closed";
  private readonly windowMs: number;
  private readonly bucketMs: number;
  private readonly bucketIdx: number[];
  private readonly bucketReq: number[];
  private readonly bucketFail: number[];
  private readonly openMs: number;
  private readonly probes: number;
  private readonly strategy: BreakerStrategy;
  private readonly now: () => number;
  private openUntil = 0;
  private epoch = 0;
  private probesOut = 0;
  private probeSuccesses = 0;
  private opens = 0;
  private consecutiveOpens = 0;
  private rejected = 0;
  private readonly listeners = new Set<(state: BreakerState) => void>();

  constructor(opts: BreakerOptions = {}) {
    this.windowMs = opts.windowMs ?? 30_000;
    const n = Math.max(1, opts.buckets ?? 10);
    this.bucketMs = this.windowMs / n;
    this.bucketIdx = new Array(n).fill(-1);
    this.bucketReq = new Array(n).fill(0);
    this.bucketFail = new Array(n).fill(0);
    this.openMs = opts.openMs ?? 15_000;
    this.probes = Math.max(1, opts.halfOpenProbes ?? 1);
    this.strategy = opts.strategy ?? failureRateStrategy();
    this.now = opts.now ?? (() => performance.now());
  }

  get state(): BreakerState {
    if (this._state === "open" && this.now() >= this.openUntil) this.transition("half_open");
    return this._state;
  }

  /** Called on every state change; returns an unsubscribe function. */
  onStateChange(listener: (state: BreakerState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A ticket when the call may proceed, null when the breaker refuses it. */
  tryAcquire(): BreakerTicket | null {
    const state = this.state;
    if (state === "open" || (state === "half_open" && this.probesOut >= this.probes)) {
      this.rejected++;
      return null;
    }
    const probe = state === "half_open";
    if (probe) this.probesOut++;
    const epoch = this.epoch;
    let settled = false;
    const settle = (kind: "ok" | "fail" | "cancel", error?: unknown) => {
      if (settled) return;
      settled = true;
      if (probe) this.settleProbe(epoch, kind);
      else if (kind !== "cancel") this.record(kind === "ok", error);
    };
    return {
      success: () => settle("ok"),
      failure: (error) => settle("fail", error),
      cancel: () => settle("cancel"),
    };
  }

  windowStats(): WindowStats {
    const current = Math.floor(this.now() / this.bucketMs);
    let requests = 0;
    let failures = 0;
    for (let i = 0; i < this.bucketIdx.length; i++) {
      if (current - this.bucketIdx[i]! < this.bucketIdx.length) {
        requests += this.bucketReq[i]!;
        failures += this.bucketFail[i]!;
      }
    }
    return { window_ms: this.windowMs, requests, failures, failure_rate: requests === 0 ? 0 : failures / requests };
  }

  snapshot(): BreakerSnapshot {
    const state = this.state;
    return {
      state,
      strategy: this.strategy.name,
      window: this.windowStats(),
      opens: this.opens,
      consecutive_opens: this.consecutiveOpens,
      rejected: this.rejected,
      retry_in_ms: state === "open" ? Math.max(0, Math.ceil(this.openUntil - this.now())) : 0,
      probes_in_flight: this.probesOut,
    };
  }

  private record(ok: boolean, error: unknown) {
    const at = this.now();
    const idx = Math.floor(at / this.bucketMs);
    const slot = idx % this.bucketIdx.length;
    if (this.bucketIdx[slot] !== idx) {
      this.bucketIdx[slot] = idx;
      this.bucketReq[slot] = 0;
      this.bucketFail[slot] = 0;
    }
    this.bucketReq[slot]!++;
    if (!ok) this.bucketFail[slot]!++;
    // Calls that started while closed may end after the breaker opened: they feed the stats, not the state.
    if (this._state === "closed" && this.strategy.shouldOpen(this.windowStats(), { ok, at, error })) this.open();
  }

  private settleProbe(epoch: number, kind: "ok" | "fail" | "cancel") {
    // A probe from an earlier half-open period (the breaker has moved on since) must not decide this one.
    if (epoch !== this.epoch || this._state !== "half_open") return;
    this.probesOut--;
    if (kind === "fail") this.open();
    else if (kind === "ok" && ++this.probeSuccesses >= this.probes) this.close();
  }

  private open() {
    this.opens++;
    this.consecutiveOpens++;
    const ms = this.strategy.openDurationMs?.(this.consecutiveOpens, this.openMs) ?? this.openMs;
    this.openUntil = this.now() + ms;
    this.transition("open");
  }

  private close() {
    this.consecutiveOpens = 0;
    this.bucketIdx.fill(-1);
    this.bucketReq.fill(0);
    this.bucketFail.fill(0);
    this.strategy.onClose?.();
    this.transition("closed");
  }

  private transition(state: BreakerState) {
    this._state = state;
    this.epoch++;
    this.probesOut = 0;
    this.probeSuccesses = 0;
    for (const l of this.listeners) l(state);
  }
}
