import { seedDemoKnowledge } from "../demo/seed";
import type { AppContext } from "./context";

/** Work done once on a new database. */
export async function seedOnFirstStart(ctx: AppContext): Promise<void> {
  const loaded = await seedDemoKnowledge(ctx.db, ctx.kb);
  if (loaded) ctx.log.info("loaded the demo knowledge base", { entries: loaded });
}
