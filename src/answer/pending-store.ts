import type { Lang } from "../i18n/texts";
import type { Sql } from "../storage/sql";

/**
 * Off-hours questions in the database (table from migrations.ts), so they survive a restart before opening
 * time. A batch runner claims a question before answering it (`claim`: one conditional UPDATE), so two
 * runners — two nodes of a cluster, or a run started by hand next to the scheduled one — answer each
 * question once; a claim older than the runner's time limit (its node died mid-answer) can be taken over.
 */

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

export interface PendingStore {
  add(q: { conversationId: string; question: string; lang: Lang; now: number }): Promise<PendingQuestion>;
  /** Oldest first; all statuses unless one is given; `afterId` pages through without OFFSET. */
  list(opts?: { status?: PendingStatus; afterId?: number; limit?: number; offset?: number }): Promise<PendingQuestion[]>;
  /** Id of the newest pending question, 0 when there is none. */
  lastPendingId(): Promise<number>;
  /** Questions not answered yet (claimed ones included: a claim is not an answer). */
  countPending(): Promise<number>;
  /**
   * Takes question `id` for runner `by` when it is still pending and unclaimed, or claimed before `staleBefore`
   * (unix ms: its runner is presumed dead). Resolves the question, or null when another runner has it or it is resolved.
   */
  claim(id: number, by: string, now: number, staleBefore: number): Promise<PendingQuestion | null>;
  /** Gives a claim back unresolved (the runner stops): the question is pending for the next run. */
  release(id: number, by: string): Promise<void>;
  /**
   * Resolves a pending question; with `by`, only while that runner holds its claim. False when nothing
   * changed (resolved already, or the claim was taken over).
   */
  resolve(id: number, status: Exclude<PendingStatus, "pending">, fields: { now: number; answer?: string; error?: string; by?: string }): Promise<boolean>;
  /** Deletes resolved questions older than `before` (unix ms); returns how many. */
  purgeResolved(before: number): Promise<number>;
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

const COLUMNS = "id, conversation_id, question, lang, status, created_at, resolved_at, answer, error";

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

const RESOLVE = "UPDATE answer_pending SET status = ?, resolved_at = ?, answer = ?, error = ?, claimed_by = NULL WHERE id = ? AND status = 'pending'";

export function createPendingStore(sql: Sql): PendingStore {
  return {
    async add(q) {
      const row = await sql.get<Row>(`INSERT INTO answer_pending (conversation_id, question, lang, created_at) VALUES (?, ?, ?, ?) RETURNING ${COLUMNS}`, [
        q.conversationId,
        q.question,
        q.lang,
        q.now,
      ]);
      return toQuestion(row!);
    },
    async list(opts = {}) {
      const args = [opts.afterId ?? 0, opts.limit ?? 100, opts.offset ?? 0];
      const rows = opts.status
        ? await sql.all<Row>(`SELECT ${COLUMNS} FROM answer_pending WHERE status = ? AND id > ? ORDER BY id LIMIT ? OFFSET ?`, [opts.status, ...args])
        : await sql.all<Row>(`SELECT ${COLUMNS} FROM answer_pending WHERE id > ? ORDER BY id LIMIT ? OFFSET ?`, args);
      return rows.map(toQuestion);
    },
    async lastPendingId() {
      return (await sql.get<{ id: number | null }>("SELECT MAX(id) AS id FROM answer_pending WHERE status = 'pending'"))?.id ?? 0;
    },
    async countPending() {
      return (await sql.get<{ n: number }>("SELECT COUNT(*) AS n FROM answer_pending WHERE status = 'pending'"))!.n;
    },
    async claim(id, by, now, staleBefore) {
      const row = await sql.get<Row>(
        `UPDATE answer_pending SET claimed_by = ?, claimed_at = ? WHERE id = ? AND status = 'pending' AND (claimed_by IS NULL OR claimed_at < ?) RETURNING ${COLUMNS}`,
        [by, now, id, staleBefore],
      );
      return row ? toQuestion(row) : null;
    },
    async release(id, by) {
      await sql.run("UPDATE answer_pending SET claimed_by = NULL, claimed_at = NULL WHERE id = ? AND status = 'pending' AND claimed_by = ?", [id, by]);
    },
    async resolve(id, status, fields) {
      const args = [status, fields.now, fields.answer ?? null, fields.error ?? null, id];
      const r = fields.by === undefined ? await sql.run(RESOLVE, args) : await sql.run(`${RESOLVE} AND claimed_by = ?`, [...args, fields.by]);
      return r.changes > 0;
    },
    async purgeResolved(before) {
      return (await sql.run("DELETE FROM answer_pending WHERE status != 'pending' AND resolved_at < ?", [before])).changes;
    },
  };
}
