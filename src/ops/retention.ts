import type { Database } from "bun:sqlite";
import type { Logger } from "../log/logger";
import type { RetentionConfig } from "./config";

/**
 * Retention: deletes chat data older than [retention] in small batches, then gives the space back.
 *
 * Runs on the server's own connection, so it never waits for a lock: each batch is one short
 * synchronous transaction (a few hundred rows), and between batches it yields (`pause`), letting the
 * chat's group commit (src/storage/write-batch.ts) and the sockets run. Tables are walked by rowid, so
 * no index is needed on the timestamps and a whole pass reads each table once.
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

type ConvRow = { r: number; id: string; state: string; updated_at: number };
type VisitorRow = { r: number; id: string; last_seen_at: number; identified: number; has_conv: number };

export async function runRetention(db: Database, cfg: RetentionConfig, deps: RetentionDeps = {}): Promise<RetentionReport> {
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

  /** Reads a table `batch` rows at a time by rowid, one transaction per batch, pausing between them. */
  const walk = async <R extends { r: number }>(page: { all(after: number, limit: number): R[] }, sweep: (rows: R[]) => void) => {
    for (let after = 0; !stopped(); ) {
      const rows = page.all(after, batch);
      if (!rows.length) break;
      after = rows[rows.length - 1]!.r;
      sweep(rows);
      await pause();
    }
  };

  if (msgCut !== null || ticketCut !== null) {
    const oldest = Math.max(msgCut ?? -Infinity, ticketCut ?? -Infinity);
    const page = db.query<ConvRow, [number, number]>("SELECT rowid AS r, id, state, updated_at FROM chat_conversations WHERE rowid > ? ORDER BY rowid LIMIT ?");
    const isTicket = db.query<{ t: number }, [string]>("SELECT EXISTS (SELECT 1 FROM chat_messages WHERE conversation_id = ? AND kind = 'state') AS t");
    const dropPending = db.query<null, [string]>("DELETE FROM answer_pending WHERE conversation_id = ?");
    const dropMessages = db.query<null, [string]>("DELETE FROM chat_messages WHERE conversation_id = ?");
    const dropNotes = db.query<null, [string]>("DELETE FROM chat_notes WHERE conversation_id = ?");
    const dropAnswerLog = db.query<null, [string]>("DELETE FROM insights_answers WHERE conversation_id = ?");
    const dropConv = db.query<null, [string]>("DELETE FROM chat_conversations WHERE id = ?");
    const sweep = db.transaction((rows: ConvRow[]) => {
      for (const c of rows) {
        if (c.state !== "bot" && c.state !== "closed") continue; // open tickets stay
        if (c.updated_at >= oldest) continue;
        const ticket = isTicket.get(c.id)!.t === 1;
        const cut = ticket ? ticketCut : msgCut;
        if (cut === null || c.updated_at >= cut) continue;
        dropPending.run(c.id);
        report.messages += dropMessages.run(c.id).changes;
        dropNotes.run(c.id);
        dropAnswerLog.run(c.id);
        dropConv.run(c.id);
        if (ticket) report.tickets++;
        else report.conversations++;
      }
    });
    await walk(page, sweep);
  }

  if (visitorCut !== null || msgCut !== null) {
    const page = db.query<VisitorRow, [number, number]>(
      `SELECT rowid AS r, id, last_seen_at,
         (name IS NOT NULL OR email IS NOT NULL OR external_id IS NOT NULL OR verified = 1) AS identified,
         EXISTS (SELECT 1 FROM chat_conversations c WHERE c.visitor_id = v.id) AS has_conv
       FROM chat_visitors v WHERE rowid > ? ORDER BY rowid LIMIT ?`,
    );
    const stillEmpty = db.query<{ n: number }, [string]>("SELECT count(*) AS n FROM chat_conversations WHERE visitor_id = ?");
    const dropTokens = db.query<null, [string]>("DELETE FROM chat_visitor_tokens WHERE visitor_id = ?");
    const dropVisitor = db.query<null, [string]>("DELETE FROM chat_visitors WHERE id = ?");
    const sweep = db.transaction((rows: VisitorRow[]) => {
      for (const v of rows) {
        if (v.has_conv) continue;
        const cut = v.identified ? msgCut : visitorCut;
        if (cut === null || v.last_seen_at >= cut) continue;
        if (stillEmpty.get(v.id)!.n) continue;
        dropTokens.run(v.id);
        dropVisitor.run(v.id);
        report.visitors++;
      }
    });
    await walk(page, sweep);
  }

  const inBatches = async (sql: string, arg: number) => {
    const q = db.query<null, [number, number]>(sql);
    let total = 0;
    while (!stopped()) {
      const n = q.run(arg, batch).changes;
      total += n;
      if (n < batch) break;
      await pause();
    }
    return total;
  };
  report.auth_tokens = await inBatches("DELETE FROM auth_tokens WHERE rowid IN (SELECT rowid FROM auth_tokens WHERE expires_at < ? LIMIT ?)", now);
  if (msgCut !== null) {
    await inBatches("DELETE FROM insights_answers WHERE id IN (SELECT id FROM insights_answers WHERE conversation_id IS NULL AND created_at < ? LIMIT ?)", msgCut);
  }
  if (auditCut !== null) report.audit_rows = await inBatches("DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < ? LIMIT ?)", auditCut);

  report.pages_freed = await reclaimSpace(db, { pause, stopped });
  report.ms = Math.round(performance.now() - started);
  return report;
}

const pragma = (db: Database, name: string) => Object.values(db.query(`PRAGMA ${name}`).get() as Record<string, number>)[0]!;

/** auto_vacuum mode: 0 none, 1 full, 2 incremental. */
export const autoVacuumMode = (db: Database) => pragma(db, "auto_vacuum");

/**
 * Gives free pages back to the file system, a few hundred at a time (incremental vacuum), then runs a
 * passive checkpoint, which truncates the main file to its new size. Returns the pages freed.
 */
export async function reclaimSpace(db: Database, opts: { pause?: () => Promise<void>; stopped?: () => boolean; step?: number } = {}): Promise<number> {
  if (autoVacuumMode(db) !== 2) return 0;
  const pause = opts.pause ?? defaultPause;
  const step = opts.step ?? 512;
  let freed = 0;
  while (!opts.stopped?.()) {
    const free = pragma(db, "freelist_count");
    if (free === 0) break;
    db.query(`PRAGMA incremental_vacuum(${Math.min(free, step)})`).all();
    const left = pragma(db, "freelist_count");
    freed += free - left;
    if (left >= free) break; // nothing moved (should not happen): do not spin
    await pause();
  }
  db.run("PRAGMA wal_checkpoint(PASSIVE)");
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
