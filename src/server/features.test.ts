import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import type { Embedder } from "../kb/embedder";
import { KnowledgeBase } from "../kb/engine";
import { kbMigrations } from "../kb/migrations";
import { createLogger } from "../log/logger";
import { loadSqliteVec } from "../platform/sqlite-vec";
import { openKnowledgeBase } from "./features";

async function database() {
  const db = new Database(":memory:");
  await loadSqliteVec(db);
  for (const m of kbMigrations) db.run(m.sql);
  return db;
}

/** A local model that loaded but fails as soon as it is asked to embed (a worker that keeps dying). */
const broken: Embedder = {
  id: "onnx:broken-model",
  dim: 32,
  embed: () => Promise.reject(new Error("worker exited while embedding")),
};

test("a local embedder that fails while re-indexing: the knowledge base opens on the built-in embedder, says so once, and answers", async () => {
  const db = await database();
  const seeded = await KnowledgeBase.open(db);
  await seeded.upsert([{ id: "ship", question: "How much is shipping?", answer: "Free over 99 yuan.", alts: ["shipping cost", "delivery fee"] }]);
  const builtIn = seeded.embedder.id;
  const lines: string[] = [];
  const log = createLogger({ level: "info", write: (l) => lines.push(l) });

  const kb = await openKnowledgeBase(db, broken, log, {});
  expect(kb.embedder.id).toBe(builtIn);
  expect((await kb.search("how much is shipping")).matches[0]?.id).toBe("ship");
  const errors = lines.map((l) => JSON.parse(l)).filter((l) => l.level === "error");
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatchObject({ embedder: "onnx:broken-model", error: "worker exited while embedding" });
});

test("no local embedder, or one that works: opened on it as configured", async () => {
  const db = await database();
  const log = createLogger({ level: "silent" });
  expect((await openKnowledgeBase(db, null, log, {})).embedder.id).not.toStartWith("onnx:");
  const working: Embedder = { id: "onnx:working", dim: 32, embed: async (texts) => texts.map(() => new Float32Array(32).fill(0.1)) };
  expect((await openKnowledgeBase(db, working, log, {})).embedder.id).toBe("onnx:working");
});
