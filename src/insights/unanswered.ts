import { backgroundShare } from "../text/background";
import { canonicalizeQuestion } from "../text/canonical";
import { analyze, cjkGrams } from "../text/tokenize";
import type { Sql } from "../storage/sql";
import { chunked, inList, UNANSWERED_PATHS } from "./answer-log";
import { jsonText } from "./json-sql";

/**
 * What the bot could not answer: the answer log's rows with no direct answer (UNANSWERED_PATHS, a cache hit of a
 * model answer, and `choices` the visitor did not take — their next question in the conversation is no `choice`
 * row), neither resolved nor dismissed, grouped by similarity.
 *
 * Grouping, with bounded cost: the newest MAX_ROWS rows of the window are read; phrasings with the same
 * canonical form (src/text/canonical.ts: case, width, question words and particles folded; punctuation and
 * spacing dropped) are one phrasing; phrasings go, most frequent first, into the group whose first phrasing is
 * most similar, if at least SIMILAR, else they start a group. Similarity is a weighted token Jaccard over the
 * knowledge base's own terms (Latin words stemmed, CJK characters and bigrams — src/text/tokenize.ts), each term weighing
 * ln(1 + (phrasings + 30) / (phrasings containing it + 30 × its general share of questions)) — the general share
 * (src/text/background.ts) is the scorer's prior — so that what most questions share ("do you", "怎么") counts
 * little. Shared terms are summed through an inverted index: the work is the size of the postings, not
 * phrasings × groups.
 */

/** Rows examined at most (the newest of the window). */
export const MAX_ROWS = 5000;
/** Weighted token Jaccard at or above which a phrasing joins a group. */
export const SIMILAR = 0.55;
/** How many questions' worth the general share of a term (src/text/background.ts) counts as, next to the window's. */
const PRIOR = 30;
const CJK_TERM = /^[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
/** The scorer's typed feature of a term, for its general share. */
const featureOf = (t: string) => (CJK_TERM.test(t) ? (t.length === 1 ? `c${t}` : `b${t}`) : `w${t}`);

interface Row {
  id: number;
  conversation_id: string | null;
  question: string;
  path: string;
  created_at: number;
  reply_text: string | null;
  reply_agent: string | null;
  reply_at: number | null;
}

export interface AgentReply {
  text: string;
  agent: string;
  at: string;
}

export interface UnansweredGroup {
  key: string;
  question: string;
  count: number;
  log_ids: number[];
  phrasings: { text: string; count: number }[];
  paths: Record<string, number>;
  last_at: string;
  agent_reply: AgentReply | null;
  conversation_ids: string[];
}

const NO_DIRECT = `(a.path IN (${UNANSWERED_PATHS.map((p) => `'${p}'`).join(", ")}) OR (a.path = 'cache' AND a.step = 'llm'))`;
/** A `choices` row whose next question in the conversation picked one of them (the visitor took the offer). */
const CHOICE_TAKEN = `(a.path = 'choices' AND COALESCE((SELECT n.path FROM insights_answers n
    WHERE n.conversation_id = a.conversation_id AND n.visitor_seq > a.visitor_seq ORDER BY n.visitor_seq LIMIT 1), '') = 'choice')`;
/** Joins `m`: the first agent message after the question in its conversation. */
const AGENT_REPLY = `LEFT JOIN chat_messages m ON m.conversation_id = a.conversation_id AND m.seq = (SELECT min(x.seq) FROM chat_messages x
    WHERE x.conversation_id = a.conversation_id AND x.seq > a.visitor_seq AND x.sender = 'agent' AND x.kind = 'text')`;

/** The identity of a phrasing: canonical form (src/text/canonical.ts) without punctuation and spacing. */
export function phrasingKey(text: string): string {
  return canonicalizeQuestion(text).replace(/[\p{P}\p{S}\s]+/gu, "") || text;
}

/**
 * Terms compared for similarity: stemmed words, and CJK characters and bigrams. The characters matter for short
 * Chinese questions, whose bigrams across word boundaries ("能停", "以停") are mostly noise: with bigrams alone
 * "店里能停车吗" and "可以停车吗" shared too little to meet.
 */
export function similarityTerms(text: string): Set<string> {
  const { words, cjkRuns } = analyze(text);
  const out = new Set(words);
  for (const run of cjkRuns) {
    const { unigrams, bigrams } = cjkGrams(run);
    for (const t of unigrams) out.add(t);
    for (const t of bigrams) out.add(t);
  }
  return out;
}

/** The rows a query examines (also what resolve/dismiss check ids against): unresolved, without a direct answer. */
function candidateRows(sql: Sql, since: number, limit: number, source?: "chat" | "api"): Promise<Row[]> {
  return sql.all<Row>(
    `SELECT a.id, a.conversation_id, a.question, a.path, a.created_at, m.text AS reply_text,
       COALESCE(${jsonText(sql, "m.meta", "agent", "name")}, '#' || m.agent_id) AS reply_agent, m.created_at AS reply_at
     FROM insights_answers a ${AGENT_REPLY}
     WHERE a.created_at >= ?1 ${source ? "AND a.source = ?3" : ""} AND a.resolved IS NULL AND ${NO_DIRECT} AND NOT ${CHOICE_TAKEN}
     ORDER BY a.id DESC LIMIT ?2`,
    source ? [since, limit, source] : [since, limit],
  );
}

interface Phrasing {
  canon: string;
  /** The newest original writing. */
  text: string;
  terms: Set<string>;
  rows: Row[];
}

interface Building {
  first: Phrasing;
  phrasings: Phrasing[];
}

/** Groups of similar unanswered questions asked since `since` (Unix ms), largest first; `source`: only chat or /api/ask. */
export async function unansweredGroups(sql: Sql, opts: { since: number; limit?: number; source?: "chat" | "api" }): Promise<UnansweredGroup[]> {
  const rows = await candidateRows(sql, opts.since, MAX_ROWS, opts.source);

  // Rows come newest first: a phrasing's text is its newest writing.
  const byCanon = new Map<string, Phrasing>();
  for (const r of rows) {
    const text = r.question.replace(/\s*\n\s*/g, " ").trim();
    const canon = phrasingKey(text);
    let p = byCanon.get(canon);
    if (!p) byCanon.set(canon, (p = { canon, text, terms: similarityTerms(text), rows: [] }));
    p.rows.push(r);
  }

  const phrasings = [...byCanon.values()].sort((a, b) => b.rows.length - a.rows.length || b.rows[0]!.id - a.rows[0]!.id);
  // Terms most questions share ("do you", "怎么") weigh little: an IDF over the phrasings, with the general
  // share of questions containing the term as a prior worth PRIOR questions (as the knowledge base's scorer does).
  const df = new Map<string, number>();
  for (const p of phrasings) for (const t of p.terms) df.set(t, (df.get(t) ?? 0) + 1);
  const weights = new Map<string, number>();
  const weight = (t: string) => {
    let w = weights.get(t);
    if (w === undefined) weights.set(t, (w = Math.log(1 + (phrasings.length + PRIOR) / (df.get(t)! + PRIOR * backgroundShare(featureOf(t))))));
    return w;
  };
  const mass = (terms: Set<string>) => [...terms].reduce((n, t) => n + weight(t), 0);
  const groups: (Building & { mass: number })[] = [];
  const postings = new Map<string, number[]>();
  for (const p of phrasings) {
    const shared = new Map<number, number>();
    for (const t of p.terms) {
      const w = weight(t);
      for (const g of postings.get(t) ?? []) shared.set(g, (shared.get(g) ?? 0) + w);
    }
    const own = mass(p.terms);
    let best = -1;
    let bestScore = 0;
    for (const [g, n] of shared) {
      const score = n / (own + groups[g]!.mass - n);
      if (score >= SIMILAR && (score > bestScore || (score === bestScore && g < best))) {
        best = g;
        bestScore = score;
      }
    }
    if (best >= 0) {
      groups[best]!.phrasings.push(p);
      continue;
    }
    const g = groups.push({ first: p, phrasings: [p], mass: own }) - 1;
    for (const t of p.terms) {
      const list = postings.get(t);
      if (list) list.push(g);
      else postings.set(t, [g]);
    }
  }

  return groups
    .map(toGroup)
    .sort((a, b) => b.count - a.count || b.last_at.localeCompare(a.last_at))
    .slice(0, opts.limit ?? 200);
}

function toGroup(g: Building): UnansweredGroup {
  const rows = g.phrasings.flatMap((p) => p.rows).sort((a, b) => b.id - a.id);
  const paths: Record<string, number> = {};
  for (const r of rows) paths[r.path] = (paths[r.path] ?? 0) + 1;
  const replied = rows.find((r) => r.reply_text !== null);
  return {
    key: `g-${Bun.hash(g.first.canon).toString(16).padStart(16, "0")}`,
    question: g.first.text,
    count: rows.length,
    log_ids: rows.map((r) => r.id),
    phrasings: g.phrasings.map((p) => ({ text: p.text, count: p.rows.length })),
    paths,
    last_at: new Date(rows[0]!.created_at).toISOString(),
    agent_reply: replied ? { text: replied.reply_text!, agent: replied.reply_agent ?? "", at: new Date(replied.reply_at!).toISOString() } : null,
    conversation_ids: [...new Set(rows.flatMap((r) => (r.conversation_id ? [r.conversation_id] : [])))],
  };
}

/** The newest agent reply to any of these rows' questions (the draft answer of a new entry), or null. */
export async function agentReplyOf(sql: Sql, ids: number[]): Promise<string | null> {
  let best: { id: number; text: string } | null = null;
  for (const part of chunked([...new Set(ids)])) {
    const r = await sql.get<{ id: number; text: string }>(
      `SELECT a.id, m.text FROM insights_answers a ${AGENT_REPLY}
       WHERE a.id IN (${inList(part.length)}) AND m.text IS NOT NULL ORDER BY a.id DESC LIMIT 1`,
      part,
    );
    if (r && (!best || r.id > best.id)) best = r;
  }
  return best?.text ?? null;
}

/** The distinct questions of rows (newest writing first, lines joined): the alternative phrasings of an entry. */
export function phrasingsOf(questions: string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const q of questions) {
    const text = q.replace(/\s*\n\s*/g, " ").trim();
    const canon = phrasingKey(text);
    if (!text || seen.has(canon)) continue;
    seen.add(canon);
    out.push(text);
  }
  return out;
}
