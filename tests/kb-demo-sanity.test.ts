import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { demoShopFaq } from "../src/demo/shop-faq";
import { KnowledgeBase } from "../src/kb/engine";
import { kbMigrations } from "../src/kb/migrations";
import { loadSqliteVec } from "../src/platform/sqlite-vec";
import { offTopic, paraphrases } from "./kb-demo-questions";

/**
 * What a small shop sees with the default thresholds: questions its knowledge base
 * does not cover must not get a confident wrong answer; everyday paraphrases of its
 * questions must get the right one. Written independently of the evaluation sets.
 */
// Known misses, measured and left visible in src/kb/README.md ("Demo shop"): "where's my package right now"
// (no entry above `suggest`) and "how long does it take to get my money back" (delivery time ranks first).

async function demoKb() {
  const db = new Database(":memory:");
  await loadSqliteVec(db);
  for (const m of kbMigrations) db.run(m.sql);
  const kb = await KnowledgeBase.open(db);
  await kb.upsert(demoShopFaq);
  // As `kefu serve` has it once the background fit is done.
  await kb.calibrate();
  return kb;
}

describe("demo shop knowledge base with default thresholds", () => {
  test("off-topic questions get no direct answer", async () => {
    const kb = await demoKb();
    const answered: string[] = [];
    for (const q of offTopic) if ((await kb.ask(q)).path === "direct") answered.push(q);
    expect(answered).toEqual([]);
  });

  test("its own questions get their answer verbatim", async () => {
    const kb = await demoKb();
    const wrong: string[] = [];
    for (const e of demoShopFaq) {
      const r = await kb.ask(e.question);
      if (r.path !== "direct" || r.entryId !== e.id) wrong.push(`${e.question} → ${r.path} ${r.entryId ?? r.matches[0]?.id}`);
    }
    expect(wrong).toEqual([]);
  });

  // At the default `direct` (chosen for 90% right verbatim answers on the dev sets) these everyday paraphrases
  // are offered as "did you mean" choices, the right entry first, rather than answered verbatim (src/kb/README.md).
  test("paraphrases of its questions get the right entry, verbatim or as the first choice", async () => {
    const kb = await demoKb();
    const wrong: string[] = [];
    for (const [q, id] of paraphrases) {
      const r = await kb.ask(q);
      const first = r.entryId ?? r.matches[0]?.id;
      if (r.path === "none" || first !== id) wrong.push(`${q} → ${r.path} ${first}`);
    }
    expect(wrong).toEqual([]);
  });
});
