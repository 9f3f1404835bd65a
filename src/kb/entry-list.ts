/**
 * Entries as the admin API shows them (snake_case, ISO times, with hit counts) and the admin list: search,
 * filters, sorting by hits / last hit / update / question, tag counts.
 *
 * Hits come from the answer log (`insights_answers`, src/insights): the visitor questions answered verbatim with
 * the entry — directly, by a picked "did you mean" choice, or from the cache of a direct answer. Before that table
 * exists (an older database, a test without it) every entry has 0 hits and no last hit. In a cluster the answer log
 * is in the shared store (PostgreSQL), not in the node's SQLite file that holds its copy of the entries: the
 * `…Shared` functions read the hits from there (the node's own insights_answers is empty, or frozen at what a
 * migrated install had).
 */
import type { Database } from "bun:sqlite";
import { type EntryRow, toEntry } from "./engine.ts";
import { HIT_WHERE, inList } from "../insights/answer-log.ts";
import type { Sql } from "../storage/sql.ts";
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

/** The answer log is somewhere else than the entries: the cluster's shared store. */
const elsewhere = (sql: Sql | undefined): sql is Sql => sql !== undefined && sql.dialect !== "sqlite";

/** entryHits, from the shared store in a cluster. */
export async function entryHitsShared(db: Database, sql: Sql | undefined, ids: string[]): Promise<Map<string, Hits>> {
  if (!elsewhere(sql)) return entryHits(db, ids);
  const out = new Map<string, Hits>();
  for (let i = 0; i < ids.length; i += 500) {
    const part = ids.slice(i, i + 500);
    const rows = await sql.all<{ entry_id: string; hits: number; last_hit: number }>(`${HITS_BY_ENTRY} AND entry_id IN (${inList(part.length)}) GROUP BY entry_id`, part);
    for (const r of rows) out.set(r.entry_id, { hits: r.hits, last_hit_at: r.last_hit });
  }
  return out;
}

/** listEntries, with the hits (and the hits / last-hit order) from the shared store in a cluster. */
export async function listEntriesShared(db: Database, sql: Sql | undefined, o: ListOptions = {}): Promise<{ total: number; entries: EntryView[] }> {
  if (!elsewhere(sql)) return listEntries(db, o);
  const sort = o.sort ?? "updated";
  if (sort !== "hits" && sort !== "last_hit") {
    const page = listEntries(db, o, { noHits: true });
    const hits = await entryHitsShared(db, sql, page.entries.map((e) => e.id));
    return { total: page.total, entries: page.entries.map((e) => ({ ...e, hits: hits.get(e.id)?.hits ?? 0, last_hit_at: hits.get(e.id)?.last_hit_at ? iso(hits.get(e.id)!.last_hit_at!) : null })) };
  }
  const all = new Map((await sql.all<{ entry_id: string; hits: number; last_hit: number }>(`${HITS_BY_ENTRY} GROUP BY entry_id`)).map((r) => [r.entry_id, { hits: r.hits, last_hit_at: r.last_hit }]));
  return listEntries(db, o, { hits: all });
}

export function listEntries(
  db: Database,
  o: ListOptions = {},
  /** noHits: every entry 0 (the caller adds them); hits: every entry's, ordered by in JS (read elsewhere). */
  from: { noHits?: boolean; hits?: Map<string, Hits> } = {},
): { total: number; entries: EntryView[] } {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (o.tag) {
    where.push("EXISTS (SELECT 1 FROM json_each(e.tags) WHERE value = ?)");
    args.push(o.tag);
  }
  if (o.q) {
    where.push("(instr(lower(e.question), lower(?)) > 0 OR instr(lower(e.alts), lower(?)) > 0 OR instr(lower(e.answer), lower(?)) > 0 OR instr(lower(e.id), lower(?)) > 0)");
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
  if (from.hits && (sort === "hits" || sort === "last_hit")) return { total, entries: sortedByHits(db, w, args, sort, dir, from.hits, o) };
  const joinHits = !from.noHits && !from.hits && (sort === "hits" || sort === "last_hit") && hasAnswerLog(db);
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
  const hits = joinHits ? null : from.noHits ? new Map<string, Hits>() : from.hits ? from.hits : entryHits(db, rows.map((r) => r.id));
  return {
    total,
    entries: rows.map((r) =>
      entryView(toEntry(r), hits ? hits.get(r.id) : { hits: r.hits ?? 0, last_hit_at: r.last_hit }),
    ),
  };
}

/** The page of the filtered entries in the hits / last-hit order of listEntries' SQL, with hits read elsewhere. */
function sortedByHits(db: Database, w: string, args: (string | number)[], sort: "hits" | "last_hit", dir: "ASC" | "DESC", hits: Map<string, Hits>, o: ListOptions): EntryView[] {
  const keys = db.query(`SELECT e.id AS id, e.rowid AS r FROM kb_entries e ${w}`).all(...args) as { id: string; r: number }[];
  const sign = dir === "ASC" ? 1 : -1;
  // SQLite's order: NULL is the smallest value.
  const cmp = (a: number | null, b: number | null) => (a === b ? 0 : a === null ? -1 : b === null ? 1 : a - b);
  keys.sort((x, y) => {
    const hx = hits.get(x.id);
    const hy = hits.get(y.id);
    const lx = hx?.last_hit_at ?? null;
    const ly = hy?.last_hit_at ?? null;
    if (sort === "hits") return sign * ((hx?.hits ?? 0) - (hy?.hits ?? 0)) || sign * cmp(lx, ly) || sign * (x.r - y.r);
    return Number(lx === null) - Number(ly === null) || sign * cmp(lx, ly) || sign * (x.r - y.r);
  });
  const offset = o.offset ?? 0;
  const page = keys.slice(offset, offset + (o.limit ?? 50));
  if (!page.length) return [];
  const rows = new Map((db.query(`SELECT * FROM kb_entries WHERE id IN (${inList(page.length)})`).all(...page.map((k) => k.id)) as EntryRow[]).map((r) => [r.id, r]));
  return page.map((k) => entryView(toEntry(rows.get(k.id)!), hits.get(k.id)));
}

/** Every tag with the number of entries carrying it, most used first. */
export function tagCounts(db: Database): { tag: string; count: number }[] {
  return db
    .query("SELECT t.value AS tag, count(*) AS count FROM kb_entries e, json_each(e.tags) t GROUP BY t.value ORDER BY count DESC, t.value")
    .all() as { tag: string; count: number }[];
}
