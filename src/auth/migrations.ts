import type { Migration } from "../storage/migrate";

export const authMigrations: Migration[] = [
  {
    // Idle expiry: a token is refused once unused for [auth] token_idle_hours. Existing tokens count as used now.
    id: "auth-001",
    sql: `
      ALTER TABLE auth_tokens ADD COLUMN last_used_at INTEGER NOT NULL DEFAULT 0;
      UPDATE auth_tokens SET last_used_at = created_at;
    `,
  },
  {
    // API tokens for POST /api/ask made from the admin API (next to [answer] ask_tokens): the holder keeps the token,
    // the database its SHA-256. Revoking deletes the row.
    id: "auth-002",
    sql: `
      CREATE TABLE ask_tokens (
        id INTEGER PRIMARY KEY,
        label TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        created_by TEXT,
        last_used_at INTEGER
      );
    `,
  },
];
