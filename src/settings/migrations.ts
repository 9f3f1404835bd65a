import type { Migration } from "../storage/migrate";

export const settingsMigrations: Migration[] = [
  {
    // Config keys overridden from the admin API (src/settings/settings.ts): one row per key, the value as JSON.
    // Laid over the config file at start-up; deleting a row goes back to the file's value.
    id: "settings-001",
    sql: `
      CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        updated_by TEXT
      );
    `,
  },
];
