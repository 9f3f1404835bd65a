import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { type ModelRuntime, startModels } from "../src/models/runtime";
import { collectingLogger, FAQ_TEXTS, modelsConfig, tempDir } from "./fixtures/models";
import { writeCrossEncoder } from "./fixtures/models/cross-encoder";

// Review of issue #15: the reranker sits in every visitor's search (document chunks), but unlike the
// embedder it had no query_timeout_ms: a hung reranker held each answer for request_timeout_ms, then again
// on the retry (20 s by default), far past the answer deadline.
const root = tempDir();
writeCrossEncoder(join(root, "tiny-reranker"), FAQ_TEXTS);
let rt: ModelRuntime;
afterAll(() => rt?.close());

test("a hung reranker keeps the candidates' order within query_timeout_ms", async () => {
  const { log } = collectingLogger();
  rt = await startModels({ config: modelsConfig({ dir: root, request_timeout_ms: 3000, query_timeout_ms: 200, reranker: { model: "tiny-reranker", top: 3 } }), embedder: "builtin", baseDir: root, log });
  await rt.settled();
  const candidates = ["多久发货", "business hours", "发票怎么申请"];
  expect((await rt.reranker!.rerank("怎么开发票", candidates, (c) => c))[0]!.item).toBe("发票怎么申请");
  rt.pool("reranker")!.debug("hang");
  // Not held until the hung worker is replaced (request_timeout_ms) and the retry answers with scores.
  const kept = await rt.reranker!.rerank("怎么开发票", candidates, (c) => c);
  expect(kept).toEqual(candidates.map((item) => ({ item, score: null })));
}, 10_000);
