import type { Migration } from "../storage/migrate";

export const cannedMigrations: Migration[] = [
  {
    // Canned replies: an agent's own snippets, optionally shared with every agent. Shortcuts are unique per owner.
    id: "canned-001",
    sql: `
      CREATE TABLE canned_replies (
        id INTEGER PRIMARY KEY,
        owner_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        shortcut TEXT NOT NULL,
        title TEXT,
        text TEXT NOT NULL,
        shared INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        UNIQUE (owner_id, shortcut)
      );
      CREATE INDEX canned_replies_shared ON canned_replies(shared) WHERE shared = 1;
    `,
  },
];
