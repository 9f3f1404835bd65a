import type { Database } from "bun:sqlite";
import type { KnowledgeBase } from "../kb/engine";
import { demoShopFaq } from "./shop-faq";

/**
 * Loads the demo knowledge into a brand-new database so the quick start shows a
 * working bot. Never again once done: an admin who deleted every entry does not
 * want the demo back. Returns the number of entries loaded.
 */
export async function seedDemoKnowledge(db: Database, kb: KnowledgeBase): Promise<number> {
  if (kb.count() > 0) return 0;
  if (db.query("SELECT 1 FROM meta WHERE key = 'demo_seeded'").get()) return 0;
  const { ids } = await kb.upsert(demoShopFaq);
  db.run("INSERT INTO meta (key, value) VALUES ('demo_seeded', ?)", [new Date().toISOString()]);
  return ids.length;
}
