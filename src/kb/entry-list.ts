/**
 * Entries as the admin API shows them (snake_case, ISO times, with hit counts) and the admin list: search,
 * filters, sorting by hits / last hit / update / question, tag counts.
 *
 * Hits come from the answer log (`insights_answers`, src/insights): the visitor questions answered verbatim with
 * the entry — directly, by a picked "did you mean" choice, or from the cache of a direct answer. Before that table
 * exists (an older database, a test without it) every entry has 0 hits and no last hit.
 */
import type { Database } from "bun:sqlite";
import { type EntryRow, toEntry } from "./engine.ts";
import { HIT_WHERE } from "../insights/answer-log.ts";
import type { KbEntry } from "./types.ts";
import type { EntrySort } from "./schemas.ts";

/** The wire shape of an entry (docs/api.md, "Knowledge base"). */
export interface EntryView {
  id: string;
  question: string;
  alt_questions: string[];
  answer: string;
  tags: string[];
  enabled: boolean;
  /** Entries never come from a document today (documents are chunks of their own): always null. */
  document_id: string | null;
  created_at: string;
  updated_at: string;
  hits: number;
  last_hit_at: string | null;
}

export interface Hits {
  hits: number;
  last_hit_at: number | null;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function entryView(e: KbEntry, h?: Hits): EntryView {
  return {
    id: e.id,
    question: e.question,
    alt_questions: e.alts,
    answer: e.answer,
    tags: e.tags,
    enabled: e.enabled,
    document_id: null,
    created_at: iso(e.createdAt),
    updated_at: iso(e.updatedAt),
    hits: h?.hits ?? 0,
    last_hit_at: h?.last_hit_at ? iso(h.last_hit_at) : null,
  };
}

const HITS_BY_ENTRY = `SELECT entry_id, count(*) AS hits, max(created_at) AS last_hit FROM insights_answers WHERE entry_id IS NOT NULL AND ${HIT_WHERE}`;

function hasAnswerLog(db: Database): boolean {
  return db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'insights_answers'").get() !== null;
}

/** Hits of the given entries (entries without any are left out). */
export function entryHits(db: Database, ids: string[]): Map<string, Hits> {
  const out = new Map<string, Hits>();
  if (!ids.length || !hasAnswerLog(db)) return out;
  for (let i = 0; i < ids.length; i += 500) {
    const part = ids.slice(i, i + 500);
    const rows = db
      .query<{ entry_id: string; hits: number; last_hit: number }, string[]>(`${HITS_BY_ENTRY} AND entry_id IN (${part.map(() => "?").join(",")}) GROUP BY entry_id`)
      .all(...part);
    for (const r of rows) out.set(r.entry_id, { hits: r.hits, last_hit_at: r.last_hit });
  }
  return out;
}

export interface ListOptions {
  offset?: number;
  limit?: number;
  /** Substring of the id, question, an alternative or the answer (case-insensitive). */
  q?: string;
  tag?: string;
  enabled?: boolean;
  sort?: EntrySort;
  /** Default: ascending for `question`, descending for the others (most hits, latest first). */
  order?: "asc" | "desc";
}

type Row = EntryRow & { hits: number | null; last_hit: number | null };

export function listEntries(db: Database, o: ListOptions = {}): { total: number; entries: EntryView[] } {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (o.tag) {
    where.push("EXISTS (SELECT 1 FROM json_each(e.tags) WHERE value = ?)");
    args.push(o.tag);
  }
  if (o.q) {
    where.push("(instr(lower(e.question), lower(?)) > 0 OR instr(lower(e.alts), lower(?)) > 0 OR instr(lower(e.answer), lower(?)) > 0 OR e.id = ?)");
    args.push(o.q, o.q, o.q, o.q);
  }
  if (o.enabled !== undefined) {
    where.push("e.enabled = ?");
    args.push(o.enabled ? 1 : 0);
  }
  const w = where.length ? `WHERE ${where.join(" AND ")}` : "";
  const total = (db.query(`SELECT count(*) AS n FROM kb_entries e ${w}`).get(...args) as { n: number }).n;

  const sort = o.sort ?? "updated";
  const dir = (o.order ?? (sort === "question" ? "asc" : "desc")) === "asc" ? "ASC" : "DESC";
  const joinHits = (sort === "hits" || sort === "last_hit") && hasAnswerLog(db);
  const orderBy = {
    updated: `e.updated_at ${dir}, e.rowid ${dir}`,
    question: `e.question COLLATE NOCASE ${dir}, e.rowid ${dir}`,
    hits: joinHits ? `coalesce(h.hits, 0) ${dir}, h.last_hit ${dir}, e.rowid ${dir}` : `e.rowid ${dir}`,
    // Never hit: last, whichever the direction.
    last_hit: joinHits ? `h.last_hit IS NULL, h.last_hit ${dir}, e.rowid ${dir}` : `e.rowid ${dir}`,
  }[sort];
  const select = joinHits
    ? `SELECT e.*, h.hits AS hits, h.last_hit AS last_hit FROM kb_entries e LEFT JOIN (${HITS_BY_ENTRY} GROUP BY entry_id) h ON h.entry_id = e.id`
    : "SELECT e.*, NULL AS hits, NULL AS last_hit FROM kb_entries e";
  const rows = db.query(`${select} ${w} ORDER BY ${orderBy} LIMIT ? OFFSET ?`).all(...args, o.limit ?? 50, o.offset ?? 0) as Row[];
  const hits = joinHits ? null : entryHits(db, rows.map((r) => r.id));
  return {
    total,
    entries: rows.map((r) =>
      entryView(toEntry(r), hits ? hits.get(r.id) : { hits: r.hits ?? 0, last_hit_at: r.last_hit }),
    ),
  };
}

/** Every tag with the number of entries carrying it, most used first. */
export function tagCounts(db: Database): { tag: string; count: number }[] {
  return db
    .query("SELECT t.value AS tag, count(*) AS count FROM kb_entries e, json_each(e.tags) t GROUP BY t.value ORDER BY count DESC, t.value")
    .all() as { tag: string; count: number }[];
}
