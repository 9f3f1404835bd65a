import { seedDemoKnowledge } from "../demo/seed";
import type { AppContext } from "./context";

/** Work done once on a new database. */
export async function seedOnFirstStart(ctx: AppContext): Promise<void> {
  // In a cluster the demo is seeded only into a cluster with no knowledge base at all: a node joining one whose
  // admins deleted every entry must not bring the demo back (and push it to every node).
  if (ctx.sharedKb !== null && ctx.sharedKb !== "empty") return;
  const loaded = await seedDemoKnowledge(ctx.db, ctx.kb);
  if (loaded) ctx.log.info("loaded the demo knowledge base", { entries: loaded });
}

/** A server nobody can administer yet says so once it is up (not before: start-up errors stay one line). */
export async function warnWithoutAdmin(ctx: AppContext): Promise<void> {
  if ((await ctx.auth.users.count("admin")) === 0) {
    ctx.log.warn("no admin account yet: the admin and agent APIs refuse every request until you create one", {
      fix: "kefu user add <name> --role admin (from source: npx bun src/cli/main.ts user add <name> --role admin)",
    });
  }
}
