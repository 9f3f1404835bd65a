import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { type ModelRuntime, startModels } from "../src/models/runtime";
import { collectingLogger, FAQ_TEXTS, modelsConfig, tempDir } from "./fixtures/models";
import { writeCrossEncoder } from "./fixtures/models/cross-encoder";

// [models.reranker]: the generated cross-encoder scores (question, candidate) pairs in a worker.
const root = tempDir();
writeCrossEncoder(join(root, "tiny-reranker"), FAQ_TEXTS);
let rt: ModelRuntime;
afterAll(() => rt?.close());

test("the cross-encoder puts the candidate that answers the question first; a broken one keeps the order", async () => {
  const { log } = collectingLogger();
  rt = await startModels({ config: modelsConfig({ dir: root, reranker: { model: "tiny-reranker", top: 3 } }), embedder: "builtin", baseDir: root, log });
  await rt.settled();
  const candidates = ["多久发货", "business hours", "发票怎么申请", "怎么退货"];
  const ranked = await rt.reranker!.rerank("怎么开发票", candidates, (c) => c);
  expect(ranked[0]).toMatchObject({ item: "发票怎么申请" });
  expect(ranked[0]!.score!).toBeGreaterThan(ranked[1]!.score!);
  // Beyond `top` the order is untouched and unscored.
  expect(ranked[3]).toEqual({ item: "怎么退货", score: null });
  expect(rt.status().reranker).toMatchObject({ state: "ready", completed: 1 });
  rt.pool("reranker")!.debug("exit");
  await Bun.sleep(20);
  const kept = await rt.reranker!.rerank("怎么开发票", candidates, (c) => c);
  expect(kept.map((k) => k.item)).toHaveLength(4);
}, 10_000);
