import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { type FakeLlm, startFakeLlm } from "../bench/fake-llm/server";
import { FAQ_TEXTS, tempDir, writeEncoder } from "./fixtures/models";
import { LM_ANSWER, writeCausalLm } from "./fixtures/models/causal-lm";
import { scrapeMetrics, sample } from "./helpers/prometheus";
import { startTestServer, type TestServer } from "./helpers/server";

// Issue #15 through the real server: the knowledge base on the ONNX embedder, the only provider down,
// and the local generator streaming the answer as the degrade chain's `local` step; /readyz shows the models.
let llm: FakeLlm;
let s: TestServer;
const dir = tempDir();
beforeAll(async () => {
  writeEncoder(join(dir, "models", "tiny-bert"), { corpus: FAQ_TEXTS });
  writeCausalLm(join(dir, "models", "tiny-lm"));
  llm = await startFakeLlm({ errorRate: 1, errorStatus: 500 });
  s = await startTestServer(
    {
      log: { level: "info" },
      kb: { embedder: "onnx" },
      models: { dir: "./models", embedder: { model: "tiny-bert" }, generator: { model: "tiny-lm" } },
      answer: { ask_open: true },
      llm: { providers: [{ name: "down", base_url: llm.url, model: "m" }], answer_deadline_ms: 3000 },
      metrics: { token: "models-metrics-token" },
    },
    dir,
  );
  await s.kefu.ctx.models.settled();
}, 20_000);
afterAll(async () => {
  await s.stop();
  await llm.stop();
});

test("provider down: the local generator streams the answer over SSE", async () => {
  const res = await fetch(`${s.url}/api/ask?stream=1`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text: "Where is my parcel from last week?" }) });
  expect(res.status).toBe(200);
  const events = (await res.text())
    .split("\n\n")
    .filter(Boolean)
    .map((block) => ({ event: /^event: (.*)$/m.exec(block)?.[1], data: JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? "null") }));
  const deltas = events.filter((e) => e.event === "delta").map((e) => e.data.text as string);
  // Token by token, not one block at the end.
  expect(deltas.length).toBeGreaterThan(5);
  expect(deltas.join("").trim()).toBe(LM_ANSWER);
  expect(events.at(-1)).toMatchObject({ event: "final", data: { answer: LM_ANSWER } });
  expect(llm.stats.requests).toBeGreaterThan(0);
  // The answer log (admin dashboard) counts it as a local-model answer.
  const row = s.kefu.ctx.db.query("SELECT path, step FROM insights_answers ORDER BY id DESC LIMIT 1").get();
  expect(row).toEqual({ path: "local", step: "local" });
  // /metrics: the answer counted under path local, and each pool's workers and requests.
  const m = await scrapeMetrics(s.url, "models-metrics-token");
  expect(sample(m, "kefu_answers_total", { path: "local" })).toBe(1);
  expect(sample(m, "kefu_model_workers", { role: "embedder", state: "ready" })).toBe(1);
  expect(sample(m, "kefu_model_workers", { role: "generator", state: "ready" })).toBe(1);
  expect(sample(m, "kefu_model_requests_total", { role: "generator", result: "completed" })).toBeGreaterThanOrEqual(1);
  expect(sample(m, "kefu_model_requests_total", { role: "embedder", result: "completed" })).toBeGreaterThanOrEqual(1);
  expect(sample(m, "kefu_model_queued", { role: "generator" })).toBe(0);
}, 10_000);

test("/readyz reports the models; the knowledge base was built by the ONNX embedder", async () => {
  const r = (await (await fetch(`${s.url}/readyz`)).json()) as any;
  expect(r.models.embedder).toMatchObject({ state: "ready", model: "tiny-bert" });
  expect(r.models.generator).toMatchObject({ state: "ready", model: "tiny-lm" });
  expect(s.kefu.ctx.kb.embedder.id).toStartWith("onnx:tiny-bert");
  // The server's own thread (this process) never loaded onnxruntime or transformers.js: the workers did.
  expect(Object.keys(require.cache).filter((k) => /onnxruntime|@huggingface[\\/]transformers/.test(k))).toEqual([]);
}, 10_000);

test("GET /api/admin/models: state, queue depth and latency per model (admins only)", async () => {
  const token = await s.login("admin");
  const res = await fetch(`${s.url}/api/admin/models`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { kb_embedder: { id: string; dim: number; onnx: boolean }; models: Record<string, unknown>[] };
  expect(body.kb_embedder).toMatchObject({ dim: 32, onnx: true });
  expect(body.models.map((m) => m.role)).toEqual(["embedder", "generator"]);
  expect(body.models[0]).toMatchObject({ model: "tiny-bert", dtype: "q8", state: "ready", queued: 0, in_flight: 0, workers: 1 });
  expect((body.models[0] as { latency_ms: { samples: number } }).latency_ms.samples).toBeGreaterThan(0);
  // The System page shows the same models.
  const sys = (await (await fetch(`${s.url}/api/admin/system`, { headers: { authorization: `Bearer ${token}` } })).json()) as { models: Record<string, unknown>[] };
  expect(sys.models.map((m) => [m.role, m.model, m.state])).toEqual([["embedder", "tiny-bert", "ready"], ["generator", "tiny-lm", "ready"]]);
  const agent = await s.login("agent");
  expect((await fetch(`${s.url}/api/admin/models`, { headers: { authorization: `Bearer ${agent}` } })).status).toBe(403);
}, 10_000);

test("a server whose model directory is missing starts, says so once, and answers with the built-in embedder", async () => {
  const other = await startTestServer({ log: { level: "info" }, kb: { embedder: "onnx" }, models: { embedder: { model: "not-pulled-yet" } }, answer: { ask_open: true } });
  try {
    const lines = other.logs.map((l) => JSON.parse(l) as { level: string; msg: string; error?: string });
    expect(lines.filter((l) => l.level === "error")).toMatchObject([{ msg: "onnx embedder unavailable: using the built-in embedder", error: expect.stringContaining("not-pulled-yet does not exist") }]);
    const readyz = (await (await fetch(`${other.url}/readyz`)).json()) as { ready: boolean; models: { embedder: { state: string; error: string } } };
    expect(readyz.ready).toBe(true);
    expect(readyz.models.embedder).toMatchObject({ state: "failed", model: "not-pulled-yet", error: expect.stringContaining("does not exist") });
    const r = await fetch(`${other.url}/api/ask`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text: "怎么开发票" }) });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { path: string }).path).toBe("direct");
    expect(other.kefu.ctx.kb.embedder.id).toStartWith("hash-v1");
  } finally {
    await other.stop();
  }
}, 15_000);
