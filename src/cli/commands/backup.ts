import { Database } from "bun:sqlite";
import { resolve } from "node:path";
import { loadConfig } from "../../config/load";
import { cliActor, recordIfPossible } from "../../ops/audit/store";
import { type BackupProgress, backupDatabase } from "../../ops/backup";
import { DB_FILE } from "../../storage/database";
import { createSqliteSql } from "../../storage/sqlite-driver";
import { configFlag, parseFlags, UsageError, type Command } from "../command";

const mb = (n: number) => (n / 1048576).toFixed(1);

/** A progress line on stderr: rewritten in place on a terminal, one line per 10% otherwise. */
function progressLine() {
  const tty = process.stderr.isTTY === true;
  let lastTenth = -1;
  return (p: BackupProgress) => {
    const pct = p.total ? Math.min(100, Math.floor((p.done / p.total) * 100)) : 100;
    const text = `backup: ${pct}% (${mb(p.done)} of ${mb(p.total)} MB)`;
    if (tty) process.stderr.write(`\r${text}`);
    else if (Math.floor(pct / 10) > lastTenth) {
      lastTenth = Math.floor(pct / 10);
      process.stderr.write(`${text}\n`);
    }
  };
}

/** Writes an audit row into the live database (plain connection: a backup never migrates anything). */
export async function auditInto(dbFile: string, e: Parameters<typeof recordIfPossible>[1], busyTimeoutMs: number): Promise<boolean> {
  let db: Database | null = null;
  try {
    db = new Database(dbFile, { create: false });
    db.run(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
    return await recordIfPossible(createSqliteSql(db), e);
  } catch {
    return false;
  } finally {
    db?.close();
  }
}

export const backupCommand: Command = {
  name: "backup",
  summary: "write an online, consistent copy of the database (safe while the server runs)",
  usage: `Usage: kefu backup <file> [--gzip] [-c config.toml]

Copies [storage] dir/kefu.db to <file> with SQLite's VACUUM INTO: a consistent
snapshot of the moment it starts (every message acknowledged before is in it),
taken while the server keeps running and writing. The copy is checked with
PRAGMA quick_check. --gzip compresses it (kefu restore reads both). A progress
line goes to stderr. Refuses to overwrite an existing file. Restore with
kefu restore <file> into a stopped server.`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, { ...configFlag, gzip: { type: "boolean" } });
    const target = positionals[0];
    if (!target) throw new UsageError("kefu backup needs a file to write, e.g. kefu backup /var/backups/kefu-$(date +%F).db.gz --gzip");
    const { config, baseDir } = loadConfig({ path: values.config });
    if (config.storage.driver === "postgres") {
      throw new UsageError(`kefu backup copies the SQLite database, but [storage] driver = "postgres": the shared data is in PostgreSQL — use pg_dump / pg_restore (or your database's backups) for it (docs/cluster.md)`);
    }
    const dbFile = resolve(baseDir, config.storage.dir, DB_FILE);
    const out = resolve(target);
    const result = await backupDatabase(dbFile, out, { gzip: values.gzip ?? false, onProgress: progressLine() });
    if (process.stderr.isTTY) process.stderr.write("\n");
    await auditInto(dbFile, { actor: cliActor(), action: "backup.create", target: out, detail: { bytes: result.bytes, gzip: values.gzip ?? false } }, config.storage.busy_timeout_ms);
    const size = values.gzip ? `${mb(result.bytes)} MB gzipped, ${mb(result.databaseBytes)} MB database` : `${mb(result.bytes)} MB`;
    console.log(`backup written: ${out} (${size}, ${(result.ms / 1000).toFixed(1)} s)`);
    return 0;
  },
};
