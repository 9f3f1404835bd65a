import type { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { HashEmbedder } from "../src/kb/embedder";
import { KnowledgeBase } from "../src/kb/engine";
import { memoryDb, SHOP_FAQ } from "../src/kb/test/helpers";
import { type ModelRuntime, startModels } from "../src/models/runtime";
import { collectingLogger, FAQ_TEXTS, modelsConfig, tempDir, writeEncoder } from "./fixtures/models";

// Done-when 1 of issue #15: a knowledge base on the generated ONNX encoder gets its vectors from worker
// threads, the main thread never loads onnxruntime, and switching embedders re-indexes with progress.

const root = tempDir();
writeEncoder(join(root, "tiny-bert"), { corpus: FAQ_TEXTS, hidden: 32 });
const runtimes: ModelRuntime[] = [];
afterAll(async () => {
  await Promise.all(runtimes.map((r) => r.close()));
});

async function onnxRuntime(overrides: Record<string, unknown> = {}) {
  const { log, lines } = collectingLogger();
  const rt = await startModels({
    config: modelsConfig({ dir: root, embedder: { model: "tiny-bert", ...overrides } }),
    embedder: "onnx",
    baseDir: root,
    log,
  });
  runtimes.push(rt);
  return { rt, lines };
}

/** What the database records about the vectors (which embedder, which dimension). */
const meta = (db: Database, key: string) => (db.query("SELECT value FROM kb_meta WHERE key = ?").get(key) as { value: string } | null)?.value;

const entries = SHOP_FAQ.map((e) => ({ id: e.id, question: e.question, answer: e.answer, alts: e.alts }));

describe("ONNX embedder in worker threads", () => {
  test("a knowledge base on the generated model finds entries with vectors computed in workers; no onnxruntime on the main thread", async () => {
    const { rt } = await onnxRuntime();
    const embedder = rt.embedder!;
    expect(embedder).not.toBeNull();
    expect(embedder.dim).toBe(32);
    const db = memoryDb();
    const kb = await KnowledgeBase.open(db, { embedder });
    await kb.upsert(entries);
    expect(meta(db, "embedder_id")).toBe(embedder.id);
    expect(meta(db, "embedder_dim")).toBe("32");
    expect(embedder.id).toStartWith("onnx:tiny-bert:q8:32:mean");
    const before = embedder.stats.batches;
    const r = await kb.search("我想退货", { k: 3 });
    expect(r.matches[0]!.id).toBe("returns");
    expect(embedder.stats.batches).toBeGreaterThan(before);
    // The vectors are the model's: unit length, not the built-in embedder's 256 dims.
    const [v] = await embedder.embed(["怎么开发票"]);
    expect(v!.length).toBe(32);
    expect(Math.abs(Math.hypot(...v!) - 1)).toBeLessThan(1e-4);
    expect(rt.pool("embedder")!.status().completed).toBeGreaterThan(0);
    const loaded = Object.keys(require.cache).filter((k) => /onnxruntime|@huggingface[\\/]transformers/.test(k));
    expect(loaded).toEqual([]);
    kb.close();
  }, 30_000);

  test("concurrent calls are micro-batched into one model run", async () => {
    const { rt } = await onnxRuntime();
    const e = rt.embedder!;
    const before = e.stats.batches;
    const out = await Promise.all(["怎么退货", "发货要几天", "business hours", "forgot my password"].map((t) => e.embedQueries([t])));
    expect(out.map((o) => o[0]!.length)).toEqual([32, 32, 32, 32]);
    expect(e.stats.batches - before).toBe(1);
  }, 30_000);

  test("a big call (a re-index) is cut into max_batch pieces spread over the workers, in order", async () => {
    const { log } = collectingLogger();
    const rt = await startModels({ config: modelsConfig({ dir: root, workers: 2, max_batch: 4, embedder: { model: "tiny-bert" } }), embedder: "onnx", baseDir: root, log });
    runtimes.push(rt);
    // The pool is usable once one worker is ready; the second may still be loading.
    for (let i = 0; i < 100 && rt.pool("embedder")!.status().ready_workers < 2; i++) await Bun.sleep(20);
    const texts = Array.from({ length: 16 }, (_, i) => FAQ_TEXTS[i % FAQ_TEXTS.length]!.split(" ")[i % 3]!);
    const [together, alone] = await Promise.all([rt.embedder!.embed(texts), Promise.all(texts.map((t) => rt.embedder!.embed([t])))]);
    expect(together).toHaveLength(16);
    together.forEach((v, i) => expect([...v].map((x) => x.toFixed(4))).toEqual([...alone[i]![0]!].map((x) => x.toFixed(4))));
    const pool = rt.pool("embedder")!;
    expect(pool.status().ready_workers).toBe(2);
    // Both workers took part (each answered some of the pieces).
    const before = pool.status().per_worker!.map((w) => w.completed);
    await rt.embedder!.embed(texts);
    const after = pool.status().per_worker!.map((w) => w.completed);
    // A free worker takes the next piece (one at a time each), so the split follows their speed.
    const share = after.map((n, i) => n - before[i]!);
    expect(share[0]! + share[1]!).toBe(4);
    expect(Math.min(...share)).toBeGreaterThan(0);
  }, 30_000);

  test("the WASM backend (onnxruntime-web, files from disk, never a CDN) computes the same vectors", async () => {
    const { rt: native } = await onnxRuntime();
    const { log } = collectingLogger();
    const wasm = await startModels({ config: modelsConfig({ dir: root, backend: "wasm", embedder: { model: "tiny-bert" } }), embedder: "onnx", baseDir: root, log });
    runtimes.push(wasm);
    expect(wasm.embedder?.id).toBe(native.embedder!.id);
    const [a] = await native.embedder!.embed(["发票怎么申请"]);
    const [b] = await wasm.embedder!.embed(["发票怎么申请"]);
    for (let i = 0; i < a!.length; i++) expect(Math.abs(a![i]! - b![i]!)).toBeLessThan(1e-4);
  }, 30_000);

  test("switching the embedder re-indexes every vector, with progress, and back again", async () => {
    const { rt } = await onnxRuntime();
    const db = memoryDb();
    const kb1 = await KnowledgeBase.open(db, { embedder: new HashEmbedder() });
    await kb1.upsert(entries);
    expect(meta(db, "embedder_dim")).toBe("256");
    const progress: [number, number][] = [];
    const kb2 = await KnowledgeBase.open(db, { embedder: rt.embedder!, onReindexProgress: (d, t) => progress.push([d, t]) });
    expect(meta(db, "embedder_id")).toBe(rt.embedder!.id);
    expect(meta(db, "embedder_dim")).toBe("32");
    expect(progress.at(-1)).toEqual([entries.length, entries.length]);
    expect((await kb2.search("发票怎么申请")).matches[0]!.id).toBe("invoice");
    // q8 and fp32 build different vectors: a dtype change is an embedder change too.
    const { rt: fp32 } = await onnxRuntime({ dtype: "fp32" });
    expect(fp32.embedder!.id).not.toBe(rt.embedder!.id);
    const kb3 = await KnowledgeBase.open(db, { embedder: new HashEmbedder() });
    expect(meta(db, "embedder_dim")).toBe("256");
    expect((await kb3.search("发票怎么申请")).matches[0]!.id).toBe("invoice");
  }, 30_000);
});

test("kefu commands re-index with progress on stderr when the configured embedder changed", async () => {
  const dir = tempDir();
  writeEncoder(join(dir, "models", "tiny-bert"), { corpus: FAQ_TEXTS });
  const cli = (args: string[]) => Bun.spawnSync([process.execPath, join(import.meta.dir, "../src/cli/main.ts"), ...args, "-c", "config.toml"], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  writeFileSync(join(dir, "faq.csv"), "id,question,answer\ninvoice,可以开发票吗？,在订单详情页申请电子发票。\nshipping,多久发货？,付款后 48 小时内发货。\n");
  writeFileSync(join(dir, "config.toml"), "[kb]\nembedder = \"builtin\"\n");
  expect(cli(["import", "faq.csv"]).exitCode).toBe(0);
  writeFileSync(join(dir, "config.toml"), '[kb]\nembedder = "onnx"\n[models.embedder]\nmodel = "tiny-bert"\n');
  const ask = cli(["ask", "--json", "怎么开发票"]);
  expect(ask.exitCode, ask.stderr.toString()).toBe(0);
  expect(ask.stderr.toString()).toContain("re-indexing the knowledge base for the new embedder: 2/2");
  expect((JSON.parse(ask.stdout.toString()) as { matches: { id: string }[] }).matches[0]!.id).toBe("invoice");
  // Nothing changed since: no second re-index.
  expect(cli(["ask", "--json", "多久发货"]).stderr.toString()).not.toContain("re-indexing");
}, 20_000);
