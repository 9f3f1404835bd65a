import type { Embedder } from "../kb/embedder";
import type { EncoderInfo } from "./model-dir";
import type { ModelPool } from "./pool";
import type { FromWorker } from "./protocol";

/**
 * The knowledge base's `Embedder` on an ONNX sentence encoder run in the worker pool. Calls arriving
 * within `windowMs` are sent as one batch (at most `maxBatch` texts), so concurrent visitors share one
 * model run. Questions get the model's query prefix, entry phrasings and chunks its passage prefix.
 */
export interface OnnxEmbedderOptions {
  windowMs: number;
  maxBatch: number;
  dtype: "q8" | "fp32";
  maxLength: number;
  /**
   * A question's embedding failed (worker crashed twice, hung, shut down): told the error; the question is
   * then searched with a zero vector, i.e. by its words alone, instead of failing the visitor's answer.
   */
  onQueryFailure?: (error: unknown) => void;
  /** Longest wait for a question's vector before that fallback. */
  queryTimeoutMs?: number;
}

interface Waiter {
  texts: string[];
  /** A question's: aborted when it stopped waiting (query_timeout_ms). Stored vectors have none. */
  signal?: AbortSignal;
  resolve: (v: Float32Array[]) => void;
  reject: (e: unknown) => void;
}

export class OnnxEmbedder implements Embedder {
  readonly id: string;
  readonly dim: number;
  private queue: Waiter[] = [];
  private queued = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Texts embedded, batches run, for status. */
  readonly stats = { texts: 0, batches: 0, query_fallbacks: 0 };

  constructor(
    readonly info: EncoderInfo,
    private readonly pool: ModelPool,
    private readonly opts: OnnxEmbedderOptions,
  ) {
    this.dim = info.dim;
    // Everything that changes the vectors is in the id: the knowledge base re-indexes when it changes.
    this.id = `onnx:${info.id}:${opts.dtype}:${info.dim}:${info.pooling}${info.normalize ? "" : ":raw"}:${opts.maxLength}:${JSON.stringify([info.queryPrefix, info.passagePrefix])}`;
  }

  embed(texts: string[]): Promise<Float32Array[]> {
    return this.enqueue(texts.map((t) => this.info.passagePrefix + t));
  }

  async embedQueries(texts: string[]): Promise<Float32Array[]> {
    try {
      if (!this.opts.queryTimeoutMs) return await this.enqueue(texts.map((t) => this.info.queryPrefix + t));
      // A question that stopped waiting leaves the queue: under a burst the workers compute what someone still waits for.
      const gaveUp = new AbortController();
      const work = this.enqueue(
        texts.map((t) => this.info.queryPrefix + t),
        gaveUp.signal,
      );
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const e = new Error(`no vector within query_timeout_ms (${this.opts.queryTimeoutMs} ms)`);
          gaveUp.abort(e);
          reject(e);
        }, this.opts.queryTimeoutMs);
      });
      work.catch(() => {});
      try {
        return await Promise.race([work, late]);
      } finally {
        clearTimeout(timer);
      }
    } catch (e) {
      // Stored vectors never take this path: a re-index with a failing model fails instead.
      this.stats.query_fallbacks++;
      this.opts.onQueryFailure?.(e);
      return texts.map(() => new Float32Array(this.dim));
    }
  }

  private enqueue(texts: string[], signal?: AbortSignal): Promise<Float32Array[]> {
    if (!texts.length) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.queue.push({ texts, resolve, reject, signal });
      this.queued += texts.length;
      if (this.queued >= this.opts.maxBatch) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.opts.windowMs);
    });
  }

  private flush() {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    while (this.queue.length) {
      // Whole calls only; a call larger than maxBatch goes alone, cut into maxBatch pieces.
      const batch: Waiter[] = [];
      let n = 0;
      while (this.queue.length && (n === 0 || n + this.queue[0]!.texts.length <= this.opts.maxBatch)) {
        const w = this.queue.shift()!;
        batch.push(w);
        n += w.texts.length;
      }
      this.queued -= n;
      void this.run(batch);
    }
  }

  private async run(batch: Waiter[]) {
    const texts = batch.flatMap((w) => w.texts);
    // The batch is given up (left in the pool's queue, or cancelled) once every waiter in it has given up.
    let signal: AbortSignal | undefined;
    if (batch.every((w) => w.signal)) {
      const all = new AbortController();
      let left = batch.length;
      for (const w of batch) {
        if (w.signal!.aborted) left--;
        else w.signal!.addEventListener("abort", () => --left === 0 && all.abort(w.signal!.reason), { once: true });
      }
      if (left === 0) all.abort(batch[0]!.signal!.reason);
      signal = all.signal;
    }
    try {
      // Pieces of a big call (a re-index) run in parallel: the pool spreads them over its workers.
      const parts: string[][] = [];
      for (let i = 0; i < texts.length; i += this.opts.maxBatch) parts.push(texts.slice(i, i + this.opts.maxBatch));
      const replies = await Promise.all(parts.map((part) => this.pool.request<Extract<FromWorker, { type: "embedded" }>>({ type: "embed", texts: part }, { signal })));
      this.stats.batches += parts.length;
      const vectors: Float32Array[] = [];
      replies.forEach((r, p) => {
        for (let k = 0; k < parts[p]!.length; k++) vectors.push(r.data.slice(k * r.dim, (k + 1) * r.dim));
      });
      this.stats.texts += texts.length;
      let o = 0;
      for (const w of batch) {
        w.resolve(vectors.slice(o, o + w.texts.length));
        o += w.texts.length;
      }
    } catch (e) {
      for (const w of batch) w.reject(e);
    }
  }
}
