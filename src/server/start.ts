import { resolve } from "node:path";
import { createAuth } from "../auth/service";
import type { Bot } from "../chat/bot";
import type { KefuConfig } from "../config/schema";
import { KefuError } from "../errors/kefu-error";
import { createLogger, type Logger, secretValues } from "../log/logger";
import { startOps } from "../ops/jobs";
import { memoryLimitReport } from "../platform/memory-limit";
import { createPlugins, startPlugins } from "../plugins/setup";
import { checkpoint, openDatabase } from "../storage/database";
import { VERSION } from "../version";
import { type App, createApp } from "./app";
import { type AppContext, type BaseContext, Lifecycle } from "./context";
import { buildFeatures, type FeatureDeps } from "./features";
import { seedOnFirstStart, warnWithoutAdmin } from "./first-start";
import { openNodeServices } from "./node-services";

export interface StartOptions {
  config: KefuConfig;
  /** Directory relative paths in the config are resolved against. */
  baseDir: string;
  log?: Logger;
  /** Answers visitors in state bot instead of the answer pipeline (tests). */
  bot?: Bot;
  /** Test hooks: the LLM registry's fetch/env/clock, and the business-hours clock. */
  deps?: FeatureDeps;
}

export interface RunningKefu {
  ctx: AppContext;
  app: App;
  port: number;
  url: string;
  /** Graceful shutdown; resolves when the database is closed. Safe to call twice. */
  stop(reason?: string): Promise<void>;
}

export async function startKefu(opts: StartOptions): Promise<RunningKefu> {
  const { config, baseDir } = opts;
  // Start-up phases, ms since the process started (the first is module loading), in the "kefu started" line.
  const startup: Record<string, number> = { loaded: Math.round(performance.now()) };
  const mark = (phase: string) => void (startup[phase] = Math.round(performance.now()));
  const log = opts.log ?? createLogger({ level: config.log.level });
  for (const secret of secretValues(config)) log.secret(secret);
  const db = await openDatabase({ dir: resolve(baseDir, config.storage.dir), busyTimeoutMs: config.storage.busy_timeout_ms });
  mark("database");
  let node;
  try {
    node = await openNodeServices(config, db, log);
  } catch (e) {
    db.close();
    throw e;
  }
  mark("cluster");
  const { sql } = node;
  const lifecycle = new Lifecycle();
  const base: BaseContext = {
    config,
    baseDir,
    log,
    db,
    sql,
    bus: node.bus,
    node,
    auth: createAuth(sql, {
      tokenTtlHours: config.auth.token_ttl_hours,
      tokenIdleHours: config.auth.token_idle_hours,
      loginIpBurst: config.auth.login_ip_burst,
      loginIpPerMinute: config.auth.login_ip_per_minute,
      loginAccountIpBurst: config.auth.login_account_ip_burst,
      loginAccountIpPerMinute: config.auth.login_account_ip_per_minute,
    }),
    plugins: createPlugins(config, baseDir, sql, log),
    startedAt: Date.now(),
    lifecycle,
    bot: opts.bot,
  };
  let ctx: AppContext;
  let app: App;
  try {
    ctx = Object.assign(base, await buildFeatures(base, opts.deps));
    mark("features");
    await startPlugins(ctx);
    mark("plugins");
    startOps(ctx, { isLeader: () => node.coordinator.isLeader("jobs"), ...opts.deps?.ops });
    await seedOnFirstStart(ctx);
    mark("seed");
    app = createApp(ctx);
    mark("routes");
    app.listen({
      hostname: config.server.host,
      port: config.server.port,
      // Bun's own cap is the largest any route takes; each route enforces its own (src/auth/access.ts).
      maxRequestBodySize: Math.max(config.server.max_body_bytes, config.server.max_import_bytes),
    });
  } catch (e) {
    // Features may already run timers (off-hours batch): stop them before closing the database.
    const quiet = () => undefined;
    await lifecycle.close("connections", quiet);
    await lifecycle.close("resources", quiet);
    await node.close();
    db.close();
    const err = e as NodeJS.ErrnoException;
    if (err.code === "EADDRINUSE" || /in use/i.test(err.message ?? "")) {
      throw new KefuError("port_in_use", 500, `port ${config.server.port} on ${config.server.host} is already in use; stop the other process or set [server] port / KEFU_SERVER_PORT`);
    }
    if (err.code === "EACCES") {
      throw new KefuError("port_denied", 500, `not allowed to listen on port ${config.server.port}; use a port above 1023 or run with the needed capability`);
    }
    throw e;
  }
  const server = app.server!;
  const port = server.port!;
  mark("listening");
  await lifecycle.listened((err) => log.error("a start-up step after listen failed", { err }));
  const memory = memoryLimitReport();
  if (memory.warning) log.warn(memory.warning.msg, memory.warning.fields);
  log.info("kefu started", { version: VERSION, url: `http://${config.server.host}:${port}`, db: resolve(baseDir, config.storage.dir), startup_ms: startup, ...memory.fields });
  await warnWithoutAdmin(ctx);

  let stopping: Promise<void> | null = null;
  const stop = (reason = "stop") =>
    (stopping ??= (async () => {
      log.info("shutting down", { reason });
      const onError = (name: string, err: unknown) => log.error("shutdown step failed", { step: name, err });
      await lifecycle.close("connections", onError);
      // Stop accepting; give in-flight requests until the timeout, then cut them.
      const drained = server.stop(false);
      const timedOut = await Promise.race([
        Promise.resolve(drained).then(() => false),
        Bun.sleep(config.server.shutdown_timeout_ms).then(() => true),
      ]);
      if (timedOut) {
        log.warn("in-flight work did not finish in time; closing connections", { timeout_ms: config.server.shutdown_timeout_ms });
        await server.stop(true);
      }
      await lifecycle.close("resources", onError);
      await node.close();
      try {
        checkpoint(db);
      } catch (err) {
        onError("wal-checkpoint", err);
      }
      db.close();
      log.info("stopped");
    })());

  return { ctx, app, port, url: `http://${config.server.host === "0.0.0.0" ? "127.0.0.1" : config.server.host}:${port}`, stop };
}
