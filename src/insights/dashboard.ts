import { reasonGroup } from "../chat/service";
import type { Sql, SqlValue } from "../storage/sql";
import { ANSWER_PATHS } from "./answer-log";
import { jsonText } from "./json-sql";
import { unansweredGroups } from "./unanswered";

/**
 * The dashboard's figures for the last `days` days (docs/api.md, "Dashboard"), all from SQL over
 * chat_conversations, chat_messages and insights_answers. Days are calendar days in `timezone` (the
 * [hours] time zone), at its UTC offset of now; the window runs from the start of the oldest day to now.
 *
 * The conversations counted are those created in the window with at least one visitor message (a hello
 * alone stores nothing). Human involvement: the conversation was ever queued for or owned by an agent
 * (a state row to queued/agent), or an agent wrote in it.
 *
 * - auto_resolution: one row per conversation. Denominator: conversations of the window whose last activity
 *   is at least a day old (closed, or idle for 24 h: younger ones may still go on). Resolved: no human
 *   involvement, and the same visitor started no other conversation within a day after its last activity.
 * - handoff: the window's conversations handed to a human; reason = the first queued/agent state row's
 *   reason, grouped as the chat counts handoffs (keyword, visitor, misses, plugin, bot, off_hours), or
 *   `claim` when an agent took the conversation straight from the bot.
 * - answers_by_path / latency_ms: answer-log rows of the window (chat and /api/ask); latency percentiles
 *   (nearest rank) over the newest LATENCY_SAMPLE of them.
 * - csat: ratings of the window's conversations (1–5).
 */

const DAY = 86_400_000;
/** Answer-log rows at most read for the latency percentiles (the newest of the window). */
export const LATENCY_SAMPLE = 100_000;

export interface Dashboard {
  from: string;
  to: string;
  timezone: string;
  days: { date: string; conversations: number; messages: number }[];
  answers_by_path: Record<string, number>;
  auto_resolution: { rate: number; resolved: number; total: number };
  handoff: { rate: number; total: number; conversations: number; reasons: Record<string, number> };
  latency_ms: Record<string, { p50: number; p95: number; count: number }>;
  csat: { average: number | null; count: number; scores: Record<string, number> };
  top_unanswered: { question: string; count: number }[];
}

/** Local wall time minus UTC, in ms, in `timeZone` at instant `t`. */
export function utcOffset(timeZone: string, t: number): number {
  const parts = new Intl.DateTimeFormat("en-US", { timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
    .formatToParts(new Date(t))
    .reduce<Record<string, number>>((o, p) => (p.type === "literal" ? o : { ...o, [p.type]: Number(p.value) }), {});
  const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
  return wall - Math.floor(t / 1000) * 1000;
}

const ratio = (n: number, d: number) => (d > 0 ? Math.round((n / d) * 10_000) / 10_000 : 0);

/** Nearest-rank percentile of ascending values. */
function percentile(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

export async function dashboard(sql: Sql, opts: { days: number; timezone: string; now?: number }): Promise<Dashboard> {
  const now = opts.now ?? Date.now();
  const off = utcOffset(opts.timezone, now);
  const today = Math.floor((now + off) / DAY);
  const firstDay = today - opts.days + 1;
  const from = firstDay * DAY - off;
  const num = <T>(text: string, ...args: SqlValue[]) => sql.all<T>(text, args);

  // Conversations created in the window have updated_at >= from too: the prefix of its index bounds the scan.
  const inWindow = "c.updated_at >= ?1 AND c.created_at >= ?1 AND c.created_at <= ?2";
  const perDay = new Map<number, { conversations: number; messages: number }>();
  for (let d = firstDay; d <= today; d++) perDay.set(d, { conversations: 0, messages: 0 });
  for (const r of await num<{ d: number; n: number }>(`SELECT (c.created_at + ?3) / ${DAY} AS d, count(*) AS n FROM chat_conversations c WHERE ${inWindow} GROUP BY d`, from, now, off)) {
    const day = perDay.get(r.d);
    if (day) day.conversations = r.n;
  }
  // Every message of the window is in a conversation active since `from`.
  for (const r of await num<{ d: number; n: number }>(
    `SELECT (m.created_at + ?3) / ${DAY} AS d, count(*) AS n FROM chat_conversations c JOIN chat_messages m ON m.conversation_id = c.id
     WHERE c.updated_at >= ?1 AND m.created_at >= ?1 AND m.created_at <= ?2 AND m.kind = 'text' GROUP BY d`,
    from,
    now,
    off,
  )) {
    const day = perDay.get(r.d);
    if (day) day.messages = r.n;
  }

  const answersByPath: Record<string, number> = Object.fromEntries(ANSWER_PATHS.map((p) => [p, 0]));
  for (const r of await num<{ path: string; n: number }>("SELECT path, count(*) AS n FROM insights_answers WHERE created_at >= ?1 AND created_at <= ?2 GROUP BY path", from, now)) {
    answersByPath[r.path] = r.n;
  }

  const byPath = new Map<string, number[]>();
  for (const r of await num<{ path: string; ms: number }>(
    "SELECT path, latency_ms AS ms FROM insights_answers WHERE created_at >= ?1 AND created_at <= ?2 ORDER BY created_at DESC LIMIT ?3",
    from,
    now,
    LATENCY_SAMPLE,
  )) {
    const list = byPath.get(r.path);
    if (list) list.push(r.ms);
    else byPath.set(r.path, [r.ms]);
  }
  const latency: Dashboard["latency_ms"] = {};
  for (const [path, values] of byPath) {
    values.sort((a, b) => a - b);
    latency[path] = { p50: percentile(values, 0.5), p95: percentile(values, 0.95), count: values.length };
  }

  const state = jsonText(sql, "m.meta", "state");
  const human = `EXISTS (SELECT 1 FROM chat_messages m WHERE m.conversation_id = c.id
    AND ((m.kind = 'state' AND ${state} IN ('queued', 'agent')) OR m.sender = 'agent'))`;
  const continued = `EXISTS (SELECT 1 FROM chat_conversations n WHERE n.visitor_id = c.visitor_id AND n.id != c.id
    AND n.created_at >= c.updated_at AND n.created_at < c.updated_at + ${DAY})`;
  // count(*) FILTER: a count on both dialects (PostgreSQL cannot sum booleans).
  const auto = (await num<{ total: number; resolved: number | null }>(
    `SELECT count(*) AS total, count(*) FILTER (WHERE NOT ${human} AND NOT ${continued}) AS resolved FROM chat_conversations c
     WHERE ${inWindow} AND c.last_visitor_seq > 0 AND c.updated_at <= ?2 - ${DAY}`,
    from,
    now,
  ))[0]!;

  const firstHuman = `(SELECT ${state} || ' ' || COALESCE(${jsonText(sql, "m.meta", "reason")}, '') FROM chat_messages m
    WHERE m.conversation_id = c.id AND m.kind = 'state' AND ${state} IN ('queued', 'agent') ORDER BY m.seq LIMIT 1)`;
  let asked = 0;
  let handed = 0;
  const reasons: Record<string, number> = {};
  for (const r of await num<{ first: string | null; n: number }>(
    `SELECT ${firstHuman} AS first, count(*) AS n FROM chat_conversations c WHERE ${inWindow} AND c.last_visitor_seq > 0 GROUP BY first`,
    from,
    now,
  )) {
    asked += r.n;
    if (r.first === null) continue;
    handed += r.n;
    const [state, reason = ""] = r.first.split(" ");
    const group = state === "agent" ? "claim" : reasonGroup(reason);
    reasons[group] = (reasons[group] ?? 0) + r.n;
  }

  const scores: Record<string, number> = {};
  let rated = 0;
  let sum = 0;
  for (const r of await num<{ score: number; n: number }>(
    `SELECT c.rating_score AS score, count(*) AS n FROM chat_conversations c WHERE ${inWindow} AND c.rating_score IS NOT NULL GROUP BY score`,
    from,
    now,
  )) {
    scores[String(r.score)] = r.n;
    rated += r.n;
    sum += r.score * r.n;
  }

  return {
    from: new Date(from).toISOString(),
    to: new Date(now).toISOString(),
    timezone: opts.timezone,
    days: [...perDay].map(([d, v]) => ({ date: new Date(d * DAY).toISOString().slice(0, 10), ...v })),
    answers_by_path: answersByPath,
    auto_resolution: { rate: ratio(auto.resolved ?? 0, auto.total), resolved: auto.resolved ?? 0, total: auto.total },
    handoff: { rate: ratio(handed, asked), total: handed, conversations: asked, reasons },
    latency_ms: latency,
    csat: { average: rated ? Math.round((sum / rated) * 100) / 100 : null, count: rated, scores },
    top_unanswered: (await unansweredGroups(sql, { since: from, limit: 10 })).map((g) => ({ question: g.question, count: g.count })),
  };
}
