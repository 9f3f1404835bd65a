import type { AnsweredQuestion } from "../chat/bot";
import type { Logger } from "../log/logger";
import type { Sql } from "../storage/sql";

/**
 * The answer log (table insights_answers): one row per answered visitor question, written by the chat in the
 * transaction that stores the reply (one prepared INSERT, no fsync of its own) and by POST /api/ask.
 *
 * A question is the visitor's messages since the previous reply, answered together (the chat joins them with
 * newlines). Its row says how it was answered — `path`: cache | direct | choices | choice | llm | local | plugin |
 * fallback | pending | busy | human — with the entry answered verbatim or the top entry, its confidence and the
 * latency. `human` rows: an agent replied to visitor messages that no bot reply had answered (the conversation
 * was with the agent, or the bot stayed silent); a question the bot already answered keeps its bot row, and
 * the agent's reply to it is found by the queries (the first agent message after it).
 */

export interface AnswerRow {
  id: number;
  source: "chat" | "api";
  conversation_id: string | null;
  visitor_seq: number | null;
  reply_seq: number | null;
  question: string;
  path: string;
  step: string | null;
  entry_id: string | null;
  confidence: number;
  latency_ms: number;
  resolved: string | null;
  created_at: number;
}

/** Every path a row can have, in the order the dashboard lists them. */
export const ANSWER_PATHS = ["cache", "direct", "choice", "choices", "llm", "local", "plugin", "pending", "human", "busy", "fallback"] as const;

/**
 * Paths that are no direct answer (the Unanswered list): the knowledge base did not answer verbatim. A cache hit
 * counts as what made the cached answer (step `llm`: a model answer). `choices` rows the visitor then resolved
 * by picking an offered entry (their next question's row is `choice`) are left out by the query.
 */
export const UNANSWERED_PATHS = ["fallback", "llm", "local", "choices", "pending", "busy", "human"] as const;

/**
 * Rows that count as a hit of their entry (answered with it verbatim): direct, a picked choice, a cached direct answer.
 * The partial index insights_answers_hits (migration insights-002) repeats this condition word for word: change both.
 */
export const HIT_WHERE = "(path IN ('direct', 'choice') OR (path = 'cache' AND step = 'direct'))";

/** The answer log's store. */
export interface AnswerLog {
  /**
   * One row (inside the caller's transaction or `sql.batch` job when there is one: the chat awaits it in the
   * reply's group commit). Never rejects: a failure is logged and counted.
   */
  record(a: AnsweredQuestion, at?: number): Promise<void>;
  /** Rows not written since start. */
  readonly failures: number;
  byIds(ids: number[]): Promise<AnswerRow[]>;
  /** Marks rows resolved (`entry:<id>` or `dismissed`); returns how many changed. */
  resolve(ids: number[], resolved: string): Promise<number>;
}

const INSERT = `INSERT INTO insights_answers (source, conversation_id, visitor_seq, reply_seq, question, path, step, entry_id, confidence, latency_ms, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
const COLUMNS = "id, source, conversation_id, visitor_seq, reply_seq, question, path, step, entry_id, confidence, latency_ms, resolved, created_at";
/** Ids per statement: a few fixed list lengths, so a handful of statement texts serve every call. */
const CHUNKS = [1, 8, 64, 500];

/** `ids` in runs of a fixed size (the last padded by repeating its first id: IN ignores duplicates). */
export function chunked(ids: number[]): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < ids.length; ) {
    const left = ids.length - i;
    const size = CHUNKS.find((n) => n >= left) ?? CHUNKS.at(-1)!;
    const part = ids.slice(i, i + size);
    while (part.length < size) part.push(part[0]!);
    out.push(part);
    i += size;
  }
  return out;
}
export const inList = (n: number) => Array.from({ length: n }, () => "?").join(",");

export function createAnswerLog(sql: Sql, log?: Logger): AnswerLog {
  let failures = 0;

  return {
    async record(a, at = Date.now()) {
      try {
        await sql.run(INSERT, [
          a.source,
          a.conversationId,
          a.visitorSeq,
          a.replySeq,
          a.question.slice(0, 4000),
          a.path,
          a.step ?? null,
          a.entryId ?? null,
          Number.isFinite(a.confidence) ? a.confidence : 0,
          Math.max(0, Math.round(a.latencyMs)),
          at,
        ]);
      } catch (err) {
        if (failures++ % 1000 === 0) log?.warn("answer log row not written", { err, failures });
      }
    },
    get failures() {
      return failures;
    },
    async byIds(ids) {
      const rows: AnswerRow[] = [];
      for (const part of chunked([...new Set(ids)])) rows.push(...(await sql.all<AnswerRow>(`SELECT ${COLUMNS} FROM insights_answers WHERE id IN (${inList(part.length)})`, part)));
      return rows.sort((a, b) => a.id - b.id);
    },
    async resolve(ids, resolved) {
      let n = 0;
      await sql.transaction(async () => {
        for (const part of chunked([...new Set(ids)])) n += (await sql.run(`UPDATE insights_answers SET resolved = ? WHERE id IN (${inList(part.length)})`, [resolved, ...part])).changes;
      });
      return n;
    },
  };
}
