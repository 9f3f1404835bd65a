import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { HashEmbedder } from "../src/kb/embedder";
import { KnowledgeBase } from "../src/kb/engine";
import { memoryDb, SHOP_FAQ } from "../src/kb/test/helpers";
import { type ModelRuntime, startModels } from "../src/models/runtime";
import { collectingLogger, FAQ_TEXTS, modelsConfig, tempDir, writeEncoder } from "./fixtures/models";

// Review of issue #15: switching embedders back and forth (built-in → onnx → built-in → onnx, with a
// document and edits in between) must leave exactly what a fresh build with the last embedder gives.
const root = tempDir();
writeEncoder(join(root, "enc"), { corpus: FAQ_TEXTS, hidden: 48 });
let rt: ModelRuntime;
afterAll(() => rt?.close());
const entries = SHOP_FAQ.map((e) => ({ id: e.id, question: e.question, answer: e.answer, alts: e.alts }));
const doc = { id: "policy", title: "policy", text: "退货政策：收到商品七天内可以申请退货退款。发票在订单详情页申请。" };
const queries = ["发票怎么申请", "我想退货", "多久发货", "forgot my password", "保修期多长"];

test("built-in → onnx → built-in → onnx gives the same searches as a fresh onnx build; meta records id and dimension", async () => {
  rt = await startModels({ config: modelsConfig({ dir: root, embedder: { model: "enc" } }), embedder: "onnx", baseDir: root, log: collectingLogger().log });
  const onnx = rt.embedder!;
  const db = memoryDb();
  const calibration = { auto: false };
  let kb = await KnowledgeBase.open(db, { embedder: new HashEmbedder(), calibration });
  await kb.upsert(entries.slice(0, 3));
  kb = await KnowledgeBase.open(db, { embedder: onnx, calibration });
  await kb.upsert(entries.slice(3));
  await kb.documents.upsert(doc);
  kb = await KnowledgeBase.open(db, { embedder: new HashEmbedder(), calibration });
  await kb.delete([entries[0]!.id]);
  kb = await KnowledgeBase.open(db, { embedder: onnx, calibration });
  const meta = (k: string) => (db.query("SELECT value FROM kb_meta WHERE key = ?").get(k) as { value: string } | null)?.value;
  expect({ id: meta("embedder_id"), dim: meta("embedder_dim") }).toEqual({ id: onnx.id, dim: "48" });

  const fresh = await KnowledgeBase.open(memoryDb(), { embedder: onnx, calibration });
  await fresh.upsert(entries.slice(1));
  await fresh.documents.upsert(doc);
  for (const q of queries) {
    const a = (await kb.search(q, { k: 5 })).matches.map((m) => [m.id, m.confidence.toFixed(4)]);
    const b = (await fresh.search(q, { k: 5 })).matches.map((m) => [m.id, m.confidence.toFixed(4)]);
    expect({ q, a }).toEqual({ q, a: b });
    const da = (await kb.documents.search(q, kb.termStats(), 3)).map((c) => [c.documentId, c.chunk, c.relevance.toFixed(4)]);
    const dbb = (await fresh.documents.search(q, fresh.termStats(), 3)).map((c) => [c.documentId, c.chunk, c.relevance.toFixed(4)]);
    expect({ q, da }).toEqual({ q, da: dbb });
  }
}, 20_000);
