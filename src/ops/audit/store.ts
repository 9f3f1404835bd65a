import { userInfo } from "node:os";
import type { Sql, SqlValue } from "../../storage/sql";

/**
 * What the audit log records. Adding an action = one name here and one call (or one row of
 * src/ops/audit/trail.ts for an HTTP route).
 */
export const AUDIT_ACTIONS = [
  "auth.login",
  "auth.login_failed",
  "user.add",
  "user.update",
  "user.passwd",
  "user.disable",
  "user.enable",
  "token.create",
  "token.revoke",
  "kb.entry.create",
  "kb.entry.update",
  "kb.entry.delete",
  "kb.entry.bulk",
  "kb.demo.remove",
  "kb.import",
  "kb.export",
  "kb.document.delete",
  "kb.thresholds.update",
  "kb.thresholds.reset",
  "insights.resolve",
  "insights.dismiss",
  "plugin.reload",
  "plugin.enable",
  "plugin.disable",
  "visitor.export",
  "visitor.erase",
  "backup.create",
  "backup.restore",
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditEvent {
  /** Account name, `cli:<os user>` for the command line, `system` for the server's own jobs. */
  actor: string;
  actorId?: number | null;
  action: AuditAction;
  target?: string | null;
  ip?: string | null;
  detail?: Record<string, unknown> | null;
  /** Epoch ms; default now. */
  at?: number;
}

export interface AuditRow {
  id: number;
  at: string;
  actor: string;
  actor_id: number | null;
  action: string;
  target: string | null;
  ip: string | null;
  detail: Record<string, unknown> | null;
}

export interface AuditFilter {
  action?: string;
  actor?: string;
  target?: string;
  /** Epoch ms, inclusive. */
  since?: number;
  /** Epoch ms, exclusive. */
  until?: number;
  /** Rows with a smaller id (the next page of a newest-first listing). */
  beforeId?: number;
  limit?: number;
}

type Raw = Omit<AuditRow, "at" | "detail"> & { at: number; detail: string | null };

/** The actor of a command run from a shell: `cli:<os user>`. */
export function cliActor(): string {
  let name = "unknown";
  try {
    name = userInfo().username;
  } catch {
    // No passwd entry for this uid (some containers).
  }
  return `cli:${name}`;
}

/** Append-only store of the audit log (table audit_log, src/ops/migrations.ts). */
export interface AuditStore {
  /** Appends one row; resolves its id. */
  record(e: AuditEvent): Promise<number>;
  /** Newest first. `next_before_id` continues the listing (null: no more rows). */
  list(f?: AuditFilter): Promise<{ entries: AuditRow[]; next_before_id: number | null }>;
}

const INSERT = "INSERT INTO audit_log (at, actor, actor_id, action, target, ip, detail) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id";

export function createAuditStore(sql: Sql): AuditStore {
  return {
    async record(e) {
      const detail = e.detail && Object.keys(e.detail).length ? JSON.stringify(e.detail) : null;
      const row = await sql.get<{ id: number }>(INSERT, [e.at ?? Date.now(), e.actor, e.actorId ?? null, e.action, e.target ?? null, e.ip ?? null, detail]);
      return row!.id;
    },
    async list(f = {}) {
      // Only the filters given are in the statement (their indexes serve them); values are always parameters.
      const where: string[] = [];
      const args: SqlValue[] = [];
      const add = (cond: string, v: string | number | undefined) => {
        if (v === undefined) return;
        where.push(cond);
        args.push(v);
      };
      add("action = ?", f.action);
      add("actor = ?", f.actor);
      add("target = ?", f.target);
      add("at >= ?", f.since);
      add("at < ?", f.until);
      add("id < ?", f.beforeId);
      const limit = Math.min(Math.max(f.limit ?? 100, 1), 500);
      const rows = await sql.all<Raw>(
        `SELECT id, at, actor, actor_id, action, target, ip, detail FROM audit_log ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT ?`,
        [...args, limit + 1],
      );
      const entries = rows.slice(0, limit).map((r) => ({ ...r, at: new Date(r.at).toISOString(), detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null }));
      return { entries, next_before_id: rows.length > limit ? entries[entries.length - 1]!.id : null };
    },
  };
}

/** Records into `sql` when it has the audit table (an older schema opened read-only does not), never throwing. */
export async function recordIfPossible(sql: Sql, e: AuditEvent): Promise<boolean> {
  try {
    await createAuditStore(sql).record(e);
    return true;
  } catch {
    return false;
  }
}
