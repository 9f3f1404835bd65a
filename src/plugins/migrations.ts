import type { Migration } from "../storage/migrate";

export const pluginMigrations: Migration[] = [
  {
    // Each plugin's key/value store (ctx.kv): JSON values, optional expiry (ms epoch; expired rows are
    // invisible and deleted when next touched or listed).
    id: "plugins-001",
    sql: `
      CREATE TABLE plugin_kv (
        plugin TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        expires_at INTEGER,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (plugin, key)
      ) WITHOUT ROWID;
    `,
  },
];
