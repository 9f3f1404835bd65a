import { resolve } from "node:path";
import { loadConfig } from "../../config/load";
import { cliActor } from "../../ops/audit/store";
import { createAuditStore } from "../../ops/audit/store";
import { restoreDatabase } from "../../ops/backup";
import { DB_FILE, openDatabase } from "../../storage/database";
import { createSqliteSql } from "../../storage/sqlite-driver";
import { configFlag, parseFlags, UsageError, type Command } from "../command";

export const restoreCommand: Command = {
  name: "restore",
  summary: "replace the database with a backup (the server must be stopped)",
  usage: `Usage: kefu restore <file> [-c config.toml]

Replaces [storage] dir/kefu.db with a backup written by kefu backup (plain or
.gz). Refused while the server (or any kefu command) has the database open:
stop it first. The backup must pass PRAGMA integrity_check and have a schema
this kefu knows, or nothing is changed. The database it replaces is kept as
kefu.db.before-restore-<time>. A backup from an older kefu is migrated at once
(after a copy of it is kept in <storage dir>/backups/). Then start the server.`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, configFlag);
    const source = positionals[0];
    if (!source) throw new UsageError("kefu restore needs the backup file to restore");
    const { config, baseDir } = loadConfig({ path: values.config });
    if (config.storage.driver === "postgres") {
      throw new UsageError(`kefu restore replaces the SQLite database, but [storage] driver = "postgres": the shared data is in PostgreSQL — use pg_dump / pg_restore (or your database's backups) for it (docs/cluster.md)`);
    }
    const dir = resolve(baseDir, config.storage.dir);
    const from = resolve(source);
    const result = await restoreDatabase(from, resolve(dir, DB_FILE));
    // Opened the way the server opens it: migrated, so the audit table is there to record the restore in.
    const db = await openDatabase({ dir, busyTimeoutMs: config.storage.busy_timeout_ms });
    try {
      await createAuditStore(createSqliteSql(db)).record({ actor: cliActor(), action: "backup.restore", target: from, detail: { previous: result.previous, schema: result.schema } });
    } finally {
      db.close();
    }
    console.log(`restored ${from} into ${resolve(dir, DB_FILE)} (integrity_check ok, schema ${result.schema})`);
    if (result.previous) console.log(`the database it replaced is kept as ${result.previous}`);
    return 0;
  },
};
