import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadConfig } from "../../config/load";
import { DB_FILE, openDatabase } from "../../storage/database";
import { copySqliteToPostgres, verifyCopy } from "../../storage/postgres/copy";
import { createPostgresSql, redactUrl } from "../../storage/postgres/driver";
import { migratePostgres } from "../../storage/postgres/migrations";
import { configFlag, parseFlags, UsageError, type Command } from "../command";

export const migrateStorageCommand: Command = {
  name: "migrate-storage",
  summary: "copy an existing SQLite install's shared data to PostgreSQL (for cluster mode)",
  usage: `Usage: kefu migrate-storage --to postgres://user:password@host:5432/db [-c config.toml | --dir DIR] [--force]

Copies every shared table of the SQLite data dir ([storage] dir of the config,
or --dir) to the PostgreSQL database: users and sessions, visitors,
conversations and messages (the same ids and seqs), notes, canned replies,
off-hours questions, settings, the audit log, the answer log, plugin data,
saved batch runs, API tokens, and the knowledge base (entries and documents,
which every node's local index then pulls). Creates the PostgreSQL schema
first. One transaction: on any error nothing is written. Refuses a database
that already holds data unless --force (which deletes it first). Prints the
rows copied per table and checks the counts after.

Stop the server first (what it writes during the copy is not copied), then
set [storage] driver = "postgres" and url, and start the nodes.`,
  async run(argv) {
    const { values } = parseFlags(argv, { ...configFlag, to: { type: "string" }, dir: { type: "string" }, force: { type: "boolean" } }, false);
    const to = values.to;
    if (!to) throw new UsageError("kefu migrate-storage needs --to postgres://user:password@host:5432/database");
    if (!/^postgres(ql)?:\/\//.test(to)) throw new UsageError(`--to must be a postgres:// URL, not ${redactUrl(to)}`);
    let dir: string;
    let busy: number | undefined;
    if (values.dir) {
      if (values.config) throw new UsageError("give either --dir or -c config.toml, not both");
      dir = resolve(values.dir);
    } else {
      const { config, baseDir } = loadConfig({ path: values.config });
      dir = resolve(baseDir, config.storage.dir);
      busy = config.storage.busy_timeout_ms;
    }
    if (!existsSync(join(dir, DB_FILE))) throw new UsageError(`no ${DB_FILE} in ${dir}: nothing to migrate (give the data dir with --dir or -c config.toml)`);
    const db = await openDatabase({ dir, busyTimeoutMs: busy });
    try {
      const pg = await createPostgresSql({ url: to, max: 2 });
      try {
        const { applied } = await migratePostgres(pg);
        if (applied.length) console.log(`PostgreSQL schema created (${applied.length} migrations)`);
        console.log(`copying ${join(dir, DB_FILE)} to ${redactUrl(to)}`);
        const report = await copySqliteToPostgres(db, pg, {
          force: values.force ?? false,
          onTable: (table, rows) => console.log(`  ${table.padEnd(22)} ${String(rows).padStart(9)}`),
        });
        const problems = await verifyCopy(db, pg, report);
        if (problems.length) {
          console.error(`migrate-storage: the copy does not match:\n  ${problems.join("\n  ")}`);
          return 1;
        }
        const total = report.tables.reduce((s, t) => s + t.rows, 0);
        console.log(`copied ${total} rows in ${(report.ms / 1000).toFixed(1)} s; counts verified`);
        return 0;
      } finally {
        await pg.close();
      }
    } finally {
      db.close();
    }
  },
};
