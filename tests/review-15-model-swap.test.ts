import { afterAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { type ModelRuntime, startModels } from "../src/models/runtime";
import { collectingLogger, FAQ_TEXTS, modelsConfig, tempDir, writeEncoder } from "./fixtures/models";

// Review of issue #15: the model directory replaced under a running server (a `kefu models pull` of a
// newer revision into the same directory, or a copy). A replacement worker loaded whatever was there and
// its vectors were mixed with the knowledge base's, built by the old model (another dimension even):
// searches compared vectors of two models. Now a replacement that loads a different model is refused.
const root = tempDir();
const runtimes: ModelRuntime[] = [];
afterAll(async () => {
  for (const rt of runtimes) await rt.close();
});

test("a replacement worker that loads another model than the one the vectors were built with is refused", async () => {
  writeEncoder(join(root, "enc"), { corpus: FAQ_TEXTS, hidden: 32, seed: 7 });
  const { log, lines } = collectingLogger();
  const rt = await startModels({ config: modelsConfig({ dir: root, retry: true, request_timeout_ms: 1500, embedder: { model: "enc" } }), embedder: "onnx", baseDir: root, log });
  runtimes.push(rt);
  const [before] = await rt.embedder!.embed(["可以开发票吗"]);
  expect(before!.length).toBe(32);
  // Another model in its place (other weights and dimension), then the worker dies.
  rmSync(join(root, "enc"), { recursive: true });
  writeEncoder(join(root, "enc"), { corpus: FAQ_TEXTS, hidden: 48, seed: 99 });
  const pool = rt.pool("embedder")!;
  pool.debug("exit");
  for (let i = 0; i < 100 && !lines.some((l) => String(l.error ?? "").includes("changed")); i++) await Bun.sleep(30);
  // No vector of the new model reaches the knowledge base: a passage fails, a question falls back to its words.
  const got = await rt.embedder!.embed(["可以开发票吗"]).then(
    (v) => v[0]!.length,
    (e) => e.code,
  );
  expect(got).toBe("model_busy");
  expect(lines.find((l) => String(l.error ?? "").includes("changed"))?.error).toContain("restart kefu");
}, 10_000);
