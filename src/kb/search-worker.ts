/**
 * A knowledge-base search worker (`search-pool.ts`): its own READ-ONLY connection to the node's database file
 * (WAL lets it read beside the writer) and its own `KnowledgeBase` over it, whose in-memory indexes follow the
 * `kb_meta` version as for any other process's writes (the engine drops them when the version moves). Each
 * search runs inside one read transaction, so it sees one committed snapshot, and reports the version it saw:
 * behind the version the main thread sent, it answers `stale` and the main thread searches itself.
 */
import { Database } from "bun:sqlite";
import { type Calibrator, PRIOR_CALIBRATOR } from "./calibration.ts";
import type { Embedder } from "./embedder.ts";
import { KnowledgeBase } from "./engine.ts";
import type { SearchFromWorker, SearchToWorker } from "./search-pool-protocol.ts";

declare const self: Worker;

let kb: KnowledgeBase | null = null;
let db: Database | null = null;
/** The main thread's calibrator (fitted there once per version), as last sent. */
let calibrator: Calibrator = PRIOR_CALIBRATOR;
const post = (m: SearchFromWorker) => self.postMessage(m);

/** The main thread embeds every query; this side only needs the embedder's identity to open the same index. */
function identity(id: string, dim: number): Embedder {
  return {
    id,
    dim,
    embed: () => Promise.reject(new Error("a search worker does not embed: the main thread sends the query vector")),
  };
}

async function init(m: Extract<SearchToWorker, { type: "init" }>) {
  const t0 = performance.now();
  db = new Database(m.file, { readonly: true, strict: true });
  db.run(`PRAGMA busy_timeout = 5000`);
  db.loadExtension(m.vecPath);
  const { thresholds, ...options } = m.options;
  // One snapshot: opening reads the version and the vector copies' record separately, and a write committing in
  // between (the main thread seeding, importing) would look like copies to rebuild — a write this connection cannot do.
  db.run("BEGIN");
  try {
    // With the recorded embedder (always: the main thread opened it first) `open` does not wait for anything.
    const opening = KnowledgeBase.open(db, { ...options, thresholds, embedder: identity(m.embedder.id, m.embedder.dim), calibration: { auto: false } });
    kb = await opening;
    // Warm: loads the vector copies and statistics now rather than on a visitor's question.
    kb.searchEmbedded("warm up", new Float32Array(m.embedder.dim).fill(1 / Math.sqrt(m.embedder.dim)), { k: 1 });
  } finally {
    db.run("COMMIT");
  }
  post({ type: "ready", version: kb.version(), loadMs: Math.round(performance.now() - t0) });
}

self.onmessage = (ev: MessageEvent<SearchToWorker>) => {
  const m = ev.data;
  if (m.type === "search") {
    if (m.calibrator) calibrator = m.calibrator;
    try {
      const result = db!.transaction(() => kb!.searchEmbedded(m.query, m.vector, m.options, calibrator))();
      if (result.version < m.version) post({ type: "stale", id: m.id, version: result.version });
      else post({ type: "result", id: m.id, result });
    } catch (err) {
      post({ type: "error", id: m.id, message: err instanceof Error ? err.message : String(err) });
    }
    return;
  }
  if (m.type === "init") {
    init(m).catch((err) => post({ type: "init_error", message: err instanceof Error ? err.message : String(err) }));
    return;
  }
  if (m.type === "debug") {
    if (m.action === "exit") process.exit(3);
    if (m.action === "hang") {
      const until = Date.now() + m.ms;
      while (Date.now() < until) {
        // A stuck search: the thread answers nothing until the main thread gives up on it.
      }
    }
    if (m.action === "pin") {
      // Test hook: hold a read transaction open, so later searches see this snapshot (a worker left behind).
      db!.run("BEGIN");
      kb!.version();
    }
    return;
  }
  if (m.type === "close") {
    try {
      kb?.close();
      db?.close();
    } catch {
      // closing anyway
    }
    post({ type: "closed" });
  }
};
