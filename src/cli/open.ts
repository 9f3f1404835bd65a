import { Database } from "bun:sqlite";
import { resolve } from "node:path";
import { loadConfig } from "../config/load";
import { KnowledgeBase } from "../kb/engine";
import { createLogger } from "../log/logger";
import { startModels } from "../models/runtime";
import { resolveLoadablePath } from "../platform/sqlite-vec";
import { createSettings } from "../settings/settings";
import { openDatabase } from "../storage/database";
import { createPostgresSql } from "../storage/postgres/driver";
import { migratePostgres } from "../storage/postgres/migrations";
import type { Sql } from "../storage/sql";
import { createSqliteSql } from "../storage/sqlite-driver";

/**
 * Config + migrated database for offline commands (user, import, ask ...): `db` the local SQLite, `sql` the shared
 * store over it (the one `Sql` of this process: a second one over the same connection would not see its transactions).
 */
export async function openFromConfig(configPath: string | undefined) {
  const loaded = loadConfig({ path: configPath });
  const { storage } = loaded.config;
  const db = await openDatabase({ dir: resolve(loaded.baseDir, storage.dir), busyTimeoutMs: storage.busy_timeout_ms });
  if (storage.driver !== "postgres") return { ...loaded, db, sql: createSqliteSql(db) as Sql };
  // Cluster mode: accounts, settings, audit … are in PostgreSQL; the command works on them there (the process
  // exits when the command ends, which closes the pool).
  try {
    const sql: Sql = await createPostgresSql({ url: storage.url, max: 2, queryTimeoutMs: storage.query_timeout_ms });
    await migratePostgres(sql);
    return { ...loaded, db, sql };
  } catch (e) {
    db.close();
    throw e;
  }
}

/**
 * The configured knowledge base, opened offline (no server needed), with the configured embedder (an
 * ONNX one runs in worker threads: `models` holds them; close it when done).
 */
export async function openKnowledge(configPath: string | undefined) {
  const opened = await openFromConfig(configPath);
  const { kb: cfg } = opened.config;
  const models = await startModels({ config: opened.config.models, embedder: cfg.embedder, baseDir: opened.baseDir, log: createLogger({ level: "error" }) });
  let shown = -1;
  const kb = await KnowledgeBase.open(opened.db, {
    embedder: models.embedder ?? undefined,
    thresholds: { direct: cfg.direct, suggest: cfg.suggest },
    // The embedder changed since the vectors were built: they are rebuilt first (a line per tenth on stderr).
    onReindexProgress: (done, total) => {
      const tenth = Math.floor((done / total) * 10);
      if (!total || tenth === shown) return;
      shown = tenth;
      process.stderr.write(`re-indexing the knowledge base for the new embedder: ${done}/${total}\n`);
    },
  });
  // Thresholds saved from the admin console override the file here too, as in the server.
  await createSettings({ sql: opened.sql, config: opened.config, apply: (c) => kb.setThresholds({ direct: c.kb.direct, suggest: c.kb.suggest }) });
  return { ...opened, kb, models };
}

/**
 * A synchronous in-memory database factory with sqlite-vec loaded through the
 * platform adapter (the package's own loader does not work in the compiled binary).
 */
export async function memoryDatabaseFactory(): Promise<() => Database> {
  const path = await resolveLoadablePath();
  return () => {
    const db = new Database(":memory:");
    db.loadExtension(path);
    return db;
  };
}
