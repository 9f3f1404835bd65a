import { Elysia } from "elysia";
import { VERSION } from "../version";
import { SCHEMA_VERSION } from "../ops/schema";
import type { accessPlugin } from "../auth/access";
import type { AppContext } from "./context";

/** How long one answer about the shared database is reused (a load balancer may probe every node often). */
const STORAGE_CHECK_TTL_MS = 1000;
/** A shared database that does not answer `SELECT 1` within this is unreachable for the probes. */
const STORAGE_CHECK_TIMEOUT_MS = 2000;

export function healthPlugin(ctx: AppContext, access: ReturnType<typeof accessPlugin>) {
  const dbOk = () => {
    try {
      return ctx.db.query("SELECT 1 AS ok").get() !== null;
    } catch {
      return false;
    }
  };
  // The shared PostgreSQL (cluster mode): without it a node cannot serve anything (every hello, send and API
  // call needs it), so /readyz takes it out of the load balancer; /healthz stays up (restarting would not help).
  // Redis is not checked: a node without it serves its own sockets (docs/cluster.md).
  let storage: { ok: boolean; at: number; pending: Promise<boolean> | null } = { ok: true, at: 0, pending: null };
  const storageOk = async (): Promise<boolean> => {
    if (ctx.sql.dialect !== "postgres") return true;
    if (Date.now() - storage.at < STORAGE_CHECK_TTL_MS) return storage.ok;
    storage.pending ??= (async () => {
      let timer: Timer | undefined;
      const ok = await Promise.race([
        ctx.sql.get("SELECT 1 AS ok").then((r) => r !== null && r !== undefined),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(false), STORAGE_CHECK_TIMEOUT_MS))),
      ]).catch(() => false);
      clearTimeout(timer);
      storage = { ok, at: Date.now(), pending: null };
      return ok;
    })();
    return storage.pending;
  };
  return new Elysia({ name: "health" })
    .use(access)
    .get("/healthz", async ({ set }) => {
      const db = dbOk();
      if (!db) set.status = 503;
      const shared = ctx.sql.dialect === "postgres" ? { storage: (await storageOk()) ? "ok" : "unreachable" } : {};
      return { status: db ? "ok" : "degraded", version: VERSION, schema_version: SCHEMA_VERSION, uptime_s: Math.round((Date.now() - ctx.startedAt) / 1000), db: db ? "ok" : "error", ...shared };
    }, { access: "public" })
    .get("/readyz", async ({ set }) => {
      const shared = await storageOk();
      const ready = ctx.lifecycle.ready && dbOk() && shared;
      if (!ready) set.status = 503;
      // Model state: starting while a worker warms up, failed with the load error (the fallback answers meanwhile).
      return {
        ready,
        waiting_for: ctx.lifecycle.waitingFor,
        shutting_down: ctx.lifecycle.shuttingDown,
        models: ctx.models.status(),
        ...(ctx.sql.dialect === "postgres" ? { storage: shared ? "ok" : "unreachable" } : {}),
      };
    }, { access: "public" });
}
