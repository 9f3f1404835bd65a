import type { Sql } from "../storage/sql";

/**
 * One visitor's data, on request (GDPR / PIPL access and erasure). The visitor row, its device tokens,
 * its conversations with their messages, notes, tags, rating and answer-log rows (foreign keys cascade), and its
 * off-hours questions (answer_pending has no foreign key: deleted by conversation id). Nothing of any
 * other visitor is touched. A visitor connected at that moment keeps its socket until it reconnects,
 * and is then a new visitor with an empty history.
 */
export interface Erased {
  visitor: string;
  conversations: number;
  messages: number;
  notes: number;
  tokens: number;
  pending_questions: number;
  /** Rows of the answer log (src/insights) about the visitor's questions. */
  answer_log: number;
}

const count = async (sql: Sql, text: string, id: string) => (await sql.get<{ n: number }>(text, [id]))!.n;

const CONVS = "SELECT id FROM chat_conversations WHERE visitor_id = ?1";

export function eraseVisitor(sql: Sql, visitorId: string): Promise<Erased | null> {
  return sql.transaction(async () => {
    if (!(await sql.get("SELECT 1 AS x FROM chat_visitors WHERE id = ?", [visitorId]))) return null;
    const erased: Erased = {
      visitor: visitorId,
      conversations: await count(sql, "SELECT count(*) AS n FROM chat_conversations WHERE visitor_id = ?1", visitorId),
      messages: await count(sql, `SELECT count(*) AS n FROM chat_messages WHERE conversation_id IN (${CONVS})`, visitorId),
      notes: await count(sql, `SELECT count(*) AS n FROM chat_notes WHERE conversation_id IN (${CONVS})`, visitorId),
      tokens: await count(sql, "SELECT count(*) AS n FROM chat_visitor_tokens WHERE visitor_id = ?1", visitorId),
      pending_questions: await count(sql, `SELECT count(*) AS n FROM answer_pending WHERE conversation_id IN (${CONVS})`, visitorId),
      answer_log: await count(sql, `SELECT count(*) AS n FROM insights_answers WHERE conversation_id IN (${CONVS})`, visitorId),
    };
    await sql.run(`DELETE FROM answer_pending WHERE conversation_id IN (${CONVS})`, [visitorId]);
    // Explicit deletes, not only the cascades: they hold even on a connection without foreign_keys on.
    await sql.run(`DELETE FROM chat_messages WHERE conversation_id IN (${CONVS})`, [visitorId]);
    await sql.run(`DELETE FROM insights_answers WHERE conversation_id IN (${CONVS})`, [visitorId]);
    await sql.run(`DELETE FROM chat_notes WHERE conversation_id IN (${CONVS})`, [visitorId]);
    await sql.run("DELETE FROM chat_conversations WHERE visitor_id = ?", [visitorId]);
    await sql.run("DELETE FROM chat_visitor_tokens WHERE visitor_id = ?", [visitorId]);
    await sql.run("DELETE FROM chat_visitors WHERE id = ?", [visitorId]);
    return erased;
  });
}

const json = (text: string | null) => (text ? (JSON.parse(text) as unknown) : null);

/** Everything stored about one visitor, for a data-access request (no token hashes). */
export async function exportVisitor(sql: Sql, visitorId: string) {
  const v = await sql.get<{ id: string; lang: string; name: string | null; email: string | null; external_id: string | null; verified: number; created_at: number; last_seen_at: number }>(
    "SELECT id, lang, name, email, external_id, verified, created_at, last_seen_at FROM chat_visitors WHERE id = ?",
    [visitorId],
  );
  if (!v) return null;
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  type Conv = { id: string; state: string; lang: string; created_at: number; updated_at: number; closed_at: number | null; tags: string; context: string | null; rating_score: number | null; rating_comment: string | null };
  const convs = await sql.all<Conv>(
    "SELECT id, state, lang, created_at, updated_at, closed_at, tags, context, rating_score, rating_comment FROM chat_conversations WHERE visitor_id = ? ORDER BY created_at",
    [visitorId],
  );
  const conversations = [];
  for (const c of convs) {
    const messages = await sql.all<{ seq: number; kind: string; sender: string; text: string; created_at: number }>(
      "SELECT seq, kind, sender, text, created_at FROM chat_messages WHERE conversation_id = ? ORDER BY seq",
      [c.id],
    );
    const notes = await sql.all<{ agent_id: number; text: string; created_at: number }>("SELECT agent_id, text, created_at FROM chat_notes WHERE conversation_id = ? ORDER BY id", [c.id]);
    const pending = await sql.all<{ question: string; status: string; created_at: number; answer: string | null }>(
      "SELECT question, status, created_at, answer FROM answer_pending WHERE conversation_id = ? ORDER BY id",
      [c.id],
    );
    conversations.push({
      id: c.id,
      state: c.state,
      lang: c.lang,
      created_at: iso(c.created_at),
      updated_at: iso(c.updated_at),
      closed_at: iso(c.closed_at),
      tags: json(c.tags),
      context: json(c.context),
      rating: c.rating_score === null ? null : { score: c.rating_score, comment: c.rating_comment },
      messages: messages.map((m) => ({ ...m, created_at: iso(m.created_at) })),
      notes: notes.map((n) => ({ ...n, created_at: iso(n.created_at) })),
      offline_questions: pending.map((p) => ({ ...p, created_at: iso(p.created_at) })),
    });
  }
  return { visitor: { ...v, verified: v.verified === 1, created_at: iso(v.created_at), last_seen_at: iso(v.last_seen_at) }, conversations };
}

/** Visitors matching an id, verified user id, e-mail (case-insensitive) or name exactly (what an erasure request names). */
export async function findVisitors(sql: Sql, q: string, limit = 20) {
  const email = sql.dialect === "postgres" ? "lower(email) = lower(?1)" : "email = ?1 COLLATE NOCASE";
  const rows = await sql.all<{ id: string; name: string | null; email: string | null; external_id: string | null; verified: number; last_seen_at: number }>(
    `SELECT id, name, email, external_id, verified, last_seen_at FROM chat_visitors WHERE id = ?1 OR external_id = ?1 OR ${email} OR name = ?1 ORDER BY last_seen_at DESC LIMIT ?2`,
    [q, limit],
  );
  return rows.map((v) => ({ ...v, verified: v.verified === 1, last_seen_at: new Date(v.last_seen_at).toISOString() }));
}
