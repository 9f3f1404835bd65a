/**
 * GET /api/admin/system: what the admin console's System page shows in one call — version, schema version,
 * uptime, database and WAL size, LLM providers (as GET /api/admin/llm/providers reports them), plugins (as
 * GET /api/admin/plugins lists them), local models (as GET /api/admin/models lists them) and the knowledge base.
 */
import { statSync } from "node:fs";
import { Elysia } from "elysia";
import type { accessPlugin } from "../auth/access";
import type { AppContext } from "../server/context";
import { VERSION } from "../version";
import { SCHEMA_VERSION } from "./schema";

export function systemRoutes(ctx: AppContext, access: ReturnType<typeof accessPlugin>) {
  const { db, kb } = ctx;
  const pages = db.query<{ n: number }, []>("SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()");
  const wal = () => {
    if (!db.filename || db.filename === ":memory:") return 0;
    try {
      return statSync(`${db.filename}-wal`).size;
    } catch {
      return 0; // no WAL file right after a checkpoint on close
    }
  };
  const calibration = () => {
    const state = kb.calibrationState();
    return state.running ? "fitting" : state.fresh ? "fitted" : "pending";
  };
  return new Elysia({ name: "ops-system" }).use(access).get(
    "/api/admin/system",
    () => ({
      version: VERSION,
      schema_version: SCHEMA_VERSION,
      uptime_s: Math.round((Date.now() - ctx.startedAt) / 1000),
      storage: { db_bytes: pages.get()?.n ?? 0, wal_bytes: wal() },
      providers: ctx.answer.registry.status(),
      plugins: ctx.plugins.listing(),
      models: ctx.models.list(),
      kb: { entries: kb.count(), version: kb.version(), thresholds: kb.thresholds, calibration: calibration() },
    }),
    { access: "admin" },
  );
}
