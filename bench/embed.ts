/**
 * Local-model benchmark (issue #15, done-when 4): transformers.js + onnxruntime under Bun, in kefu's
 * worker pool, on a generated encoder with the size and compute of a real small one (6 layers, hidden
 * 384, 12 heads, intermediate 1536, vocabulary 30,522, random weights; ~90 MB fp32 / ~23 MB q8).
 *
 *   bun bench/embed.ts            full run (~2 min on 2 cores)
 *   bun bench/embed.ts --quick    short cells, results to $TMPDIR (nothing committed is replaced)
 *
 * Measures, for native onnxruntime and its WASM build (onnxruntime-web), q8 and fp32, pool sizes 1 and 2:
 *   - single-query latency p50/p99 (one question at a time through the knowledge base's embedder),
 *   - throughput in embeddings/s with batches of 1, 8 and 32 texts (enough requests in flight to keep
 *     every worker busy),
 *   - the main thread's event-loop lag (a 1 ms timer's lateness) while the pool is saturated,
 * and the tiny causal LM's generation rate in tokens/s. Writes bench/results/embed-<date>.json and .md.
 */
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createLogger } from "../src/log/logger";
import type { ModelsConfig } from "../src/models/config";
import { startModels } from "../src/models/runtime";
import { writeCausalLm } from "../tests/fixtures/models/causal-lm";
import { writeEncoder } from "../tests/fixtures/models/encoder";
import { modelsConfig } from "../tests/fixtures/models/index";
import { machineInfo, percentile, today } from "./lib/machine";

const quick = Bun.argv.includes("--quick");
const cellMs = quick ? 600 : 2500;
const latencyRuns = quick ? 30 : 200;
const root = join(tmpdir(), "kefu-bench-models-v2");
const bench = join(root, "bench-encoder");
const words = "how do i return an order that arrived damaged and when will the refund reach my card please tell me about shipping times invoices warranty opening hours password reset gift cards".split(" ");
if (!existsSync(join(bench, "onnx", "model_quantized.onnx"))) {
  const t0 = performance.now();
  rmSync(bench, { recursive: true, force: true });
  // The questions' words are whole vocabulary entries (as in a real vocabulary), so a question is ~1 token a word.
  writeEncoder(bench, { corpus: words, layers: 6, hidden: 384, heads: 12, intermediate: 1536, vocabSize: 30522, maxLength: 512, seed: 1 });
  console.error(`generated the benchmark encoder in ${Math.round(performance.now() - t0)} ms`);
}
if (!existsSync(join(root, "tiny-lm", "onnx", "model.onnx"))) writeCausalLm(join(root, "tiny-lm"));

/** Questions of 12-28 words (14-30 tokens with [CLS]/[SEP]), deterministic. */
function texts(n: number, seed = 1): string[] {
  let s = seed;
  const next = () => (s = (s * 1103515245 + 12345) % 2 ** 31);
  return Array.from({ length: n }, () => Array.from({ length: 12 + (next() % 17) }, () => words[next() % words.length]).join(" "));
}

const log = createLogger({ level: "warn" });
const r1 = (x: number) => Math.round(x * 10) / 10;

async function runtime(backend: "native" | "wasm", dtype: "q8" | "fp32", workers: number, extra: Partial<ModelsConfig> = {}) {
  const config = modelsConfig({ dir: root, backend, workers, threads: workers > 1 ? 1 : 0, batch_window_ms: 0, max_batch: 64, request_timeout_ms: 120_000, embedder: { model: "bench-encoder", dtype, max_length: 128 }, ...extra });
  const rt = await startModels({ config, embedder: "onnx", baseDir: root, log });
  if (!rt.embedder) throw new Error("the benchmark encoder did not load");
  await rt.pool("embedder")!.ready();
  // Every worker warm (the first calls of a session are slower).
  await Promise.all(Array.from({ length: workers * 2 }, () => rt.embedder!.embed(texts(8, 99))));
  return rt;
}

/** Lateness of a 1 ms interval on the main thread while `work` runs. */
async function loopLag<T>(work: () => Promise<T>): Promise<{ result: T; p50: number; p99: number; max: number }> {
  const lags: number[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    lags.push(Math.max(0, now - last - 1));
    last = now;
  }, 1);
  const result = await work();
  clearInterval(timer);
  lags.sort((a, b) => a - b);
  return { result, p50: r1(percentile(lags, 50)), p99: r1(percentile(lags, 99)), max: r1(lags.at(-1) ?? 0) };
}

const cells: Record<string, unknown>[] = [];
for (const backend of ["native", "wasm"] as const)
for (const dtype of ["q8", "fp32"] as const) {
  for (const workers of [1, 2]) {
    const rt = await runtime(backend, dtype, workers);
    const pool = rt.pool("embedder")!;
    // Single-query latency: one visitor question at a time.
    const qs = texts(latencyRuns, 7);
    const lat: number[] = [];
    for (const q of qs) {
      const t0 = performance.now();
      await rt.embedder!.embedQueries([q]);
      lat.push(performance.now() - t0);
    }
    lat.sort((a, b) => a - b);
    for (const batch of [1, 8, 32]) {
      const inFlight = workers * 2;
      const batches = texts(64, batch).map((_, i, all) => all.slice(0, batch).map((t) => `${t} ${i}`));
      const { result: done, ...lag } = await loopLag(async () => {
        let n = 0;
        const until = performance.now() + cellMs;
        const t0 = performance.now();
        await Promise.all(
          Array.from({ length: inFlight }, async (_, k) => {
            for (let i = k; performance.now() < until; i += inFlight) {
              await pool.request({ type: "embed", texts: batches[i % batches.length]! });
              n += batch;
            }
          }),
        );
        return { n, s: (performance.now() - t0) / 1000 };
      });
      const cell = { backend, dtype, workers, batch, embeddings_per_s: Math.round(done.n / done.s), single_query_ms: { p50: r1(percentile(lat, 50)), p99: r1(percentile(lat, 99)) }, event_loop_lag_ms: lag };
      cells.push(cell);
      console.error(JSON.stringify(cell));
    }
    await rt.close();
  }
}

// Generator: tokens/s of the tiny causal LM through the text-generation pipeline in its worker.
const gen = await startModels({ config: modelsConfig({ dir: root, generator: { model: "tiny-lm", max_new_tokens: 64 } }), embedder: "builtin", baseDir: root, log });
await gen.settled();
let tokens = 0;
const answers = quick ? 10 : 50;
const g0 = performance.now();
for (let i = 0; i < answers; i++) {
  for await (const _ of gen.generator!.stream([{ role: "user", content: `question ${i}` }], new AbortController().signal, 10_000)) tokens++;
}
const genSeconds = (performance.now() - g0) / 1000;
await gen.close();
const generator = { model: "tiny causal LM (1 layer, KV cache)", answers, tokens, tokens_per_s: Math.round(tokens / genSeconds) };
console.error(JSON.stringify(generator));

const machine = machineInfo();
const data = { machine, quick, model: { layers: 6, hidden: 384, heads: 12, intermediate: 1536, vocab: 30522, max_length: 128, text_tokens: "14-30" }, cells, generator };
const row = (c: any) => `| ${c.backend} | ${c.dtype} | ${c.workers} | ${c.batch} | ${c.embeddings_per_s} | ${c.single_query_ms.p50} / ${c.single_query_ms.p99} | ${c.event_loop_lag_ms.p50} / ${c.event_loop_lag_ms.p99} / ${c.event_loop_lag_ms.max} |`;
const md = [
  `# Local embeddings under Bun (transformers.js 4.3.1, onnxruntime-node 1.30 / onnxruntime-web 1.31-dev), ${machine.date.slice(0, 10)}`,
  "",
  `Machine: ${machine.cpu}, ${machine.cores} cores (shared with other work while this ran), ${machine.memGiB} GiB, ${machine.os}, Bun ${machine.bun}.`,
  "Model: generated BERT-shaped encoder, 6 layers, hidden 384, 12 heads, vocabulary 30,522 (random weights: the compute of a MiniLM-L6 / bge-small class model), inputs of 14-30 tokens, mean pooling.",
  "Pool of 2: each session with 1 intra-op thread; pool of 1: onnxruntime's default threads. Single-query latency is one question at a time through the knowledge base's embedder (batch window 0).",
  "Event-loop lag: lateness of a 1 ms timer on the main thread while the pool is saturated (the WebSocket server's thread).",
  "",
  "| backend | dtype | workers | batch | embeddings/s | single query p50 / p99 ms | event loop lag p50 / p99 / max ms |",
  "|---|---|---|---|---|---|---|",
  ...cells.map(row),
  "",
  `Generator (${generator.model}): ${generator.tokens_per_s} tokens/s over ${answers} answers (pipeline + worker overhead per token; a real 0.5B model is bound by its matmuls instead).`,
  "",
  "WASM: onnxruntime-web registered for transformers.js in the worker, single-threaded WASM per session unless [models] threads is set.",
].join("\n");
const out = quick ? join(tmpdir(), "kefu-bench-quick") : resolve(import.meta.dir, "results");
mkdirSync(out, { recursive: true });
await Bun.write(join(out, `embed-${today()}.json`), JSON.stringify(data, null, 2) + "\n");
await Bun.write(join(out, `embed-${today()}.md`), md + "\n");
console.log(md);
console.error(`wrote ${join(out, `embed-${today()}.md`)}`);
