import { Elysia } from "elysia";
import { VERSION } from "../version";
import { SCHEMA_VERSION } from "../ops/schema";
import type { accessPlugin } from "../auth/access";
import type { AppContext } from "./context";

export function healthPlugin(ctx: AppContext, access: ReturnType<typeof accessPlugin>) {
  const dbOk = () => {
    try {
      return ctx.db.query("SELECT 1 AS ok").get() !== null;
    } catch {
      return false;
    }
  };
  return new Elysia({ name: "health" })
    .use(access)
    .get("/healthz", ({ set }) => {
      const db = dbOk();
      if (!db) set.status = 503;
      return { status: db ? "ok" : "degraded", version: VERSION, schema_version: SCHEMA_VERSION, uptime_s: Math.round((Date.now() - ctx.startedAt) / 1000), db: db ? "ok" : "error" };
    }, { access: "public" })
    .get("/readyz", ({ set }) => {
      const ready = ctx.lifecycle.ready && dbOk();
      if (!ready) set.status = 503;
      // Model state: starting while a worker warms up, failed with the load error (the fallback answers meanwhile).
      return { ready, waiting_for: ctx.lifecycle.waitingFor, shutting_down: ctx.lifecycle.shuttingDown, models: ctx.models.status() };
    }, { access: "public" });
}
