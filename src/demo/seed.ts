import type { Database } from "bun:sqlite";
import type { KnowledgeBase } from "../kb/engine";
import { demoShopFaq } from "./shop-faq";

/** Every demo entry's id starts with this (`shop-faq.ts`); "remove demo entries" deletes exactly those. */
export const DEMO_ID_PREFIX = "demo-";

/**
 * Loads the demo knowledge into a brand-new database so the quick start shows a
 * working bot. Never again once done: an admin who deleted every entry does not
 * want the demo back. Returns the number of entries loaded.
 */
export async function seedDemoKnowledge(db: Database, kb: KnowledgeBase): Promise<number> {
  if (kb.count() > 0) return 0;
  if (db.query("SELECT 1 FROM meta WHERE key = 'demo_seeded'").get()) return 0;
  const { ids } = await kb.upsert(demoShopFaq);
  markDemoDone(db, new Date().toISOString());
  return ids.length;
}

/** `kefu init --no-demo`: this database never gets the demo (the mark first start looks for, without the entries). */
export function declineDemo(db: Database): void {
  markDemoDone(db, "declined");
}

function markDemoDone(db: Database, value: string): void {
  db.run("INSERT INTO meta (key, value) VALUES ('demo_seeded', ?) ON CONFLICT(key) DO NOTHING", [value]);
}

/** Ids of the demo entries still in the knowledge base (edited ones included: they keep their demo id). */
export function demoEntryIds(kb: KnowledgeBase): string[] {
  return (kb.db.query("SELECT id FROM kb_entries WHERE substr(id, 1, ?) = ? ORDER BY rowid").all(DEMO_ID_PREFIX.length, DEMO_ID_PREFIX) as { id: string }[]).map((r) => r.id);
}

/** Deletes the demo entries in one transaction (one version bump); returns how many there were. */
export async function removeDemoEntries(kb: KnowledgeBase): Promise<number> {
  const ids = demoEntryIds(kb);
  return ids.length ? kb.delete(ids) : 0;
}
