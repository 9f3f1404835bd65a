/**
 * A pool of knowledge-base search workers (`search-worker.ts`, issue 13): retrieval and scoring — most of a
 * distinct question's CPU — run on the spare cores, each worker with its own read-only connection to the
 * database file and its own in-memory indexes. The main thread keeps the query embedding, the answer cache,
 * the decision, the calibration fit and every write; it sends the query vector, its current knowledge-base
 * version and (when it changed) its calibrator, and gets back exactly what `KnowledgeBase.search` returns.
 *
 * `search` resolves null — the engine then searches in its own thread, as without a pool — whenever a worker
 * cannot answer exactly and at once: none ready yet, all at `maxInFlight`, the worker's snapshot older than the
 * main thread's version (`stale`), an error, a worker that died or gave no answer within `requestTimeoutMs`.
 * A dead or hung worker is terminated and replaced (one log line each); one that keeps dying is replaced
 * with a growing delay, so a broken setup costs nothing but the in-thread search it would have done anyway.
 */
import { availableParallelism } from "node:os";
import type { Calibrator } from "./calibration.ts";
import type { Embedder } from "./embedder.ts";
import type { BriefMatch, KnowledgeBase, SearchPoolLike, SearchResult, WorkerSearchRequest } from "./engine.ts";
import type { SearchFromWorker, SearchToWorker } from "./search-pool-protocol.ts";
import { resolveLoadablePath } from "../platform/sqlite-vec.ts";

export interface SearchPoolLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

export interface SearchPoolOptions {
  /** Workers (`searchWorkerCount` turns the `[kb] search_workers` setting into this). */
  size: number;
  /** A search with no answer within this is searched in-thread and its worker replaced (default 2,000 ms). */
  requestTimeoutMs?: number;
  /** A worker not ready within this is replaced (default 60,000 ms). */
  loadTimeoutMs?: number;
  /**
   * Searches sent to one worker at once; beyond them, in-thread (default 8: a search waits at most ~8 others'
   * time in a worker, ~5 ms on the demo knowledge base, and past the workers' capacity the main thread takes
   * the overflow, so every core works).
   */
  maxInFlight?: number;
  /** Worker entry; default `search-worker.ts` beside this file (in the binary, its embedded copy). */
  workerUrl?: string | URL;
  log?: SearchPoolLog;
}

export interface SearchPoolStatus {
  workers: number;
  ready_workers: number;
  in_flight: number;
  /** Searches answered by a worker. */
  completed: number;
  /** Searches handed back to the main thread, by reason. */
  in_thread: { not_ready: number; busy: number; stale: number; error: number; lost: number };
  replaced: number;
}

interface Pending {
  id: number;
  slot: Slot;
  resolve: (r: SearchResult<BriefMatch> | null) => void;
  timer: ReturnType<typeof setTimeout>;
}

interface Slot {
  n: number;
  worker: Worker;
  state: "starting" | "ready" | "dead";
  inFlight: Map<number, Pending>;
  /** The calibrator this worker was last sent (it keeps it for later requests). */
  calibrator?: Calibrator;
  loadTimer?: ReturnType<typeof setTimeout>;
  closed?: () => void;
}

/** `[kb] search_workers`: "auto" is one worker per core beyond the first, at most 4. */
export function searchWorkerCount(setting: "auto" | number, cores = availableParallelism()): number {
  if (setting === "auto") return Math.max(0, Math.min(4, cores - 1));
  return Math.max(0, Math.floor(setting));
}

/**
 * The worker entry: beside this file when run from source; in the compiled binary, the extra entrypoint
 * scripts/build.ts adds, stored under the entrypoints' common root (src/) as kb/search-worker.js.
 */
export function defaultSearchWorkerUrl(): string | URL {
  return import.meta.url.includes("$bunfs") ? "/$bunfs/root/kb/search-worker.js" : new URL("./search-worker.ts", import.meta.url);
}

let nextId = 1;

/** Workers in a row that fail to load, none ready meanwhile, before the pool stops replacing them. */
const LOAD_FAILURES_TO_GIVE_UP = 5;

export class SearchPool implements SearchPoolLike {
  private readonly slots: Slot[] = [];
  private spawned = 0;
  private closedFlag = false;
  private readonly deaths: number[] = [];
  /** Workers that failed to load since one last became ready: a setup where none can (a database it cannot open) gives up. */
  private loadFailures = 0;
  private readonly counts: Omit<SearchPoolStatus, "workers" | "ready_workers" | "in_flight"> = {
    completed: 0,
    in_thread: { not_ready: 0, busy: 0, stale: 0, error: 0, lost: 0 },
    replaced: 0,
  };
  private readonly requestTimeoutMs: number;
  private readonly loadTimeoutMs: number;
  private readonly maxInFlight: number;
  private embedder: Embedder;

  private constructor(
    private readonly kb: KnowledgeBase,
    private readonly file: string,
    private readonly vecPath: string,
    private readonly opts: SearchPoolOptions,
  ) {
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 2000;
    this.loadTimeoutMs = opts.loadTimeoutMs ?? 60_000;
    this.maxInFlight = opts.maxInFlight ?? 8;
    this.embedder = kb.embedder;
    for (let i = 0; i < opts.size; i++) this.slots.push(this.spawn());
  }

  /**
   * Starts `size` workers over the knowledge base's database file and attaches the pool to it (searches go to
   * the workers once one is ready). Null — searches stay in-thread — for size 0 or an in-memory database.
   */
  static async start(kb: KnowledgeBase, opts: SearchPoolOptions): Promise<SearchPool | null> {
    const file = kb.db.filename;
    if (opts.size <= 0 || !file || file === ":memory:") return null;
    const pool = new SearchPool(kb, file, await resolveLoadablePath(), opts);
    kb.useSearchPool(pool);
    opts.log?.info("knowledge-base search workers starting", { workers: opts.size });
    return pool;
  }

  /** Resolves once a worker is ready (tests, benchmarks); false if none is within `timeoutMs`. */
  async ready(timeoutMs = 10_000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (!this.usable()) {
      if (this.closedFlag || Date.now() > until) return false;
      await Bun.sleep(5);
    }
    return true;
  }

  usable(): boolean {
    if (this.closedFlag) return false;
    for (const s of this.slots) if (s.state === "ready") return true;
    this.counts.in_thread.not_ready++;
    return false;
  }

  status(): SearchPoolStatus {
    return {
      workers: this.slots.length,
      ready_workers: this.slots.filter((s) => s.state === "ready").length,
      in_flight: this.slots.reduce((n, s) => n + s.inFlight.size, 0),
      completed: this.counts.completed,
      in_thread: { ...this.counts.in_thread },
      replaced: this.counts.replaced,
    };
  }

  search(req: WorkerSearchRequest & { embedder: Embedder }): Promise<SearchResult<BriefMatch> | null> {
    if (this.closedFlag) return Promise.resolve(null);
    if (req.embedder !== this.embedder) {
      // Re-indexed with another embedder: workers opened on the previous one's vector tables start over.
      this.embedder = req.embedder;
      this.opts.log?.info("knowledge base re-indexed: search workers restart", { embedder: req.embedder.id });
      for (const s of [...this.slots]) this.lost(s, "restarted", "embedder changed", 0);
      return Promise.resolve(null);
    }
    const slot = this.leastBusy();
    if (slot) return this.send(slot, req);
    // Every worker looks full, but their answers may be waiting behind this turn of the event loop (searches
    // resolved in-thread chain on microtasks and would starve them): one macrotask turn, then decide.
    return new Promise<SearchResult<BriefMatch> | null>((resolve) =>
      setImmediate(() => {
        const again = this.closedFlag ? undefined : this.leastBusy();
        // A write or a refit may have landed during the turn: the request carries the state as of now.
        if (again) resolve(this.send(again, { ...req, version: this.kb.version(), calibrator: this.kb.calibrator }));
        else {
          this.counts.in_thread.busy++;
          resolve(null);
        }
      }),
    );
  }

  private leastBusy(): Slot | undefined {
    let slot: Slot | undefined;
    for (const s of this.slots) {
      if (s.state === "ready" && s.inFlight.size < this.maxInFlight && (!slot || s.inFlight.size < slot.inFlight.size)) slot = s;
    }
    return slot;
  }

  private send(chosen: Slot, req: WorkerSearchRequest): Promise<SearchResult<BriefMatch> | null> {
    const id = nextId++;
    const msg: SearchToWorker = { type: "search", id, query: req.query, vector: req.vector, options: req.options, version: req.version };
    if (chosen.calibrator !== req.calibrator) {
      msg.calibrator = req.calibrator;
      chosen.calibrator = req.calibrator;
    }
    return new Promise<SearchResult<BriefMatch> | null>((resolve) => {
      const timer = setTimeout(() => {
        if (!chosen.inFlight.has(id)) return;
        this.lost(chosen, "hung", `no answer within ${this.requestTimeoutMs} ms`);
      }, this.requestTimeoutMs);
      chosen.inFlight.set(id, { id, slot: chosen, resolve, timer });
      chosen.worker.postMessage(msg);
    });
  }

  /** Test hook: make a worker exit, hang for `ms`, or hold an old snapshot (a worker left behind). */
  debug(action: "exit" | "hang" | "pin" | "terminate", worker = 0, ms = 0): void {
    const slot = this.slots[worker];
    if (!slot) return;
    if (action === "terminate") slot.worker.terminate();
    else slot.worker.postMessage({ type: "debug", action, ms } satisfies SearchToWorker);
  }

  /** Hands every search in flight back to the main thread and ends the workers (bounded wait for each). */
  async close(timeoutMs = 1000): Promise<void> {
    if (this.closedFlag) return;
    this.closedFlag = true;
    if (this.kb.searchPoolAttached(this)) this.kb.useSearchPool(null);
    await Promise.all(
      this.slots.map(async (slot) => {
        this.release(slot, "lost");
        clearTimeout(slot.loadTimer);
        if (slot.state !== "dead") {
          const done = new Promise<void>((r) => (slot.closed = r));
          slot.worker.postMessage({ type: "close" } satisfies SearchToWorker);
          await Promise.race([done, Bun.sleep(timeoutMs)]);
        }
        slot.state = "dead";
        slot.worker.terminate();
      }),
    );
  }

  private spawn(): Slot {
    const n = this.spawned++;
    const worker = new Worker(this.opts.workerUrl ?? defaultSearchWorkerUrl());
    const slot: Slot = { n, worker, state: "starting", inFlight: new Map() };
    slot.loadTimer = setTimeout(() => {
      if (slot.state === "starting") this.lost(slot, "load_failed", `not ready within ${this.loadTimeoutMs} ms`);
    }, this.loadTimeoutMs);
    slot.loadTimer.unref?.();
    worker.onmessage = (ev: MessageEvent<SearchFromWorker>) => this.onMessage(slot, ev.data);
    worker.onerror = (ev: ErrorEvent) => {
      ev.preventDefault?.();
      this.lost(slot, "crashed", ev.message || "worker error");
    };
    worker.addEventListener("close", () => this.lost(slot, "crashed", "worker thread ended"));
    // The worker must not keep the process alive (kefu exits through its own shutdown, tests just end).
    worker.unref();
    worker.postMessage({
      type: "init",
      file: this.file,
      vecPath: this.vecPath,
      embedder: { id: this.embedder.id, dim: this.embedder.dim },
      options: this.kb.workerOptions(),
    } satisfies SearchToWorker);
    return slot;
  }

  private onMessage(slot: Slot, m: SearchFromWorker) {
    if (m.type === "ready") {
      clearTimeout(slot.loadTimer);
      if (slot.state !== "starting") return;
      slot.state = "ready";
      this.loadFailures = 0;
      this.opts.log?.info("knowledge-base search worker ready", { worker: slot.n, load_ms: m.loadMs, version: m.version });
      return;
    }
    if (m.type === "init_error") {
      this.lost(slot, "load_failed", m.message);
      return;
    }
    if (m.type === "closed") {
      slot.closed?.();
      return;
    }
    const p = slot.inFlight.get(m.id);
    if (!p) return;
    slot.inFlight.delete(m.id);
    clearTimeout(p.timer);
    if (m.type === "result") {
      this.counts.completed++;
      p.resolve(m.result);
    } else {
      this.counts.in_thread[m.type]++;
      p.resolve(null);
    }
  }

  private release(slot: Slot, why: "lost") {
    for (const p of slot.inFlight.values()) {
      clearTimeout(p.timer);
      this.counts.in_thread[why]++;
      p.resolve(null);
    }
    slot.inFlight.clear();
  }

  /** A worker died, hung, failed to load or must restart: its searches go in-thread, and it is replaced. */
  private lost(slot: Slot, why: "crashed" | "hung" | "load_failed" | "restarted", detail: string, delayMs?: number) {
    if (slot.state === "dead" || this.closedFlag) return;
    const inFlight = slot.inFlight.size;
    const loading = slot.state === "starting" && why !== "restarted";
    slot.state = "dead";
    clearTimeout(slot.loadTimer);
    this.release(slot, "lost");
    slot.worker.terminate();
    const now = Date.now();
    if (why !== "restarted") this.deaths.push(now);
    while (this.deaths.length && this.deaths[0]! < now - 60_000) this.deaths.shift();
    // A worker that keeps dying (or cannot load) is retried ever more slowly, never in a tight loop.
    const delay = delayMs ?? (this.deaths.length <= 2 ? 0 : Math.min(30_000, 500 * 2 ** (this.deaths.length - 3)));
    if (why !== "restarted") {
      this.opts.log?.warn("knowledge-base search worker lost: its searches run in the main thread, the worker is replaced", {
        worker: slot.n,
        reason: why,
        error: detail,
        in_flight: inFlight,
        replace_in_ms: delay,
      });
    }
    if (loading && ++this.loadFailures >= LOAD_FAILURES_TO_GIVE_UP && !this.slots.some((s) => s.state === "ready")) {
      this.opts.log?.warn("knowledge-base search workers cannot start: every search runs in the main thread until kefu restarts", {
        error: detail,
        fix: "check the log lines above; [kb] search_workers = 0 turns the workers off",
      });
      this.slots.splice(this.slots.indexOf(slot), 1);
      return;
    }
    const replace = () => {
      const i = this.slots.indexOf(slot);
      if (this.closedFlag || i < 0) return;
      this.counts.replaced++;
      this.slots[i] = this.spawn();
    };
    if (delay === 0) replace();
    else setTimeout(replace, delay).unref?.();
  }
}
