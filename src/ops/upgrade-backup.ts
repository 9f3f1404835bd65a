import type { Database } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { KefuError } from "../errors/kefu-error";

/**
 * Called by the migration on start (src/storage/migrate.ts) when a database that already has a schema is
 * about to get new migrations: a VACUUM INTO copy first, to `<storage dir>/backups/kefu-before-schema-<to>-from-<from>-<time>.db`,
 * so an upgrade can be undone with `kefu restore` and the previous kefu. Nothing is migrated when the copy
 * fails. These copies are not pruned. KEFU_UPGRADE_BACKUP=0 skips it (e.g. a disk too small for two copies).
 * In-memory databases are skipped.
 */
export function backupBeforeUpgrade(db: Database, from: number, to: number): string | null {
  if (process.env.KEFU_UPGRADE_BACKUP === "0") return null;
  const main = db.query<{ name: string; file: string }, []>("PRAGMA database_list").all().find((r) => r.name === "main");
  if (!main?.file) return null;
  const dir = join(dirname(main.file), "backups");
  const at = new Date();
  const file = join(dir, `kefu-before-schema-${to}-from-${from}-${at.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15)}.db`);
  try {
    mkdirSync(dir, { recursive: true });
    db.run("VACUUM INTO ?", [file]);
  } catch (e) {
    throw new KefuError(
      "upgrade_backup_failed",
      500,
      `could not back up ${main.file} before upgrading its schema from ${from} to ${to} (${(e as Error).message}); nothing was changed. Free disk space or fix the permissions of ${dir}, or start once with KEFU_UPGRADE_BACKUP=0 to upgrade without it`,
    );
  }
  db.run("INSERT INTO meta (key, value) VALUES ('upgrade_backup', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", [JSON.stringify({ file, from, to, at: at.getTime() })]);
  return file;
}
