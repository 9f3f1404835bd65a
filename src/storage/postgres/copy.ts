import type { Database } from "bun:sqlite";
import { KefuError } from "../../errors/kefu-error";
import { repairedJson } from "../../insights/json-sql";
import type { SqlValue } from "../sql";
import type { PostgresSql } from "./driver";
import { SHARED_TABLES } from "./migrations";

/**
 * Copies every shared table of a (migrated) SQLite database into a migrated, empty PostgreSQL database, in
 * ONE PostgreSQL transaction read from ONE SQLite read snapshot: ids, every `seq` and `last_seq` exactly as
 * they are; identity sequences reset after, so new rows continue after the copied ids. The knowledge base
 * (node-local kb_entries / kb_documents + kb_chunks) goes into cluster mode's shared kb_sync tables at
 * version 1, so every node's local index pulls it.
 */
export interface CopyReport {
  tables: { table: string; rows: number }[];
  ms: number;
}

/** Tables in PostgreSQL whose rows make a target "not empty". */
const KB_SYNC_TABLES = ["kb_sync_entries", "kb_sync_documents"];
const MAX_PARAMS = 30_000;
/** JSON columns PostgreSQL queries cast to jsonb: text an older kefu wrote with an escaped NUL or lone surrogate is repaired. */
const JSONB_READ: Record<string, string[]> = { chat_messages: ["meta"], chat_conversations: ["tags"] };

export async function targetRowCounts(pg: PostgresSql): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const t of [...SHARED_TABLES.map((s) => s.name), ...KB_SYNC_TABLES]) {
    out.set(t, (await pg.get<{ n: number }>(`SELECT count(*) AS n FROM ${t}`))!.n);
  }
  return out;
}

const columnsOf = (db: Database, table: string) => db.query<{ name: string }, []>(`SELECT name FROM pragma_table_info('${table}')`).all().map((r) => r.name);

async function pgColumns(pg: PostgresSql, table: string): Promise<Set<string>> {
  const rows = await pg.all<{ name: string }>("SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?", [table]);
  return new Set(rows.map((r) => r.name));
}

/** INSERTs `rows` (each `cols.length` values) in statements of at most MAX_PARAMS parameters. */
async function insertRows(pg: PostgresSql, table: string, cols: string[], rows: SqlValue[][]) {
  if (!rows.length) return;
  const per = Math.max(1, Math.floor(MAX_PARAMS / cols.length));
  const row = `(${cols.map(() => "?").join(", ")})`;
  for (let i = 0; i < rows.length; i += per) {
    const part = rows.slice(i, i + per);
    await pg.run(`INSERT INTO ${table} (${cols.map((c) => `"${c}"`).join(", ")}) VALUES ${part.map(() => row).join(", ")}`, part.flat());
  }
}

export async function copySqliteToPostgres(
  db: Database,
  pg: PostgresSql,
  opts: { force?: boolean; onTable?: (table: string, rows: number) => void } = {},
): Promise<CopyReport> {
  const started = Date.now();
  const tables: { table: string; rows: number }[] = [];
  const note = (table: string, rows: number) => {
    tables.push({ table, rows });
    opts.onTable?.(table, rows);
  };
  // One read snapshot of the whole SQLite database (WAL: writers may go on, this copy does not see them).
  db.run("BEGIN");
  try {
    await pg.transaction(async () => {
      const existing = await targetRowCounts(pg);
      const kbVersion = (await pg.get<{ version: number }>("SELECT version FROM kb_cluster WHERE id = 1"))?.version ?? 0;
      const busy = [...existing].filter(([, n]) => n > 0);
      if (busy.length || kbVersion > 0) {
        if (!opts.force) {
          throw new KefuError(
            "storage_target_not_empty",
            409,
            `the PostgreSQL database is not empty (${busy.map(([t, n]) => `${t}: ${n}`).join(", ") || `knowledge-base version ${kbVersion}`}); migrate into an empty database, or pass --force to delete what is there`,
          );
        }
        const all = [...SHARED_TABLES.map((t) => t.name), ...KB_SYNC_TABLES];
        await pg.run(`TRUNCATE ${all.join(", ")} RESTART IDENTITY CASCADE`);
        await pg.run("UPDATE kb_cluster SET version = 0, cluster_id = '' WHERE id = 1");
      }

      for (const { name, order } of SHARED_TABLES) {
        const target = await pgColumns(pg, name);
        const cols = columnsOf(db, name);
        const missing = cols.filter((c) => !target.has(c));
        if (missing.length) throw new KefuError("storage_schema_mismatch", 500, `PostgreSQL table ${name} lacks column(s) ${missing.join(", ")}: this kefu's PostgreSQL migrations are behind its SQLite ones`);
        const stmt = db.query<Record<string, SqlValue>, []>(`SELECT ${cols.map((c) => `"${c}"`).join(", ")} FROM ${name} ORDER BY ${order}`);
        let buf: SqlValue[][] = [];
        let n = 0;
        const json = new Set(JSONB_READ[name] ?? []);
        for (const r of stmt.iterate()) {
          buf.push(cols.map((c) => (json.has(c) && typeof r[c] === "string" ? repairedJson(r[c]) : (r[c] ?? null))));
          if (buf.length >= 2000) {
            await insertRows(pg, name, cols, buf);
            n += buf.length;
            buf = [];
          }
        }
        await insertRows(pg, name, cols, buf);
        n += buf.length;
        note(name, n);
      }

      // The knowledge base, into the shared kb_sync tables (src/cluster/kb-sync-schema.ts) at version 1.
      const node = "migrate-storage";
      const entries = db
        .query<{ id: string; question: string; alts: string; answer: string; tags: string; enabled: number; created_at: number; updated_at: number }, []>(
          "SELECT id, question, alts, answer, tags, enabled, created_at, updated_at FROM kb_entries ORDER BY rowid",
        )
        .all();
      const chunks = db.query<{ text: string }, [number]>("SELECT text FROM kb_chunks WHERE doc_rowid = ? ORDER BY ord");
      const docs = db
        .query<{ rowid: number; id: string; title: string; source: string; text: string; created_at: number; updated_at: number }, []>(
          "SELECT rowid, id, title, source, text, created_at, updated_at FROM kb_documents ORDER BY rowid",
        )
        .all();
      if (entries.length || docs.length) {
        await pg.run("UPDATE kb_cluster SET version = 1, cluster_id = ? WHERE id = 1", [crypto.randomUUID()]);
        await insertRows(
          pg,
          "kb_sync_entries",
          ["id", "question", "alts", "answer", "tags", "enabled", "deleted", "version", "node", "created_at", "updated_at"],
          entries.map((e) => [e.id, e.question, e.alts, e.answer, e.tags, e.enabled, 0, 1, node, e.created_at, e.updated_at]),
        );
        await insertRows(
          pg,
          "kb_sync_documents",
          ["id", "title", "source", "text", "chunks", "deleted", "version", "node", "created_at", "updated_at"],
          docs.map((d) => [d.id, d.title, d.source, d.text, JSON.stringify(chunks.all(d.rowid).map((c) => c.text)), 0, 1, node, d.created_at, d.updated_at]),
        );
      }
      note("kb_sync_entries", entries.length);
      note("kb_sync_documents", docs.length);

      // New rows continue after the copied ids.
      for (const { name, identity } of SHARED_TABLES) {
        if (!identity) continue;
        await pg.get(
          `SELECT setval(pg_get_serial_sequence('${name}', '${identity}'), COALESCE((SELECT max(${identity}) FROM ${name}), 1), (SELECT max(${identity}) FROM ${name}) IS NOT NULL) AS v`,
        );
      }
    });
  } finally {
    db.run("COMMIT");
  }
  return { tables, ms: Date.now() - started };
}

/** Compares the copied row counts (and the messages' seqs) with PostgreSQL's after the commit; the differences, or []. */
export async function verifyCopy(db: Database, pg: PostgresSql, report: CopyReport): Promise<string[]> {
  const problems: string[] = [];
  for (const { table, rows } of report.tables) {
    const n = (await pg.get<{ n: number }>(`SELECT count(*) AS n FROM ${table}`))!.n;
    if (n !== rows) problems.push(`${table}: ${rows} copied, ${n} in PostgreSQL`);
  }
  const seqs = (x: { n: number; s: number | null; c: number | null } | null) => `${x?.n ?? 0}/${x?.s ?? 0}/${x?.c ?? 0}`;
  const lite = db.query<{ n: number; s: number | null; c: number | null }, []>("SELECT count(*) AS n, sum(seq) AS s, (SELECT sum(last_seq) FROM chat_conversations) AS c FROM chat_messages").get();
  const pgs = await pg.get<{ n: number; s: number | null; c: number | null }>("SELECT count(*) AS n, sum(seq) AS s, (SELECT sum(last_seq) FROM chat_conversations) AS c FROM chat_messages");
  if (seqs(lite) !== seqs(pgs)) problems.push(`chat_messages seqs differ (count/sum(seq)/sum(last_seq): SQLite ${seqs(lite)}, PostgreSQL ${seqs(pgs)})`);
  return problems;
}
