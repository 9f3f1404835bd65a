import type { Database } from "bun:sqlite";
import type { Logger } from "../log/logger";
import type { Sql } from "../storage/sql";
import type { RetentionConfig } from "./config";

/**
 * Retention: deletes chat data older than [retention] in small batches, then gives the space back.
 *
 * Runs on the server's own connection, so it never waits for a lock: each batch is one short
 * transaction (a few hundred rows), and between batches it yields (`pause`), letting the chat's group
 * commit and the sockets run. Tables are walked by primary key, so no index is needed on the timestamps
 * and a whole pass reads each table once. Written once against `Sql` (SQLite or PostgreSQL); in a cluster
 * one node runs it (src/ops/jobs.ts, `isLeader`).
 *
 * - Conversations not open (state bot or closed) whose last activity (updated_at) is older than
 *   messages_days — or tickets_days for a ticket, a conversation with any state change (queued, taken
 *   by an agent, closed by one) — are deleted with their messages, notes, rating, off-hours questions and
 *   answer-log rows (src/insights). Answer-log rows of /api/ask (no conversation) go after messages_days.
 * - Visitors with no conversation left: anonymous ones visitors_days after last seen, those who left a
 *   name or e-mail or are verified after messages_days; their device tokens go with them.
 * - Expired agent/admin bearer tokens, and audit rows older than audit_days.
 *
 * Then, with auto_vacuum = INCREMENTAL, `PRAGMA incremental_vacuum` in steps moves the free pages to the
 * end and truncates; the file shrinks at the next checkpoint. Databases created before kefu set that mode
 * are converted once at start-up (ensureIncrementalVacuum: it needs a full VACUUM).
 */
export interface RetentionDeps {
  /** Epoch ms (tests pass a fake clock). */
  now?: () => number;
  /** Called between batches; default: a 2 ms timer, which lets queued writes and socket frames run. */
  pause?: () => Promise<void>;
  /** Rows looked at per batch. Default 500. */
  batchRows?: number;
  /** Stops between batches when it returns true (shutdown). */
  stopped?: () => boolean;
}

export interface RetentionReport {
  conversations: number;
  tickets: number;
  messages: number;
  visitors: number;
  auth_tokens: number;
  audit_rows: number;
  /** Pages given back by incremental vacuum. */
  pages_freed: number;
  ms: number;
}

const DAY = 86_400_000;
const defaultPause = () => new Promise<void>((r) => setTimeout(r, 2));
/** Pages one incremental vacuum step frees at most (one statement text). */
const VACUUM_STEP = 512;

type ConvRow = { id: string; state: string; updated_at: number };
type VisitorRow = { id: string; last_seen_at: number; identified: number; has_conv: number };

export async function runRetention(sql: Sql, cfg: RetentionConfig, deps: RetentionDeps = {}): Promise<RetentionReport> {
  const started = performance.now();
  const now = (deps.now ?? Date.now)();
  const pause = deps.pause ?? defaultPause;
  const batch = deps.batchRows ?? 500;
  const stopped = deps.stopped ?? (() => false);
  const cutoff = (days: number) => (days > 0 ? now - days * DAY : null);
  const msgCut = cutoff(cfg.messages_days);
  const ticketCut = cutoff(cfg.tickets_days);
  const visitorCut = cutoff(cfg.visitors_days);
  const auditCut = cutoff(cfg.audit_days);
  const report: RetentionReport = { conversations: 0, tickets: 0, messages: 0, visitors: 0, auth_tokens: 0, audit_rows: 0, pages_freed: 0, ms: 0 };

  /** Reads a table `batch` rows at a time by primary key, one transaction per batch, pausing between them. */
  const walk = async <R extends { id: string }>(page: (after: string, limit: number) => Promise<R[]>, sweep: (rows: R[]) => Promise<void>) => {
    for (let after = ""; !stopped(); ) {
      const rows = await page(after, batch);
      if (!rows.length) break;
      after = rows[rows.length - 1]!.id;
      await sql.transaction(() => sweep(rows));
      await pause();
    }
  };

  if (msgCut !== null || ticketCut !== null) {
    const oldest = Math.max(msgCut ?? -Infinity, ticketCut ?? -Infinity);
    const page = (after: string, limit: number) =>
      sql.all<ConvRow>("SELECT id, state, updated_at FROM chat_conversations WHERE id > ? ORDER BY id LIMIT ?", [after, limit]);
    await walk(page, async (rows) => {
      for (const c of rows) {
        if (c.state !== "bot" && c.state !== "closed") continue; // open tickets stay
        if (c.updated_at >= oldest) continue;
        const ticket = (await sql.get("SELECT 1 AS t FROM chat_messages WHERE conversation_id = ? AND kind = 'state' LIMIT 1", [c.id])) !== null;
        const cut = ticket ? ticketCut : msgCut;
        if (cut === null || c.updated_at >= cut) continue;
        await sql.run("DELETE FROM answer_pending WHERE conversation_id = ?", [c.id]);
        report.messages += (await sql.run("DELETE FROM chat_messages WHERE conversation_id = ?", [c.id])).changes;
        await sql.run("DELETE FROM chat_notes WHERE conversation_id = ?", [c.id]);
        await sql.run("DELETE FROM insights_answers WHERE conversation_id = ?", [c.id]);
        await sql.run("DELETE FROM chat_conversations WHERE id = ?", [c.id]);
        if (ticket) report.tickets++;
        else report.conversations++;
      }
    });
  }

  if (visitorCut !== null || msgCut !== null) {
    const page = (after: string, limit: number) =>
      sql.all<VisitorRow>(
        `SELECT id, last_seen_at,
           CASE WHEN name IS NOT NULL OR email IS NOT NULL OR external_id IS NOT NULL OR verified = 1 THEN 1 ELSE 0 END AS identified,
           CASE WHEN EXISTS (SELECT 1 FROM chat_conversations c WHERE c.visitor_id = v.id) THEN 1 ELSE 0 END AS has_conv
         FROM chat_visitors v WHERE id > ? ORDER BY id LIMIT ?`,
        [after, limit],
      );
    await walk(page, async (rows) => {
      for (const v of rows) {
        if (v.has_conv) continue;
        const cut = v.identified ? msgCut : visitorCut;
        if (cut === null || v.last_seen_at >= cut) continue;
        // A conversation started since the page was read keeps its visitor.
        if (await sql.get("SELECT 1 AS c FROM chat_conversations WHERE visitor_id = ? LIMIT 1", [v.id])) continue;
        await sql.run("DELETE FROM chat_visitor_tokens WHERE visitor_id = ?", [v.id]);
        await sql.run("DELETE FROM chat_visitors WHERE id = ?", [v.id]);
        report.visitors++;
      }
    });
  }

  const inBatches = async (text: string, arg: number) => {
    let total = 0;
    while (!stopped()) {
      const n = (await sql.run(text, [arg, batch])).changes;
      total += n;
      if (n < batch) break;
      await pause();
    }
    return total;
  };
  report.auth_tokens = await inBatches("DELETE FROM auth_tokens WHERE token_hash IN (SELECT token_hash FROM auth_tokens WHERE expires_at < ? LIMIT ?)", now);
  if (msgCut !== null) {
    await inBatches("DELETE FROM insights_answers WHERE id IN (SELECT id FROM insights_answers WHERE conversation_id IS NULL AND created_at < ? LIMIT ?)", msgCut);
  }
  if (auditCut !== null) report.audit_rows = await inBatches("DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < ? LIMIT ?)", auditCut);

  // PostgreSQL gives space back by its own (auto)vacuum.
  if (sql.dialect === "sqlite") report.pages_freed = await reclaimSpace(sql, { pause, stopped });
  report.ms = Math.round(performance.now() - started);
  return report;
}

const pragma = (db: Database, name: string) => Object.values(db.query(`PRAGMA ${name}`).get() as Record<string, number>)[0]!;

/** auto_vacuum mode: 0 none, 1 full, 2 incremental. */
export const autoVacuumMode = (db: Database) => pragma(db, "auto_vacuum");

/**
 * Gives free pages back to the file system, a few hundred at a time (incremental vacuum), then runs a
 * passive checkpoint, which truncates the main file to its new size. Returns the pages freed. SQLite only;
 * through the store's `Sql` (so it never lands inside a transaction of other code on the same connection).
 */
export async function reclaimSpace(sql: Sql, opts: { pause?: () => Promise<void>; stopped?: () => boolean } = {}): Promise<number> {
  const value = async (name: string) => Object.values((await sql.get<Record<string, number>>(`PRAGMA ${name}`))!)[0]!;
  if ((await value("auto_vacuum")) !== 2) return 0;
  const pause = opts.pause ?? defaultPause;
  let freed = 0;
  while (!opts.stopped?.()) {
    const free = await value("freelist_count");
    if (free === 0) break;
    await sql.all(`PRAGMA incremental_vacuum(${VACUUM_STEP})`);
    const left = await value("freelist_count");
    freed += free - left;
    if (left >= free) break; // nothing moved (should not happen): do not spin
    await pause();
  }
  await sql.run("PRAGMA wal_checkpoint(PASSIVE)");
  return freed;
}

/**
 * Switches a database to auto_vacuum = INCREMENTAL, which only a full VACUUM can do on an existing file
 * (new databases get it from src/storage/database.ts before their first table). Run once at start-up,
 * before the server listens: it rewrites the whole file (seconds per GB) and needs as much free disk.
 * Returns false when there was nothing to do.
 */
export function ensureIncrementalVacuum(db: Database, log?: Logger): boolean {
  if (autoVacuumMode(db) === 2) return false;
  const bytes = pragma(db, "page_count") * pragma(db, "page_size");
  const t = performance.now();
  log?.info("switching the database to incremental vacuum (once; rewrites the file)", { mb: Math.round(bytes / 1048576) });
  db.run("PRAGMA auto_vacuum = INCREMENTAL");
  db.run("VACUUM");
  db.run("PRAGMA wal_checkpoint(TRUNCATE)");
  log?.info("database switched to incremental vacuum", { ms: Math.round(performance.now() - t) });
  return true;
}
