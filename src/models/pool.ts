import { KefuError } from "../errors/kefu-error";
import { LatencyWindow, type Percentiles } from "../llm/latency-window";
import type { FromWorker, ToWorker, WorkerSpec } from "./protocol";

/**
 * A pool of Bun Workers, each loading the models of one spec (its own ONNX sessions). Requests carry
 * an id and an optional AbortSignal and go to the ready worker with the fewest in flight.
 *
 * A worker that crashes (its thread ends) or hangs (no answer within `requestTimeoutMs`) is replaced; its
 * in-flight requests fail with `model_worker_crashed` / `model_worker_hung`, or are retried once on the
 * replacement (`retry`). A hung worker is not terminated: ending a thread inside an onnxruntime call aborts
 * the whole process (`Napi::Error` thrown from a session finalizer → `terminate called` → exit 134). It is
 * abandoned instead: sent `dispose`, which it handles once its model run ends (sessions released), and only then
 * terminated. At most `size` abandoned workers are kept; beyond that the oldest is terminated anyway. A spec whose models cannot load (missing or corrupt files)
 * fails every worker's start the same way: the pool is then `failed` and requests fail at once with
 * `model_unavailable` and the load error, never waiting.
 */

export interface PoolOptions {
  spec: WorkerSpec;
  size: number;
  requestTimeoutMs: number;
  loadTimeoutMs: number;
  retry: boolean;
  /** Worker entry; default ./worker.ts beside this file. */
  workerUrl?: string | URL;
  /** One line per worker crash/hang/replacement. */
  onEvent?: (event: "crashed" | "hung" | "replaced" | "load_failed", fields: Record<string, unknown>) => void;
}

export type PoolState = "starting" | "ready" | "failed" | "closed";

type Request = Extract<ToWorker, { id: number }>;
type Reply = Extract<FromWorker, { id: number }>;

interface Pending {
  msg: Request;
  resolve: (r: Reply) => void;
  reject: (e: unknown) => void;
  onToken?: (text: string) => void;
  slot?: Slot;
  timer?: ReturnType<typeof setTimeout>;
  retried: boolean;
  signal?: AbortSignal;
  onAbort?: () => void;
  startedAt: number;
  /** The caller gave up (its signal aborted) while the worker runs it: the slot stays busy until the worker answers. */
  abandoned?: boolean;
}

interface Slot {
  n: number;
  worker: Worker;
  state: "starting" | "ready" | "dead";
  inFlight: Set<Pending>;
  completed: number;
  disposed?: () => void;
}

export interface PoolStatus {
  state: PoolState;
  error?: string;
  workers: number;
  ready_workers: number;
  in_flight: number;
  queued: number;
  replaced: number;
  /** Hung workers replaced but left to finish their model run before they end (see `ModelPool`). */
  abandoned: number;
  completed: number;
  failed: number;
  /** Request time (queue + model run) of the last completed requests, in ms. */
  latency_ms: Percentiles;
  /** Each current worker: its number (replacements count on), state, requests in it and answered by it. */
  per_worker?: { n: number; state: string; in_flight: number; completed: number }[];
  info?: Omit<Extract<FromWorker, { type: "ready" }>["info"], "probe">;
}

let nextId = 1;

/**
 * Requests a worker is given at once. A worker runs one model call at a time (the embedder batches
 * concurrent calls before they get here): more sent to it would wait inside it with their "no answer"
 * timer running, so a busy worker would be taken as hung. The rest wait in the pool's queue.
 */
const PER_WORKER = 1;

/**
 * The worker entry: beside this file when run from source; in the compiled binary, the extra entrypoint
 * scripts/build.ts adds, which Bun stores under the entrypoints' common root (src/) as models/worker.js.
 */
export function defaultWorkerUrl(): string | URL {
  return import.meta.url.includes("$bunfs") ? "/$bunfs/root/models/worker.js" : new URL("./worker.ts", import.meta.url);
}

export class ModelPool {
  private readonly slots: Slot[] = [];
  private readonly waiting: Pending[] = [];
  private stateValue: PoolState = "starting";
  private errorValue: string | undefined;
  private readyInfo: Extract<FromWorker, { type: "ready" }>["info"] | undefined;
  private readonly readyWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private counts = { replaced: 0, completed: 0, failed: 0 };
  private spawned = 0;
  private everReady = false;
  /** Hung workers left to finish their model run (see the class comment), oldest first. */
  private readonly abandoned = new Set<Slot>();
  private readonly latency = new LatencyWindow();

  constructor(private readonly opts: PoolOptions) {
    for (let i = 0; i < opts.size; i++) this.slots.push(this.spawn());
  }

  get state(): PoolState {
    return this.stateValue;
  }
  get error(): string | undefined {
    return this.errorValue;
  }
  get info() {
    return this.readyInfo;
  }

  /** Resolves once a worker loaded its models; rejects with the load error. */
  ready(): Promise<void> {
    if (this.stateValue === "ready") return Promise.resolve();
    if (this.stateValue === "failed" || this.stateValue === "closed") return Promise.reject(this.unavailable());
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  status(): PoolStatus {
    return {
      state: this.stateValue,
      ...(this.errorValue ? { error: this.errorValue } : {}),
      workers: this.slots.length,
      ready_workers: this.slots.filter((s) => s.state === "ready").length,
      in_flight: this.slots.reduce((n, s) => n + s.inFlight.size, 0),
      queued: this.waiting.length,
      ...this.counts,
      abandoned: this.abandoned.size,
      latency_ms: this.latency.percentiles(),
      per_worker: this.slots.map((s) => ({ n: s.n, state: s.state, in_flight: s.inFlight.size, completed: s.completed })),
      ...(this.readyInfo ? { info: { embedder: this.readyInfo.embedder, loadMs: this.readyInfo.loadMs } } : {}),
    };
  }

  /** Sends a request; resolves with the worker's reply (`token` messages go to `onToken`). */
  request<T extends Reply>(msg: DistributiveOmit<Request, "id">, options: { signal?: AbortSignal; onToken?: (t: string) => void } = {}): Promise<T> {
    if (this.stateValue === "failed" || this.stateValue === "closed") return Promise.reject(this.unavailable());
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    return new Promise<T>((resolve, reject) => {
      const p: Pending = {
        msg: { ...msg, id: nextId++ } as Request,
        resolve: resolve as (r: Reply) => void,
        reject,
        onToken: options.onToken,
        retried: false,
        signal: options.signal,
        startedAt: performance.now(),
      };
      if (options.signal) {
        p.onAbort = () => this.abort(p, options.signal!.reason);
        options.signal.addEventListener("abort", p.onAbort, { once: true });
      }
      this.dispatch(p);
    });
  }

  /** Test hook: make a worker hang or exit, as a stuck or crashed model would. */
  debug(action: "hang" | "exit" | "crash" | "terminate", worker = 0, ms?: number): void {
    const slot = this.slots[worker];
    if (!slot) return;
    if (action === "terminate") {
      slot.worker.terminate();
      return;
    }
    slot.worker.postMessage({ type: "debug", action, ms } satisfies ToWorker);
  }

  /** Disposes every worker's sessions (bounded wait), then terminates the threads. */
  async close(timeoutMs = 2000): Promise<void> {
    if (this.stateValue === "closed") return;
    this.stateValue = "closed";
    for (const p of this.waiting.splice(0)) this.fail(p, this.unavailable());
    for (const w of this.readyWaiters.splice(0)) w.reject(this.unavailable());
    await Promise.all(
      this.slots.map(async (slot) => {
        for (const p of slot.inFlight) if (!p.abandoned) this.fail(p, this.unavailable());
        for (const p of slot.inFlight) clearTimeout(p.timer);
        slot.inFlight.clear();
        if (slot.state !== "dead") {
          const done = new Promise<void>((r) => (slot.disposed = r));
          slot.worker.postMessage({ type: "dispose" } satisfies ToWorker);
          await Promise.race([done, new Promise((r) => setTimeout(r, timeoutMs))]);
        }
        slot.state = "dead";
        slot.worker.terminate();
      }),
    );
    // Abandoned workers had their dispose sent already: a bounded wait for it, then they end too.
    await Promise.all(
      [...this.abandoned].map(async (slot) => {
        const done = new Promise<void>((r) => (slot.disposed = r));
        await Promise.race([done, new Promise((r) => setTimeout(r, timeoutMs))]);
        slot.worker.terminate();
      }),
    );
    this.abandoned.clear();
  }

  private unavailable(): KefuError {
    if (this.stateValue === "closed") return new KefuError("model_unavailable", 503, "the model workers are shut down");
    return new KefuError("model_unavailable", 503, `local model unavailable: ${this.errorValue ?? "not loaded"}`);
  }

  private spawn(): Slot {
    const n = this.spawned++;
    const worker = new Worker(this.opts.workerUrl ?? defaultWorkerUrl());
    const slot: Slot = { n, worker, state: "starting", inFlight: new Set(), completed: 0 };
    const loadTimer = setTimeout(() => {
      if (slot.state === "starting") this.loadFailed(slot, `models did not load within ${this.opts.loadTimeoutMs} ms`);
    }, this.opts.loadTimeoutMs);
    worker.onmessage = (ev: MessageEvent<FromWorker>) => this.onMessage(slot, ev.data, loadTimer);
    worker.onerror = (ev: ErrorEvent) => {
      ev.preventDefault?.();
      this.lost(slot, "crashed", ev.message || "worker error");
    };
    worker.addEventListener("close", () => {
      this.abandoned.delete(slot);
      this.lost(slot, "crashed", "worker thread ended");
    });
    worker.postMessage({ type: "init", spec: this.opts.spec } satisfies ToWorker);
    return slot;
  }

  private onMessage(slot: Slot, m: FromWorker, loadTimer: ReturnType<typeof setTimeout>) {
    if (m.type === "ready") {
      clearTimeout(loadTimer);
      if (slot.state === "dead") return;
      if (this.readyInfo && !sameModel(this.readyInfo.probe, m.info.probe)) {
        // The files were replaced under the running server: this worker's vectors would not match the stored ones.
        const dims = this.readyInfo.embedder && m.info.embedder ? `, dimension ${this.readyInfo.embedder.dim} → ${m.info.embedder.dim}` : "";
        this.loadFailed(slot, `the model files changed since the start${dims}: restart kefu to use (and re-index with) the new model`);
        return;
      }
      slot.state = "ready";
      this.everReady = true;
      this.readyInfo = m.info;
      if (this.stateValue === "starting") {
        this.stateValue = "ready";
        for (const w of this.readyWaiters.splice(0)) w.resolve();
      }
      this.drain();
      return;
    }
    if (m.type === "init_error") {
      clearTimeout(loadTimer);
      this.loadFailed(slot, m.message);
      return;
    }
    if (m.type === "disposed") {
      slot.disposed?.();
      return;
    }
    const p = [...slot.inFlight].find((x) => x.msg.id === m.id);
    if (!p) return; // aborted or timed out meanwhile
    if (m.type !== "token") slot.completed++;
    if (m.type === "token") {
      this.arm(p); // a streaming request is alive while tokens come
      if (!p.abandoned) p.onToken?.(m.text);
      return;
    }
    this.settle(p);
    if (p.abandoned) {
      this.drain();
      return;
    }
    if (m.type === "error") {
      this.counts.failed++;
      p.reject(new KefuError("model_error", 500, `local model failed: ${m.message}`));
    } else {
      this.counts.completed++;
      this.latency.add(performance.now() - p.startedAt);
      p.resolve(m);
    }
    this.drain();
  }

  /** The models of this spec cannot load: every worker would fail the same way. */
  private loadFailed(slot: Slot, message: string) {
    slot.state = "dead";
    slot.worker.terminate();
    this.opts.onEvent?.("load_failed", { worker: slot.n, error: message, retrying: this.everReady && this.stateValue !== "closed" });
    if (this.everReady) {
      // A replacement failed to load although the models did load before (so the files are fine): try again
      // later; meanwhile requests wait for a worker up to request_timeout_ms (questions fall back sooner).
      setTimeout(() => this.replace(slot), 1000).unref?.();
      return;
    }
    if (this.stateValue === "closed") return;
    this.stateValue = "failed";
    this.errorValue = message;
    for (const w of this.readyWaiters.splice(0)) w.reject(this.unavailable());
    for (const p of this.waiting.splice(0)) this.fail(p, this.unavailable());
    for (const s of this.slots) {
      for (const p of s.inFlight) this.fail(p, this.unavailable());
      s.inFlight.clear();
    }
  }

  /** A worker crashed or hung: replace it, fail or retry its requests. */
  private lost(slot: Slot, why: "crashed" | "hung", detail: string) {
    if (slot.state === "dead" || this.stateValue === "closed") return;
    const wasStarting = slot.state === "starting";
    slot.state = "dead";
    if (why === "hung" && !wasStarting) this.abandon(slot);
    else slot.worker.terminate();
    this.opts.onEvent?.(why, { worker: slot.n, error: detail, in_flight: slot.inFlight.size, ...(this.abandoned.has(slot) ? { abandoned: true } : {}) });
    if (wasStarting) {
      // Nothing was in flight on it; a worker that keeps dying while loading must not respawn in a tight loop.
      this.loadFailed(slot, `worker ${why} while loading: ${detail}`);
      return;
    }
    const orphans = [...slot.inFlight].filter((p) => !p.abandoned);
    for (const p of slot.inFlight) if (p.abandoned) clearTimeout(p.timer);
    slot.inFlight.clear();
    this.replace(slot);
    for (const p of orphans) {
      this.settle(p);
      const streamed = p.msg.type === "generate";
      if (this.opts.retry && !p.retried && !streamed) {
        p.retried = true;
        this.dispatch(p);
      } else {
        this.counts.failed++;
        p.reject(new KefuError(`model_worker_${why}`, 503, `local model worker ${why === "hung" ? "did not answer in time" : "crashed"} (${detail})`));
      }
    }
  }

  /** Stops using a hung worker without ending its thread mid-run: it disposes its sessions when it can, then ends. */
  private abandon(slot: Slot) {
    this.abandoned.add(slot);
    slot.worker.unref?.(); // a worker stuck for good must not keep the process alive
    slot.disposed = () => {
      this.abandoned.delete(slot);
      slot.worker.terminate();
    };
    slot.worker.postMessage({ type: "dispose" } satisfies ToWorker);
    if (this.abandoned.size > this.opts.size) {
      const oldest = this.abandoned.values().next().value!;
      this.abandoned.delete(oldest);
      this.opts.onEvent?.("hung", { worker: oldest.n, error: "still running after its replacements: terminated", terminated: true });
      oldest.worker.terminate();
    }
  }

  private replace(slot: Slot) {
    if (this.stateValue === "closed") return;
    // No worker left to answer: the queued requests now count against request_timeout_ms.
    if (!this.slots.some((s) => s !== slot && s.state === "ready")) for (const p of this.waiting) if (!p.timer) this.arm(p);
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    this.counts.replaced++;
    this.slots[i] = this.spawn();
    this.opts.onEvent?.("replaced", { worker: slot.n, by: this.slots[i]!.n });
  }

  private dispatch(p: Pending) {
    const free = this.slots.filter((s) => s.state === "ready" && s.inFlight.size < PER_WORKER);
    if (!free.length) {
      this.waiting.push(p);
      // Waiting for a replacement counts against the same limit; waiting behind busy workers does not.
      if (!this.slots.some((s) => s.state === "ready")) this.arm(p);
      else {
        clearTimeout(p.timer);
        p.timer = undefined;
      }
      return;
    }
    const slot = free.reduce((a, b) => (b.inFlight.size < a.inFlight.size ? b : a));
    p.slot = slot;
    slot.inFlight.add(p);
    this.arm(p);
    slot.worker.postMessage(p.msg);
  }

  private drain() {
    while (this.waiting.length && this.slots.some((s) => s.state === "ready" && s.inFlight.size < PER_WORKER)) {
      const p = this.waiting.shift()!;
      clearTimeout(p.timer);
      this.dispatch(p);
    }
  }

  /** (Re)starts the request's no-answer timer. */
  private arm(p: Pending) {
    clearTimeout(p.timer);
    p.timer = setTimeout(() => {
      const slot = p.slot;
      if (slot && slot.inFlight.has(p)) this.lost(slot, "hung", `no answer within ${this.opts.requestTimeoutMs} ms`);
      else {
        const i = this.waiting.indexOf(p);
        if (i >= 0) this.waiting.splice(i, 1);
        this.fail(p, new KefuError("model_busy", 503, `no model worker became ready within ${this.opts.requestTimeoutMs} ms`));
      }
    }, this.opts.requestTimeoutMs);
  }

  private settle(p: Pending) {
    clearTimeout(p.timer);
    p.slot?.inFlight.delete(p);
    p.slot = undefined;
    if (p.onAbort) p.signal?.removeEventListener("abort", p.onAbort);
  }

  private fail(p: Pending, e: unknown) {
    this.settle(p);
    this.counts.failed++;
    p.reject(e);
  }

  private abort(p: Pending, reason: unknown) {
    const i = this.waiting.indexOf(p);
    if (i >= 0) {
      this.waiting.splice(i, 1);
      this.settle(p);
    } else if (p.slot) {
      // The worker is running it: tell it to stop (a generation ends at its next token); its slot is free
      // when the worker answers, and a worker that never does is still replaced as hung.
      p.abandoned = true;
      if (p.onAbort) p.signal?.removeEventListener("abort", p.onAbort);
      if (p.slot.state === "ready") p.slot.worker.postMessage({ type: "cancel", id: p.msg.id } satisfies ToWorker);
    }
    p.reject(reason);
  }
}

/** Two workers' probe outputs agree (a threaded run may differ in the last bits, another model does not). */
function sameModel(a: number[] | undefined, b: number[] | undefined): boolean {
  if (!a || !b) return a === b;
  return a.length === b.length && a.every((x, i) => Math.abs(x - b[i]!) < 1e-3);
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;
