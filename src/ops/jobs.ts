import { readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import type { KefuConfig } from "../config/schema";
import type { Logger } from "../log/logger";
import type { Lifecycle } from "../server/context";
import { DB_FILE } from "../storage/database";
import type { Database } from "bun:sqlite";
import type { Sql } from "../storage/sql";
import { createAuditStore } from "./audit/store";
import { backupDatabase, backupStamp } from "./backup";
import { type BackupConfig, durationMs } from "./config";
import { ensureIncrementalVacuum, runRetention } from "./retention";

export interface OpsDeps {
  /** Clock of the retention job (epoch ms). */
  now?: () => number;
  /** Delay of the first retention run after start (default 5 minutes), then every 24 h. */
  firstRetentionMs?: number;
  /** Delay of the first scheduled backup when none is due earlier (default 1 minute). */
  firstBackupMs?: number;
  /**
   * True while this node may run retention and scheduled backups (cluster: it holds their leadership lease).
   * Default always. A node that is not the leader when a run is due looks again every hour.
   */
  isLeader?: () => boolean;
}

type Ctx = { config: KefuConfig; baseDir: string; db: Database; sql: Sql; log: Logger; lifecycle: Lifecycle };

const DAY = 86_400_000;
const HOUR = 3_600_000;
export const SCHEDULED_BACKUP = /^kefu-\d{8}-\d{6}\.db(\.gz)?$/;

/** Scheduled backups in `dir`, oldest first (their names sort by time). */
export function scheduledBackups(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => SCHEDULED_BACKUP.test(f)).sort();
  } catch {
    return [];
  }
}

const timeOfName = (name: string) => {
  const m = /^kefu-(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})/.exec(name)!;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
};

/** One scheduled backup into `dir`, then the oldest beyond `keep` are deleted. */
export async function scheduledBackup(dbFile: string, dir: string, cfg: BackupConfig, now = new Date()) {
  const file = join(dir, `kefu-${backupStamp(now)}.db${cfg.gzip ? ".gz" : ""}`);
  const result = await backupDatabase(dbFile, file, { gzip: cfg.gzip });
  const all = scheduledBackups(dir);
  const removed = all.slice(0, Math.max(0, all.length - cfg.keep));
  for (const f of removed) rmSync(join(dir, f), { force: true });
  return { ...result, removed };
}

/**
 * The server's operations jobs, started once at start-up (src/server/start.ts): the one-time switch to
 * incremental vacuum, the daily retention run and scheduled backups. Stopped on shutdown, before the
 * database closes; a run in progress finishes its batch first. In a cluster every node schedules them and
 * only the leader (`deps.isLeader`) runs them.
 */
export function startOps(ctx: Ctx, deps: OpsDeps = {}) {
  const { config, db, sql, lifecycle } = ctx;
  const log = ctx.log.child({ feature: "ops" });
  const audit = createAuditStore(sql);
  const isLeader = deps.isLeader ?? (() => true);
  const dbFile = resolve(ctx.baseDir, config.storage.dir, DB_FILE);
  const timers = new Set<Timer>();
  const running = new Set<Promise<unknown>>();
  let stopped = false;
  const later = (ms: number, fn: () => Promise<unknown>) => {
    const t = setTimeout(() => {
      timers.delete(t);
      if (stopped) return;
      const p = fn().finally(() => running.delete(p));
      running.add(p);
    }, Math.max(0, ms));
    timers.add(t);
  };

  try {
    const up = db.query<{ value: string }, []>("SELECT value FROM meta WHERE key = 'upgrade_backup'").get();
    const info = up ? (JSON.parse(up.value) as { file: string; from: number; to: number; at: number }) : null;
    if (info && info.at >= performance.timeOrigin) log.info("database schema upgraded; the database before it was backed up", info);
  } catch {
    // meta is always there after migrate; a malformed value is not worth failing start-up for
  }

  const r = config.retention;
  const retentionOn = r.messages_days > 0 || r.tickets_days > 0 || r.visitors_days > 0 || r.audit_days > 0;
  if (retentionOn && db.filename && db.filename !== ":memory:") ensureIncrementalVacuum(db, log);
  const retention = async () => {
    if (!isLeader()) return later(HOUR, retention);
    try {
      const report = await runRetention(sql, r, { now: deps.now, stopped: () => stopped });
      log.info("retention run", { ...report });
    } catch (err) {
      log.error("retention run failed", { err });
    }
    later(DAY, retention);
  };
  if (retentionOn) later(deps.firstRetentionMs ?? 5 * 60_000, retention);

  const every = durationMs(config.backup.every);
  if (every > 0 && config.storage.driver === "postgres") {
    // The node's SQLite file holds only its search index then: copying it would pass for a backup and is not one.
    log.warn("scheduled backups are off: [storage] driver = postgres keeps the shared data in PostgreSQL; back it up with pg_dump or your database's backups (docs/cluster.md)", { every: config.backup.every });
  } else if (every > 0) {
    const dir = resolve(ctx.baseDir, config.backup.dir);
    const backup = async () => {
      if (!isLeader()) return later(Math.min(every, HOUR), backup);
      try {
        const res = await scheduledBackup(dbFile, dir, config.backup);
        await audit.record({ actor: "system", action: "backup.create", target: res.file, detail: { bytes: res.bytes, scheduled: true, removed: res.removed.length } });
        log.info("scheduled backup written", { file: res.file, bytes: res.bytes, ms: res.ms, removed: res.removed });
        later(every, backup);
      } catch (err) {
        log.error("scheduled backup failed", { err, dir, retry_in_ms: Math.min(every, 3600_000) });
        later(Math.min(every, 3600_000), backup);
      }
    };
    const newest = scheduledBackups(dir).at(-1);
    const due = newest ? timeOfName(newest) + every - Date.now() : 0;
    later(Math.max(due, deps.firstBackupMs ?? 60_000), backup);
  }

  lifecycle.onShutdown("ops", async () => {
    stopped = true;
    for (const t of timers) clearTimeout(t);
    timers.clear();
    await Promise.allSettled([...running]);
  });
}
