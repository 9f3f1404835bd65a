import { demoShopFaq } from "../demo/shop-faq";
import type { AppContext } from "./context";

/** Work done once on an empty knowledge base so the quick start shows a working bot. */
export async function seedOnFirstStart(ctx: AppContext): Promise<void> {
  if (ctx.kb.count() > 0) return;
  // Only a brand-new database: an admin who deleted every entry does not want the demo back.
  const seeded = ctx.db.query<{ value: string }, []>("SELECT value FROM meta WHERE key = 'demo_seeded'").get();
  if (seeded) return;
  const { ids } = await ctx.kb.upsert(demoShopFaq);
  ctx.db.run("INSERT INTO meta (key, value) VALUES ('demo_seeded', ?)", [new Date().toISOString()]);
  ctx.log.info("loaded the demo knowledge base", { entries: ids.length });
}
