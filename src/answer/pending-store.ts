import type { Database } from "bun:sqlite";
import type { Lang } from "../i18n/texts";

/** Off-hours questions in SQLite (table from migrations.ts), so they survive a restart before opening time. */

export type PendingStatus = "pending" | "answered" | "handed_off" | "failed";

export interface PendingQuestion {
  id: number;
  conversationId: string;
  question: string;
  lang: Lang;
  status: PendingStatus;
  /** Unix ms. */
  createdAt: number;
  resolvedAt: number | null;
  answer: string | null;
  error: string | null;
}

interface Row {
  id: number;
  conversation_id: string;
  question: string;
  lang: string;
  status: PendingStatus;
  created_at: number;
  resolved_at: number | null;
  answer: string | null;
  error: string | null;
}

const toQuestion = (r: Row): PendingQuestion => ({
  id: r.id,
  conversationId: r.conversation_id,
  question: r.question,
  lang: r.lang === "en" ? "en" : "zh",
  status: r.status,
  createdAt: r.created_at,
  resolvedAt: r.resolved_at,
  answer: r.answer,
  error: r.error,
});

export class PendingStore {
  constructor(private readonly db: Database) {}

  add(q: { conversationId: string; question: string; lang: Lang; now: number }): PendingQuestion {
    const row = this.db
      .query<Row, [string, string, string, number]>(
        "INSERT INTO answer_pending (conversation_id, question, lang, created_at) VALUES (?, ?, ?, ?) RETURNING *",
      )
      .get(q.conversationId, q.question, q.lang, q.now)!;
    return toQuestion(row);
  }

  /** Oldest first; all statuses unless one is given; `afterId` pages through without OFFSET. */
  list(opts: { status?: PendingStatus; afterId?: number; limit?: number; offset?: number } = {}): PendingQuestion[] {
    const where = opts.status ? "WHERE status = ? AND id > ?" : "WHERE ? IS NULL AND id > ?";
    return this.db
      .query<Row, [string | null, number, number, number]>(`SELECT * FROM answer_pending ${where} ORDER BY id LIMIT ? OFFSET ?`)
      .all(opts.status ?? null, opts.afterId ?? 0, opts.limit ?? 100, opts.offset ?? 0)
      .map(toQuestion);
  }

  /** Id of the newest pending question, 0 when there is none. */
  lastPendingId(): number {
    return this.db.query<{ id: number | null }, []>("SELECT MAX(id) AS id FROM answer_pending WHERE status = 'pending'").get()!.id ?? 0;
  }

  countPending(): number {
    return this.db.query<{ n: number }, []>("SELECT COUNT(*) AS n FROM answer_pending WHERE status = 'pending'").get()!.n;
  }

  resolve(id: number, status: Exclude<PendingStatus, "pending">, fields: { now: number; answer?: string; error?: string }) {
    this.db.run("UPDATE answer_pending SET status = ?, resolved_at = ?, answer = ?, error = ? WHERE id = ? AND status = 'pending'", [
      status,
      fields.now,
      fields.answer ?? null,
      fields.error ?? null,
      id,
    ]);
  }

  /** Deletes resolved questions older than `before` (unix ms); returns how many. */
  purgeResolved(before: number): number {
    return this.db.run("DELETE FROM answer_pending WHERE status != 'pending' AND resolved_at < ?", [before]).changes;
  }
}
