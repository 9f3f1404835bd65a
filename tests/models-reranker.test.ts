import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { KnowledgeBase } from "../src/kb/engine";
import { memoryDb } from "../src/kb/test/helpers";
import { type ModelRuntime, startModels } from "../src/models/runtime";
import { knowledgeSource } from "../src/server/features";
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
  // The worker is replaced: scores come back.
  for (let i = 0; i < 50 && !rt.reranker!.ready; i++) await Bun.sleep(20);
  await rt.pool("reranker")!.ready();
}, 10_000);

test("with a reranker, the document chunks the LLM is grounded in come in the cross-encoder's order", async () => {
  const kb = await KnowledgeBase.open(memoryDb());
  // Three one-chunk documents; the lexical search ranks the one with the most shared characters first.
  await kb.documents.upsert({ id: "a", title: "shipping", text: "发货 发货 发货 多久发货 什么时候发货" });
  await kb.documents.upsert({ id: "b", title: "invoice", text: "发票怎么申请 可以开发票吗" });
  await kb.documents.upsert({ id: "c", title: "returns", text: "怎么退货 我想退货" });
  // The toy cross-encoder scores by shared characters over the whole chunk, so it disagrees with BM25 here.
  const question = "退货 发票";
  const plain = await knowledgeSource(kb).search(question, 3);
  const reranked = await knowledgeSource(kb, rt.reranker).search(question, 3);
  expect(reranked.chunks.map((c) => c.id).sort()).toEqual(plain.chunks.map((c) => c.id).sort());
  expect(reranked.chunks.map((c) => c.id)).not.toEqual(plain.chunks.map((c) => c.id));
  const scores = await rt.reranker!.score(question, reranked.chunks.map((c) => c.text));
  expect(scores).toEqual([...scores].sort((x, y) => y - x));
  kb.close();
}, 10_000);
