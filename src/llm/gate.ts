import { KefuError } from "../errors/kefu-error";

/**
 * Per-provider concurrency gate: at most `limit` permits out, at most `maxQueue` callers waiting, and
 * no caller waits longer than its timeout. A refusal is fast and typed (`llm_busy`), so the caller
 * moves to the next degrade step instead of joining a queue that grows with traffic.
 */

export interface GateOptions {
  /** Permits that may be out at once; the adaptive limiter moves it with `setLimit`. */
  limit: number;
  /** Most callers waiting for a permit; more are refused at once (0: never wait). Default 32. */
  maxQueue?: number;
  /** Longest wait when `acquire` is not given its own timeout. Default 200 ms. */
  queueTimeoutMs?: number;
}

export interface AcquireOptions {
  /** Longest wait for this call; 0 means take a free slot or fail now. Default: the gate's queueTimeoutMs. */
  timeoutMs?: number;
  /** Aborting stops waiting (rejects with `llm_aborted`). */
  signal?: AbortSignal;
}

export interface Permit {
  /** Gives the slot back; calling it again does nothing. */
  release(): void;
}

export interface GateSnapshot {
  limit: number;
  in_flight: number;
  waiting: number;
  max_queue: number;
  /** Totals since start. */
  granted: number;
  rejected_full: number;
  rejected_timeout: number;
}

interface Waiter {
  grant(permit: Permit): void;
}

export class Gate {
  private _limit: number;
  private readonly maxQueue: number;
  private readonly queueTimeoutMs: number;
  private out = 0;
  // A Set keeps insertion order (FIFO) and removes a timed-out waiter in O(1).
  private readonly waiters = new Set<Waiter>();
  private granted = 0;
  private rejectedFull = 0;
  private rejectedTimeout = 0;

  constructor(opts: GateOptions) {
    this._limit = Math.max(1, Math.floor(opts.limit));
    this.maxQueue = opts.maxQueue ?? 32;
    this.queueTimeoutMs = opts.queueTimeoutMs ?? 200;
  }

  get limit(): number {
    return this._limit;
  }

  get inFlight(): number {
    return this.out;
  }

  get waiting(): number {
    return this.waiters.size;
  }

  /** Raising the limit lets waiters in at once; lowering it lets current holders finish and admits no one until below. */
  setLimit(limit: number): void {
    this._limit = Math.max(1, Math.floor(limit));
    this.pump();
  }

  /** A permit if a slot is free and nobody is queued ahead, otherwise null. Never waits. */
  tryAcquire(): Permit | null {
    if (this.out >= this._limit || this.waiters.size > 0) return null;
    return this.take();
  }

  acquire(opts: AcquireOptions = {}): Promise<Permit> {
    const { signal } = opts;
    if (signal?.aborted) return Promise.reject(aborted());
    const now = this.tryAcquire();
    if (now) return Promise.resolve(now);
    const timeoutMs = Math.max(0, opts.timeoutMs ?? this.queueTimeoutMs);
    if (timeoutMs === 0 || this.waiters.size >= this.maxQueue) {
      this.rejectedFull++;
      return Promise.reject(busy("queue_full", this._limit));
    }
    return new Promise<Permit>((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.waiters.delete(waiter);
      };
      const waiter: Waiter = {
        grant: (permit) => {
          cleanup();
          resolve(permit);
        },
      };
      const timer = setTimeout(() => {
        cleanup();
        this.rejectedTimeout++;
        reject(busy("queue_timeout", this._limit));
      }, timeoutMs);
      const onAbort = () => {
        cleanup();
        reject(aborted());
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  snapshot(): GateSnapshot {
    return {
      limit: this._limit,
      in_flight: this.out,
      waiting: this.waiters.size,
      max_queue: this.maxQueue,
      granted: this.granted,
      rejected_full: this.rejectedFull,
      rejected_timeout: this.rejectedTimeout,
    };
  }

  private take(): Permit {
    this.out++;
    this.granted++;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.out--;
        this.pump();
      },
    };
  }

  private pump(): void {
    while (this.out < this._limit && this.waiters.size > 0) {
      const first = this.waiters.values().next().value as Waiter;
      first.grant(this.take());
    }
  }
}

function busy(reason: "queue_full" | "queue_timeout", limit: number) {
  return new KefuError("llm_busy", 503, `all ${limit} model slots are busy (${reason.replace("_", " ")})`, { reason, limit });
}

function aborted() {
  return new KefuError("llm_aborted", 499, "cancelled while waiting for a model slot");
}
