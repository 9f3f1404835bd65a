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
];
