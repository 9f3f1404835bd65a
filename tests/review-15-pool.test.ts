import { describe, expect, test } from "bun:test";
import { OnnxEmbedder } from "../src/models/onnx-embedder";
import { ModelPool } from "../src/models/pool";

// Review of issue #15: the pool under a backlog. A worker runs one model call at a time; requests sent
// to it beyond that waited inside the worker while their "no answer" timer ran, so a healthy but busy
// worker was declared hung, killed, and its whole backlog retried on the replacement (and killed again):
// a re-index larger than request_timeout_ms of work could never finish.
const workerUrl = new URL("./fixtures/models/busy-worker.ts", import.meta.url);

describe("model pool backlog", () => {
  test("8 requests of 100 ms each on one worker with a 350 ms request timeout all succeed; nothing is replaced", async () => {
    const pool = new ModelPool({ spec: { backend: "native", threads: 0, allowRemote: false }, size: 1, requestTimeoutMs: 350, loadTimeoutMs: 2000, retry: true, workerUrl });
    try {
      await pool.ready();
      const all = await Promise.allSettled(Array.from({ length: 8 }, () => pool.request({ type: "embed", texts: ["x"] })));
      expect(all.map((r) => r.status)).toEqual(new Array(8).fill("fulfilled"));
      const s = pool.status();
      expect(s.replaced).toBe(0);
      expect(s.completed).toBe(8);
      expect(s.queued).toBe(0);
    } finally {
      await pool.close();
    }
  }, 4000);

  test("while the worker is busy the rest wait in the pool's queue (status shows them), and an aborted one leaves it", async () => {
    const pool = new ModelPool({ spec: { backend: "native", threads: 0, allowRemote: false }, size: 1, requestTimeoutMs: 2000, loadTimeoutMs: 2000, retry: true, workerUrl });
    try {
      await pool.ready();
      const ac = new AbortController();
      const first = pool.request({ type: "embed", texts: ["a"] });
      const gone = pool.request({ type: "embed", texts: ["b"] }, { signal: ac.signal });
      const third = pool.request({ type: "embed", texts: ["c"] });
      expect(pool.status()).toMatchObject({ in_flight: 1, queued: 2 });
      ac.abort(new Error("visitor left"));
      await expect(gone).rejects.toThrow("visitor left");
      expect(pool.status().queued).toBe(1);
      await Promise.all([first, third]);
      expect(pool.status()).toMatchObject({ in_flight: 0, queued: 0, completed: 2 });
    } finally {
      await pool.close();
    }
  }, 4000);

  test("a caller that gives up on a running request is rejected at once; the worker's slot frees when it answers", async () => {
    const pool = new ModelPool({ spec: { backend: "native", threads: 0, allowRemote: false }, size: 1, requestTimeoutMs: 2000, loadTimeoutMs: 2000, retry: true, workerUrl });
    try {
      await pool.ready();
      const ac = new AbortController();
      const running = pool.request({ type: "embed", texts: ["a"] }, { signal: ac.signal });
      const next = pool.request({ type: "embed", texts: ["b"] });
      ac.abort(new Error("visitor left"));
      await expect(running).rejects.toThrow("visitor left");
      // Not sent to a worker that is still busy with the abandoned call.
      expect(pool.status()).toMatchObject({ in_flight: 1, queued: 1 });
      await next;
      expect(pool.status()).toMatchObject({ in_flight: 0, queued: 0, replaced: 0 });
    } finally {
      await pool.close();
    }
  }, 4000);

  test("questions that gave up (query_timeout_ms) are dropped from the queue, not computed for nobody", async () => {
    const pool = new ModelPool({ spec: { backend: "native", threads: 0, allowRemote: false }, size: 1, requestTimeoutMs: 5000, loadTimeoutMs: 2000, retry: true, workerUrl });
    try {
      await pool.ready();
      const info = { dir: "", root: "", id: "busy", dim: 4, pooling: "mean" as const, normalize: true, queryPrefix: "", passagePrefix: "", modelType: "bert" };
      let fallbacks = 0;
      const embedder = new OnnxEmbedder(info, pool, { windowMs: 0, maxBatch: 1, dtype: "q8", maxLength: 64, queryTimeoutMs: 150, onQueryFailure: () => fallbacks++ });
      // A burst: 20 visitors' questions at once, one model call each (max_batch 1), 100 ms per call.
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => embedder.embedQueries([`q${i}`])));
      expect(answers).toHaveLength(20);
      expect(fallbacks).toBeGreaterThan(15);
      await Bun.sleep(300);
      // The worker finished what it had started; the questions nobody waits for any more left the queue.
      const s = pool.status();
      expect(s.queued).toBe(0);
      expect(s.in_flight).toBe(0);
      expect(s.completed).toBeLessThan(6);
    } finally {
      await pool.close();
    }
  }, 4000);
});
