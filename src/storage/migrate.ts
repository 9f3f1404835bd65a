import type { Database } from "bun:sqlite";
import { KefuError } from "../errors/kefu-error";
import { backupBeforeUpgrade } from "../ops/upgrade-backup";

export interface Migration {
  /** Stable unique id, e.g. "core-001". Never rename or edit an applied migration: add a new one. */
  id: string;
  sql: string;
}

/**
 * Applies, in order and each in its own transaction, the migrations not yet recorded.
 * The `meta` table's schema_version is the number of migrations applied. A database
 * written by a newer kefu (unknown migration ids) is refused rather than guessed at.
 */
export function migrate(db: Database, migrations: Migration[]): { applied: string[]; version: number } {
  db.run("CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)");
  db.run("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  const done = new Set(db.query<{ id: string }, []>("SELECT id FROM schema_migrations").all().map((r) => r.id));
  const known = new Set(migrations.map((m) => m.id));
  const unknown = [...done].filter((id) => !known.has(id));
  if (unknown.length) {
    throw new KefuError(
      "storage_newer_schema",
      500,
      `database has migrations this kefu does not know (${unknown.join(", ")}): it was written by a newer version; upgrade kefu or restore a backup`,
    );
  }
  if (done.size > 0 && migrations.some((m) => !done.has(m.id))) backupBeforeUpgrade(db, done.size, migrations.length);
  const applied: string[] = [];
  for (const m of migrations) {
    if (done.has(m.id)) continue;
    db.transaction(() => {
      db.run(m.sql);
      db.run("INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)", [m.id, Date.now()]);
    })();
    applied.push(m.id);
  }
  const version = migrations.length;
  // Written only when it changes: a start on an up-to-date database commits nothing (one fsync less).
  const stored = db.query<{ value: string }, []>("SELECT value FROM meta WHERE key = 'schema_version'").get()?.value;
  if (stored !== String(version)) {
    db.run("INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", [String(version)]);
  }
  return { applied, version };
}
