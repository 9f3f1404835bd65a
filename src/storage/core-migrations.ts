import type { Migration } from "./migrate";

export const coreMigrations: Migration[] = [
  {
    id: "core-001",
    sql: `
      CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE,
        role TEXT NOT NULL CHECK (role IN ('admin', 'agent')),
        password_hash TEXT NOT NULL,
        display_name TEXT,
        max_concurrent INTEGER NOT NULL DEFAULT 5,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE auth_tokens (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX auth_tokens_user ON auth_tokens(user_id);
    `,
  },
];
