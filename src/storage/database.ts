import { Database } from "bun:sqlite";
import { accessSync, constants, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { KefuError } from "../errors/kefu-error";
import { loadSqliteVec } from "../platform/sqlite-vec";
import { migrate, type Migration } from "./migrate";
import { allMigrations } from "./migrations";

export interface OpenDatabaseOptions {
  /** Directory of kefu.db; created if missing. ":memory:" opens an in-memory database (tests). */
  dir: string;
  /** Default 5000. */
  busyTimeoutMs?: number;
  /** Default: every feature's migrations. */
  migrations?: Migration[];
}

export const DB_FILE = "kefu.db";

/** Opens (creating if needed) the one SQLite database, tuned and migrated. */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  let file = ":memory:";
  if (opts.dir !== ":memory:") {
    const dir = resolve(opts.dir);
    try {
      mkdirSync(dir, { recursive: true });
      accessSync(dir, constants.W_OK);
    } catch (e) {
      throw new KefuError(
        "storage_unwritable",
        500,
        `storage.dir ${dir} is not a writable directory (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); fix its permissions or set [storage] dir / KEFU_STORAGE_DIR`,
      );
    }
    file = join(dir, DB_FILE);
  }
  let db: Database;
  try {
    db = new Database(file, { create: true, strict: true });
  } catch (e) {
    throw new KefuError("storage_open_failed", 500, `cannot open database ${file}: ${(e as Error).message}`);
  }
  try {
    db.run(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 5000))}`);
    db.run("PRAGMA auto_vacuum = INCREMENTAL"); // only a new file takes it (before WAL mode writes the header); src/ops/retention.ts converts older ones once
    db.run("PRAGMA journal_mode = WAL");
    // FULL: a commit is fsynced before it returns, so whatever kefu acknowledges
    // survives power loss too, not just a process crash.
    db.run("PRAGMA synchronous = FULL");
    db.run("PRAGMA foreign_keys = ON");
    // Savepoints (one per group-commit job, src/storage/sqlite-driver.ts) keep the pages they change in a
    // sub-journal: in memory, not in a temp file written on every job.
    db.run("PRAGMA temp_store = MEMORY");
    await loadSqliteVec(db);
    migrate(db, opts.migrations ?? allMigrations);
  } catch (e) {
    db.close();
    if (e instanceof KefuError) throw e;
    throw new KefuError("storage_open_failed", 500, `cannot prepare database ${file}: ${(e as Error).message}`);
  }
  return db;
}

/** Folds the WAL into the main file so a copied kefu.db is complete; called on shutdown. */
export function checkpoint(db: Database): void {
  db.run("PRAGMA wal_checkpoint(TRUNCATE)");
}
