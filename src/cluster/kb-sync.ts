/**
 * Cluster mode's knowledge base: PostgreSQL (`kb-sync-schema.ts`) is the source of truth, and every node keeps
 * its own SQLite copy with its FTS5 / sqlite-vec index (`src/kb/engine.ts`), so a query never leaves the node.
 *
 * How a node follows the cluster without any hook in the engine:
 * - A local *shadow* (table `kb_sync_shadow`, `kb_sync_shadow_docs` in the node's SQLite) holds, per id, the
 *   shared store's content as this node last wrote or applied it. Local changes are the difference between the
 *   knowledge base and its shadow: whatever wrote them (admin API, import, demo removal, a `kefu` command in
 *   another process), a crash before they reached PostgreSQL included — they are pushed on the next cycle.
 * - A cycle runs when the local version moves (checked every `watchMs`, a cheap read of `kb_meta`), on a
 *   `kb:version` event from another node, every `pollMs` (the fallback when the bus was down) and on `syncNow`.
 * - Push: the changed entries and documents (deletes as tombstones), upserted per id in ONE transaction that
 *   increments `kb_cluster.version` first (the row lock serialises writers, so versions follow commit order);
 *   then `kb:version` {version, node} on the bus. Two nodes editing different entries both survive; the same
 *   entry edited on two nodes: the later commit wins (highest version), and every node converges to it.
 * - Pull: the rows with version in (seen, V], applied through the engine's own `upsert` / `delete` and
 *   `documents.upsert` (with the source's very chunks) / `delete`, so embeddings and the index are built the
 *   normal way; then the shadow and `seen` move to V. Applied rows equal their shadow, so a pull is never pushed
 *   back (no echo). An entry changed here meanwhile is not overwritten: it is pushed next, and so it wins.
 * - Start: when PostgreSQL has no knowledge base yet and the local one has content (first node of a migrated
 *   install) the whole local KB is pushed; when the local copy belongs to this cluster it is brought up to date
 *   incrementally; otherwise the local KB is replaced by PostgreSQL's.
 */
import type { Database } from "bun:sqlite";
import { hostname } from "node:os";
import { KefuError } from "../errors/kefu-error";
import type { EventBus } from "../events/bus";
import type { EntryRow, KnowledgeBase } from "../kb/engine";
import type { EntryInput } from "../kb/types";
import type { Logger } from "../log/logger";
import type { Sql, SqlValue } from "../storage/sql";
import type { Coordinator } from "./coordinator";

export const KB_VERSION_TOPIC = "kb:version";

export interface KbVersionEvent {
  version: number;
  node: string;
}

export interface KbSyncOptions {
  kb: KnowledgeBase;
  /** The shared store (PostgreSQL in cluster mode) where `kbSyncPgMigrations` ran. */
  sql: Sql;
  bus: EventBus;
  log: Logger;
  /** Fallback poll of the shared version (default 5000 ms). */
  pollMs?: number;
  /** How often the local knowledge-base version is checked for local changes to push (default 250 ms). */
  watchMs?: number;
  /** This node's id in `kb:version` events and rows (default `<hostname>-<pid>`). */
  nodeId?: string;
  /**
   * Cluster-wide lock for `kb.exclusive` (an import with replace): taken, then this node pulls, runs the write,
   * and pushes it before letting go. Without it `kb.exclusive` stays as it is.
   */
  coordinator?: Pick<Coordinator, "withLock">;
}

/** Lock of the writes that replace the whole knowledge base (`KnowledgeBase.exclusive`). */
export const KB_REPLACE_LOCK = "kb:replace";

export interface KbSyncResult {
  /** Entries and documents written to the shared store by this cycle. */
  pushed: number;
  /** Entries and documents changed in the local knowledge base by this cycle. */
  pulled: number;
  /** The shared version this node has applied. */
  version: number;
}

export type KbSyncStart = KbSyncResult & {
  /** pushed: the shared store was empty and got this node's KB; replaced: the local KB was replaced by the shared one; incremental: brought up to date; empty: both empty. */
  mode: "pushed" | "replaced" | "incremental" | "empty";
};

export interface KbSync {
  start(): Promise<KbSyncStart>;
  stop(): Promise<void>;
  /** One push + pull cycle now (after any cycle in progress). */
  syncNow(): Promise<KbSyncResult>;
  /** The shared version this node has applied. */
  readonly seen: number;
  readonly nodeId: string;
}

type EntryContent = Pick<EntryRow, "id" | "question" | "alts" | "answer" | "tags" | "enabled">;

type LocalEntry = EntryContent & Pick<EntryRow, "created_at" | "updated_at">;

interface SharedEntry extends LocalEntry {
  deleted: number;
  version: number;
  node: string;
}

interface DocContent {
  id: string;
  title: string;
  source: string;
  text: string;
}

interface LocalDoc extends DocContent {
  rowid: number;
  created_at: number;
  updated_at: number;
}

interface SharedDoc extends DocContent {
  chunks: string;
  deleted: number;
  version: number;
  node: string;
  created_at: number;
  updated_at: number;
}

const LOCAL_SCHEMA = [
  "CREATE TABLE IF NOT EXISTS kb_sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID",
  `CREATE TABLE IF NOT EXISTS kb_sync_shadow (
    id TEXT PRIMARY KEY, question TEXT NOT NULL, alts TEXT NOT NULL, answer TEXT NOT NULL, tags TEXT NOT NULL, enabled INTEGER NOT NULL
  ) WITHOUT ROWID`,
  "CREATE TABLE IF NOT EXISTS kb_sync_shadow_docs (id TEXT PRIMARY KEY, title TEXT NOT NULL, source TEXT NOT NULL, text TEXT NOT NULL) WITHOUT ROWID",
];

const sameEntry = (a: EntryContent | null, b: EntryContent | null): boolean =>
  a === b ||
  (!!a && !!b && a.question === b.question && a.alts === b.alts && a.answer === b.answer && a.tags === b.tags && Number(a.enabled) === Number(b.enabled));

const sameDoc = (a: DocContent | null, b: DocContent | null): boolean =>
  a === b || (!!a && !!b && a.title === b.title && a.source === b.source && a.text === b.text);

const toInput = (r: EntryContent): EntryInput => ({
  id: r.id,
  question: r.question,
  alts: JSON.parse(r.alts) as string[],
  answer: r.answer,
  tags: JSON.parse(r.tags) as string[],
  enabled: Number(r.enabled) === 1,
});

/** Rows per multi-row INSERT (11 parameters each). */
const ROWS_PER_INSERT = 100;

const ENTRY_COLUMNS = "id, question, alts, answer, tags, enabled, deleted, version, node, created_at, updated_at";
const DOC_COLUMNS = "id, title, source, text, chunks, deleted, version, node, created_at, updated_at";

function upsertSql(table: string, columns: string, rows: number): string {
  const cols = columns.split(", ");
  const one = `(${cols.map(() => "?").join(", ")})`;
  const set = cols
    .filter((c) => c !== "id" && c !== "created_at")
    .map((c) => `${c} = excluded.${c}`)
    .join(", ");
  return `INSERT INTO ${table} (${columns}) VALUES ${Array.from({ length: rows }, () => one).join(", ")} ON CONFLICT (id) DO UPDATE SET ${set}`;
}

class Abort extends Error {}

export function createKbSync(opts: KbSyncOptions): KbSync {
  const { kb, sql, bus, log } = opts;
  const db: Database = kb.db;
  const nodeId = opts.nodeId ?? `${hostname()}-${process.pid}`;
  const pollMs = Math.max(10, opts.pollMs ?? 5000);
  const watchMs = Math.max(10, opts.watchMs ?? 250);
  for (const s of LOCAL_SCHEMA) db.run(s);

  const q = {
    state: db.prepare("SELECT value FROM kb_sync_state WHERE key = ?"),
    setState: db.prepare("INSERT INTO kb_sync_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
    changed: db.prepare(
      `SELECT e.id, e.question, e.alts, e.answer, e.tags, e.enabled, e.created_at, e.updated_at FROM kb_entries e
       LEFT JOIN kb_sync_shadow s ON s.id = e.id
       WHERE s.id IS NULL OR s.question IS NOT e.question OR s.alts IS NOT e.alts OR s.answer IS NOT e.answer OR s.tags IS NOT e.tags OR s.enabled IS NOT e.enabled
       ORDER BY e.rowid`,
    ),
    removed: db.prepare("SELECT s.* FROM kb_sync_shadow s WHERE NOT EXISTS (SELECT 1 FROM kb_entries e WHERE e.id = s.id)"),
    changedDocs: db.prepare(
      `SELECT d.rowid, d.id, d.title, d.source, d.text, d.created_at, d.updated_at FROM kb_documents d
       LEFT JOIN kb_sync_shadow_docs s ON s.id = d.id
       WHERE s.id IS NULL OR s.title IS NOT d.title OR s.source IS NOT d.source OR s.text IS NOT d.text
       ORDER BY d.rowid`,
    ),
    removedDocs: db.prepare("SELECT s.* FROM kb_sync_shadow_docs s WHERE NOT EXISTS (SELECT 1 FROM kb_documents d WHERE d.id = s.id)"),
    chunks: db.prepare("SELECT text FROM kb_chunks WHERE doc_rowid = ? ORDER BY ord"),
    entry: db.prepare("SELECT id, question, alts, answer, tags, enabled FROM kb_entries WHERE id = ?"),
    shadow: db.prepare("SELECT * FROM kb_sync_shadow WHERE id = ?"),
    setShadow: db.prepare(
      `INSERT INTO kb_sync_shadow (id, question, alts, answer, tags, enabled) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET question = excluded.question, alts = excluded.alts, answer = excluded.answer, tags = excluded.tags, enabled = excluded.enabled`,
    ),
    dropShadow: db.prepare("DELETE FROM kb_sync_shadow WHERE id = ?"),
    doc: db.prepare("SELECT id, title, source, text FROM kb_documents WHERE id = ?"),
    shadowDoc: db.prepare("SELECT * FROM kb_sync_shadow_docs WHERE id = ?"),
    setShadowDoc: db.prepare(
      `INSERT INTO kb_sync_shadow_docs (id, title, source, text) VALUES (?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET title = excluded.title, source = excluded.source, text = excluded.text`,
    ),
    dropShadowDoc: db.prepare("DELETE FROM kb_sync_shadow_docs WHERE id = ?"),
  };

  const state = (key: string): string => (q.state.get(key) as { value: string } | null)?.value ?? "";
  const seenVersion = (): number => Number(state("seen") || 0);
  const localHasContent = (): boolean => !!db.query("SELECT 1 FROM kb_entries LIMIT 1").get() || !!db.query("SELECT 1 FROM kb_documents LIMIT 1").get();

  const readCluster = async (): Promise<{ version: number; cid: string }> => {
    const r = await sql.get<{ version: number; cluster_id: string }>("SELECT version, cluster_id FROM kb_cluster WHERE id = 1");
    if (!r) throw new Error("kb_cluster has no row: the shared store lacks the kbsync migrations (kbSyncPgMigrations)");
    return { version: Number(r.version), cid: r.cluster_id };
  };

  /**
   * Writes the local changes (against the shadow) to the shared store in one transaction. `initial`: only if the
   * shared store is still empty (returns null, writing nothing, when another node got there first).
   */
  const push = async (initial = false): Promise<{ count: number; version: number } | null> => {
    const changed = q.changed.all() as LocalEntry[];
    const removed = q.removed.all() as EntryContent[];
    const changedDocs = q.changedDocs.all() as LocalDoc[];
    const removedDocs = q.removedDocs.all() as DocContent[];
    const count = changed.length + removed.length + changedDocs.length + removedDocs.length;
    if (count === 0 && !initial) return { count: 0, version: 0 };
    const chunksOf = new Map(changedDocs.map((d) => [d.id, JSON.stringify((q.chunks.all(d.rowid) as { text: string }[]).map((c) => c.text))]));
    const now = Date.now();
    const newCid = crypto.randomUUID();
    let written: { version: number; cid: string };
    try {
      written = await sql.transaction(async () => {
        const row = await sql.get<{ version: number; cluster_id: string }>(
          "UPDATE kb_cluster SET version = version + 1, cluster_id = CASE WHEN cluster_id = '' THEN ? ELSE cluster_id END WHERE id = 1 RETURNING version, cluster_id",
          [newCid],
        );
        if (!row) throw new Error("kb_cluster has no row: the shared store lacks the kbsync migrations (kbSyncPgMigrations)");
        const v = Number(row.version);
        if (initial && v !== 1) throw new Abort();
        const entryRows: SqlValue[][] = [
          ...changed.map((e) => [e.id, e.question, e.alts, e.answer, e.tags, Number(e.enabled), 0, v, nodeId, e.created_at, e.updated_at]),
          ...removed.map((e) => [e.id, e.question, e.alts, e.answer, e.tags, Number(e.enabled), 1, v, nodeId, now, now]),
        ];
        const docRows: SqlValue[][] = [
          ...changedDocs.map((d) => [d.id, d.title, d.source, d.text, chunksOf.get(d.id)!, 0, v, nodeId, d.created_at, d.updated_at]),
          ...removedDocs.map((d) => [d.id, d.title, d.source, d.text, "[]", 1, v, nodeId, now, now]),
        ];
        for (const [table, columns, rows] of [
          ["kb_sync_entries", ENTRY_COLUMNS, entryRows],
          ["kb_sync_documents", DOC_COLUMNS, docRows],
        ] as const) {
          for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
            const part = rows.slice(i, i + ROWS_PER_INSERT);
            await sql.run(upsertSql(table, columns, part.length), part.flat());
          }
        }
        return { version: v, cid: row.cluster_id };
      });
    } catch (err) {
      if (err instanceof Abort) return null;
      throw err;
    }
    // What the shared store now holds for these ids. `seen` does not move: other nodes' versions below ours are
    // still to be pulled (our own rows then match their shadow and are skipped).
    db.transaction(() => {
      for (const e of changed) q.setShadow.run(e.id, e.question, e.alts, e.answer, e.tags, Number(e.enabled));
      for (const e of removed) q.dropShadow.run(e.id);
      for (const d of changedDocs) q.setShadowDoc.run(d.id, d.title, d.source, d.text);
      for (const d of removedDocs) q.dropShadowDoc.run(d.id);
      if (!state("cluster")) q.setState.run("cluster", written.cid);
    })();
    bus.publish<KbVersionEvent>(KB_VERSION_TOPIC, { version: written.version, node: nodeId });
    log.info("kb pushed to the shared store", { entries: changed.length, deleted: removed.length, documents: changedDocs.length + removedDocs.length, version: written.version });
    return { count, version: written.version };
  };

  /** Applies shared rows to the local knowledge base through the engine; false when nothing changed locally. */
  const applyRows = async (entries: SharedEntry[], docs: SharedDoc[]): Promise<number> => {
    const upserts: EntryInput[] = [];
    const deletes: string[] = [];
    for (const r of entries) {
      const local = q.entry.get(r.id) as EntryContent | null;
      const shadow = q.shadow.get(r.id) as EntryContent | null;
      // Changed here since the last sync: keep it; the next push makes it the latest write.
      if (!sameEntry(local, shadow)) continue;
      if (r.deleted) {
        if (local) deletes.push(r.id);
      } else if (!sameEntry(local, r)) upserts.push(toInput(r));
    }
    let n = 0;
    if (upserts.length) {
      const res = await kb.upsert(upserts);
      n += res.added + res.updated;
    }
    if (deletes.length) n += await kb.delete(deletes);
    for (const r of docs) {
      const local = q.doc.get(r.id) as DocContent | null;
      const shadow = q.shadowDoc.get(r.id) as DocContent | null;
      if (!sameDoc(local, shadow)) continue;
      if (r.deleted) {
        if (local && (await kb.documents.delete(r.id))) n++;
      } else if (!sameDoc(local, r)) {
        const res = await kb.documents.upsert({ id: r.id, title: r.title, source: r.source, text: r.text }, { chunks: JSON.parse(r.chunks) as string[] });
        if (res.action !== "unchanged") n++;
      }
    }
    return n;
  };

  const recordShadow = (entries: SharedEntry[], docs: SharedDoc[], seen: number, cid: string, replace: boolean): void => {
    db.transaction(() => {
      if (replace) {
        db.run("DELETE FROM kb_sync_shadow");
        db.run("DELETE FROM kb_sync_shadow_docs");
      }
      for (const r of entries) {
        if (r.deleted) q.dropShadow.run(r.id);
        else q.setShadow.run(r.id, r.question, r.alts, r.answer, r.tags, Number(r.enabled));
      }
      for (const d of docs) {
        if (d.deleted) q.dropShadowDoc.run(d.id);
        else q.setShadowDoc.run(d.id, d.title, d.source, d.text);
      }
      q.setState.run("seen", String(seen));
      q.setState.run("cluster", cid);
    })();
  };

  /** Replaces the local knowledge base with the shared one. */
  const replaceLocal = async (): Promise<{ count: number; version: number }> => {
    const { version, cid } = await readCluster();
    const entries = await sql.all<SharedEntry>(`SELECT ${ENTRY_COLUMNS} FROM kb_sync_entries WHERE deleted = 0 ORDER BY version, id`);
    const docs = await sql.all<SharedDoc>(`SELECT ${DOC_COLUMNS} FROM kb_sync_documents WHERE deleted = 0 ORDER BY version, id`);
    const res = await kb.upsert(entries.map(toInput), { replace: true });
    let n = res.added + res.updated + res.deleted.length;
    const keep = new Set(docs.map((d) => d.id));
    for (const d of kb.documents.list()) if (!keep.has(d.id) && (await kb.documents.delete(d.id))) n++;
    for (const d of docs) {
      const r = await kb.documents.upsert({ id: d.id, title: d.title, source: d.source, text: d.text }, { chunks: JSON.parse(d.chunks) as string[] });
      if (r.action !== "unchanged") n++;
    }
    recordShadow(entries, docs, version, cid, true);
    log.info("kb replaced by the shared store's", { entries: entries.length, documents: docs.length, version, changed: n });
    return { count: n, version };
  };

  /** Applies the shared changes since `seen`; re-pulls everything when the shared store is not the one we followed. */
  const pull = async (): Promise<{ count: number; version: number }> => {
    const { version, cid } = await readCluster();
    const seen = seenVersion();
    const mine = state("cluster");
    if ((mine && mine !== cid) || version < seen) {
      // Not the store this copy followed (recreated, restored, another cluster's).
      log.warn("kb shared store changed under this node; reconciling", { seen, version });
      const r = await reconcile();
      return { count: r.pulled + r.pushed, version: r.version };
    }
    if (version === seen) return { count: 0, version };
    const entries = await sql.all<SharedEntry>(`SELECT ${ENTRY_COLUMNS} FROM kb_sync_entries WHERE version > ? AND version <= ? ORDER BY version, id`, [seen, version]);
    const docs = await sql.all<SharedDoc>(`SELECT ${DOC_COLUMNS} FROM kb_sync_documents WHERE version > ? AND version <= ? ORDER BY version, id`, [seen, version]);
    const n = await applyRows(entries, docs);
    recordShadow(entries, docs, version, cid, false);
    if (n) log.info("kb pulled from the shared store", { changed: n, from: seen, version });
    return { count: n, version };
  };

  let lastLocalVersion = -1;
  /** Local version whose changes were all pushed: the diff (a scan of every entry) is skipped while it holds. */
  let pushedAt = -1;
  const cycle = async (): Promise<KbSyncResult> => {
    const local = kb.version();
    lastLocalVersion = local;
    const pushed = local === pushedAt ? null : await push();
    pushedAt = local;
    const pulled = await pull();
    return { pushed: pushed?.count ?? 0, pulled: pulled.count, version: pulled.version };
  };

  // One cycle at a time; a request while one is queued joins it, one while one runs queues the next.
  let chain: Promise<unknown> = Promise.resolve();
  let queued: Promise<KbSyncResult> | null = null;
  const schedule = (): Promise<KbSyncResult> => {
    if (queued) return queued;
    const p = chain.then(() => {
      queued = null;
      return cycle();
    });
    queued = p;
    chain = p.catch(() => undefined);
    return p;
  };

  let failing = false;
  const background = (why: string) => {
    schedule().then(
      () => {
        if (failing) log.info("kb sync recovered", { why });
        failing = false;
      },
      (err) => {
        if (!failing) log.warn("kb sync failed; retrying", { why, error: (err as Error).message ?? String(err) });
        failing = true;
      },
    );
  };

  let timers: ReturnType<typeof setInterval>[] = [];
  let unsubscribe: (() => void) | null = null;

  const clearLocalState = () =>
    db.transaction(() => {
      db.run("DELETE FROM kb_sync_shadow");
      db.run("DELETE FROM kb_sync_shadow_docs");
      db.run("DELETE FROM kb_sync_state");
    })();

  /**
   * Decides how this node joins the shared store: pushes everything when it is empty (first node of a migrated
   * install, or a wiped database), catches up when the local copy follows it, replaces the local KB otherwise.
   */
  const reconcile = async (): Promise<KbSyncStart> => {
    lastLocalVersion = kb.version();
    const { version, cid } = await readCluster();
    if (version === 0) {
      if (!localHasContent()) {
        clearLocalState();
        return { mode: "empty", pushed: 0, pulled: 0, version: 0 };
      }
      // Everything local is new to the shared store.
      clearLocalState();
      const r = await push(true);
      if (r) {
        q.setState.run("seen", String(r.version));
        return { mode: "pushed", pushed: r.count, pulled: 0, version: r.version };
      }
      // Another node initialised the shared store meanwhile: follow it.
    } else if (state("cluster") === cid && seenVersion() <= version) {
      const r = await cycle();
      return { mode: "incremental", ...r };
    }
    const r = await replaceLocal();
    return { mode: "replaced", pushed: 0, pulled: r.count, version: r.version };
  };

  const start = async (): Promise<KbSyncStart> => {
    // Subscribed first: a change announced while the start-up pull runs gets its cycle right after it.
    unsubscribe = bus.subscribe<KbVersionEvent>(KB_VERSION_TOPIC, (ev) => {
      if (!ev || ev.node === nodeId) return;
      if (typeof ev.version === "number" && ev.version <= seenVersion()) return;
      background("bus");
    });
    const p = chain.then(reconcile);
    chain = p.catch(() => undefined);
    let started: KbSyncStart;
    try {
      started = await p;
    } catch (err) {
      unsubscribe();
      unsubscribe = null;
      throw err;
    }
    const coordinator = opts.coordinator;
    if (coordinator) {
      kb.exclusive = async <T>(fn: () => Promise<T>): Promise<T> => {
        const done = await coordinator.withLock(
          KB_REPLACE_LOCK,
          async () => {
            await schedule(); // what other nodes wrote, their replaces included, is here first
            const value = await fn();
            await schedule(); // and this one is in the shared store before the next one starts
            return { value };
          },
          { ttlMs: 30_000, waitMs: 120_000 },
        );
        if (!done) throw new KefuError("kb_busy", 409, "another node is replacing the knowledge base; try again when it has finished");
        return done.value;
      };
    }
    timers = [
      setInterval(() => background("poll"), pollMs),
      setInterval(() => {
        if (kb.version() !== lastLocalVersion) background("local change");
      }, watchMs),
    ];
    for (const t of timers) (t as { unref?: () => void }).unref?.();
    log.info("kb sync started", { node: nodeId, mode: started.mode, version: started.version });
    return started;
  };

  return {
    start,
    async stop() {
      if (opts.coordinator) kb.exclusive = (fn) => fn();
      for (const t of timers) clearInterval(t);
      timers = [];
      unsubscribe?.();
      unsubscribe = null;
      await chain;
    },
    syncNow: schedule,
    get seen() {
      return seenVersion();
    },
    nodeId,
  };
}
