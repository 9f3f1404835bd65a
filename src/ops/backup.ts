import { Database } from "bun:sqlite";
import { createReadStream, createWriteStream, existsSync, mkdirSync, openSync, readSync, closeSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import { KefuError } from "../errors/kefu-error";
import { allMigrations } from "../storage/migrations";

/**
 * Online backups with SQLite's VACUUM INTO: it reads the database inside one read transaction, so the copy
 * is the consistent snapshot of the moment it started (everything committed before — every acknowledged
 * message — is in it; nothing later is), while writers carry on: in WAL mode a reader never blocks the
 * group commit. It runs in a worker thread on its own connection, so neither the CLI's progress line nor
 * a server taking a scheduled backup waits for it. bun:sqlite exposes no sqlite3_backup_* API; serialize()
 * would hold the whole database in memory. tests/ops-backup.test.ts checks a backup taken under 20 writing
 * visitors.
 */

export interface BackupProgress {
  /** Bytes written so far, and the estimate of the total (live pages × page size). */
  done: number;
  total: number;
}

export interface BackupResult {
  file: string;
  /** Size of the file written (compressed when gzip). */
  bytes: number;
  /** Size of the uncompressed copy. */
  databaseBytes: number;
  ms: number;
}

const WORKER = `
import { Database } from "bun:sqlite";
self.onmessage = (e) => {
  const { source, target } = e.data;
  try {
    const db = new Database(source, { create: false });
    try {
      db.run("PRAGMA busy_timeout = 10000");
      db.run("VACUUM INTO ?", [target]);
    } finally {
      db.close();
    }
    const out = new Database(target, { create: false });
    let check;
    try {
      check = out.query("PRAGMA quick_check").all().map((r) => r.quick_check);
    } finally {
      out.close();
    }
    postMessage({ ok: check.length === 1 && check[0] === "ok", check: check.slice(0, 5) });
  } catch (err) {
    postMessage({ ok: false, error: String(err && err.message || err) });
  }
};`;

let workerUrl: string | null = null;

/** Runs VACUUM INTO and a quick_check of the copy on a worker thread. */
function vacuumIntoOnWorker(source: string, target: string): Promise<void> {
  workerUrl ??= URL.createObjectURL(new Blob([WORKER], { type: "application/javascript" }));
  const worker = new Worker(workerUrl);
  return new Promise<void>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<{ ok: boolean; error?: string; check?: string[] }>) => {
      worker.terminate();
      if (e.data.ok) resolve();
      else reject(new KefuError("backup_failed", 500, e.data.error ? `backup of ${source} failed: ${e.data.error}` : `the copy of ${source} failed its check: ${e.data.check?.join("; ")}`));
    };
    worker.onerror = (e) => {
      worker.terminate();
      reject(new KefuError("backup_failed", 500, `backup worker failed: ${e.message}`));
    };
    worker.postMessage({ source, target });
  });
}

/** Live bytes of a database (pages in use × page size): the size its VACUUM INTO copy will have. */
function liveBytes(file: string): number {
  const db = new Database(file, { create: false });
  try {
    const n = (p: string) => Object.values(db.query(`PRAGMA ${p}`).get() as Record<string, number>)[0]!;
    return (n("page_count") - n("freelist_count")) * n("page_size");
  } finally {
    db.close();
  }
}

const sizeOf = (file: string) => {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
};

/** Copies the database `source` (a live kefu.db is fine) to `target`, gzip-compressed when asked. */
export async function backupDatabase(source: string, target: string, opts: { gzip?: boolean; onProgress?: (p: BackupProgress) => void; progressMs?: number } = {}): Promise<BackupResult> {
  const started = performance.now();
  if (!existsSync(source)) throw new KefuError("backup_no_database", 404, `no database at ${source}: check [storage] dir / -c config.toml`);
  if (existsSync(target)) throw new KefuError("backup_target_exists", 409, `${target} already exists; choose another file name or delete it first`);
  mkdirSync(dirname(target), { recursive: true });
  const total = liveBytes(source);
  const partial = `${target}.partial-${process.pid}`;
  rmSync(partial, { force: true });
  const progress = opts.onProgress;
  const timer = progress ? setInterval(() => progress({ done: Math.min(sizeOf(partial), total), total }), opts.progressMs ?? 500) : null;
  try {
    await vacuumIntoOnWorker(source, partial);
    const databaseBytes = sizeOf(partial);
    progress?.({ done: databaseBytes, total: databaseBytes });
    if (opts.gzip) {
      await pipeline(createReadStream(partial), createGzip({ level: 6 }), createWriteStream(`${target}.gz-partial`));
      renameSync(`${target}.gz-partial`, target);
      rmSync(partial, { force: true });
    } else renameSync(partial, target);
    return { file: target, bytes: sizeOf(target), databaseBytes, ms: Math.round(performance.now() - started) };
  } catch (e) {
    rmSync(partial, { force: true });
    rmSync(`${target}.gz-partial`, { force: true });
    throw e;
  } finally {
    if (timer) clearInterval(timer);
  }
}

/**
 * Throws when another process has `dbFile` open (a running server, or a kefu command). In WAL mode
 * every connection holds a shared lock for as long as it is open, so an exclusive lock is refused even
 * while the server is idle; the probe waits for nothing (busy_timeout 0).
 */
export function assertNotInUse(dbFile: string): void {
  if (!existsSync(dbFile)) return;
  const db = new Database(dbFile, { create: false });
  try {
    db.run("PRAGMA busy_timeout = 0");
    db.run("PRAGMA locking_mode = EXCLUSIVE");
    db.run("BEGIN EXCLUSIVE");
    db.run("COMMIT");
    // Alone with the file: fold the WAL in, so the file set aside is complete on its own.
    db.run("PRAGMA wal_checkpoint(TRUNCATE)");
  } catch (e) {
    const msg = (e as Error).message;
    if (/locked|busy/i.test(msg)) {
      throw new KefuError("database_in_use", 409, `${dbFile} is open in another process (a running kefu server or kefu command): stop the server first (e.g. systemctl stop kefu), then run kefu restore again`);
    }
    throw new KefuError("restore_failed", 500, `cannot check ${dbFile}: ${msg}`);
  } finally {
    db.close();
  }
}

const GZIP_MAGIC = [0x1f, 0x8b];

function isGzip(file: string): boolean {
  const fd = openSync(file, "r");
  try {
    const head = Buffer.alloc(2);
    return readSync(fd, head, 0, 2, 0) === 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
  } finally {
    closeSync(fd);
  }
}

/** integrity_check and the schema check of a database file about to be restored; returns its schema version. */
export function checkRestorable(file: string, name = file): number {
  let db: Database;
  try {
    db = new Database(file, { create: false, readonly: true });
  } catch (e) {
    throw new KefuError("restore_not_a_database", 400, `${name} is not a SQLite database (${(e as Error).message}); nothing was restored`);
  }
  try {
    let problems: string[];
    try {
      problems = db.query<{ integrity_check: string }, []>("PRAGMA integrity_check").all().map((r) => r.integrity_check);
    } catch (e) {
      throw new KefuError("restore_not_a_database", 400, `${name} is not a SQLite database (${(e as Error).message}); nothing was restored`);
    }
    if (problems.length !== 1 || problems[0] !== "ok") throw new KefuError("restore_corrupt", 400, `${name} failed PRAGMA integrity_check: ${problems.slice(0, 5).join("; ")}; nothing was restored`);
    const hasMigrations = db.query("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'").get();
    if (!hasMigrations) throw new KefuError("restore_not_kefu", 400, `${name} is a SQLite database but not a kefu one (no schema_migrations table); nothing was restored`);
    const ids = db.query<{ id: string }, []>("SELECT id FROM schema_migrations").all().map((r) => r.id);
    const known = new Set(allMigrations.map((m) => m.id));
    const unknown = ids.filter((id) => !known.has(id));
    if (unknown.length) throw new KefuError("restore_newer_schema", 400, `${name} was written by a newer kefu (migrations ${unknown.join(", ")}); restore it with that version or newer; nothing was restored`);
    return ids.length;
  } finally {
    db.close();
  }
}

export interface RestoreResult {
  /** Where the database that was replaced now is (null: there was none). */
  previous: string | null;
  /** Schema version of the restored file (older ones are migrated on the next start, after a backup). */
  schema: number;
}

const stamp = (d = new Date()) => d.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);

/**
 * Replaces `dbFile` with the backup `source` (plain or gzip): refused while anything has the database open,
 * and before anything is replaced unless the copy passes integrity_check and its schema is one this kefu
 * knows. The replaced database is kept beside it as kefu.db.before-restore-<time>.
 */
export async function restoreDatabase(source: string, dbFile: string): Promise<RestoreResult> {
  if (!existsSync(source)) throw new KefuError("restore_no_file", 404, `no backup file at ${source}`);
  assertNotInUse(dbFile);
  mkdirSync(dirname(dbFile), { recursive: true });
  const staged = `${dbFile}.restoring-${process.pid}`;
  rmSync(staged, { force: true });
  try {
    if (isGzip(source)) {
      try {
        await pipeline(createReadStream(source), createGunzip(), createWriteStream(staged));
      } catch (e) {
        throw new KefuError("restore_corrupt", 400, `${source} is not a complete gzip file (${(e as Error).message}); nothing was restored`);
      }
    } else await pipeline(createReadStream(source), createWriteStream(staged));
    const schema = checkRestorable(staged, source);
    assertNotInUse(dbFile); // still nobody: a server could have started while the copy was checked
    let previous: string | null = null;
    if (existsSync(dbFile)) {
      previous = `${dbFile}.before-restore-${stamp()}`;
      renameSync(dbFile, previous);
    }
    rmSync(`${dbFile}-wal`, { force: true });
    rmSync(`${dbFile}-shm`, { force: true });
    renameSync(staged, dbFile);
    return { previous, schema };
  } finally {
    rmSync(staged, { force: true });
  }
}

export { stamp as backupStamp };
