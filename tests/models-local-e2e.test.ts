import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { type FakeLlm, startFakeLlm } from "../bench/fake-llm/server";
import { FAQ_TEXTS, tempDir, writeEncoder } from "./fixtures/models";
import { LM_ANSWER, writeCausalLm } from "./fixtures/models/causal-lm";
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
}, 10_000);

test("/readyz reports the models; the knowledge base was built by the ONNX embedder", async () => {
  const r = (await (await fetch(`${s.url}/readyz`)).json()) as any;
  expect(r.models.embedder).toMatchObject({ state: "ready", model: "tiny-bert" });
  expect(r.models.generator).toMatchObject({ state: "ready", model: "tiny-lm" });
  expect(s.kefu.ctx.kb.embedder.id).toStartWith("onnx:tiny-bert");
}, 10_000);
