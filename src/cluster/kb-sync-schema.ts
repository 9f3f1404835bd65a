/**
 * The shared (PostgreSQL) source tables of the knowledge base in cluster mode (`kb-sync.ts`). Each node keeps
 * its own SQLite copy and index (`src/kb`); these tables hold what every node converges to.
 *
 * - `kb_cluster`: one row. `version` is the cluster's knowledge-base version: every write transaction takes
 *   the row lock by incrementing it, so versions are handed out in commit order (a node that read version V
 *   has every row of versions <= V committed, and reads "changes since" without gaps). `cluster_id` is set by
 *   the first write: a node whose local copy came from another cluster (or a wiped database) re-pulls.
 * - `kb_sync_entries` / `kb_sync_documents`: one row per id with the version of its last write and the node
 *   that made it; a delete leaves a tombstone (`deleted = 1`) so other nodes learn about it.
 *
 * SQL valid on both SQLite and PostgreSQL, idempotent (IF NOT EXISTS / ON CONFLICT), so the storage migration
 * runner may record these ids and `applyKbSyncSchema` may run them again harmlessly.
 */
import type { Sql } from "../storage/sql";

export const kbSyncPgMigrations: { id: string; sql: string }[] = [
  {
    id: "kbsync-001",
    sql: `
CREATE TABLE IF NOT EXISTS kb_cluster (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version BIGINT NOT NULL,
  cluster_id TEXT NOT NULL DEFAULT ''
);
INSERT INTO kb_cluster (id, version, cluster_id) VALUES (1, 0, '') ON CONFLICT (id) DO NOTHING;

CREATE TABLE IF NOT EXISTS kb_sync_entries (
  id TEXT PRIMARY KEY,
  question TEXT NOT NULL,
  alts TEXT NOT NULL,
  answer TEXT NOT NULL,
  tags TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0,
  version BIGINT NOT NULL,
  node TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS kb_sync_entries_version ON kb_sync_entries (version);

CREATE TABLE IF NOT EXISTS kb_sync_documents (
  id TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  source TEXT NOT NULL,
  text TEXT NOT NULL,
  chunks TEXT NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0,
  version BIGINT NOT NULL,
  node TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS kb_sync_documents_version ON kb_sync_documents (version);
`,
  },
];

/** Splits a migration into statements (no semicolons inside these literals). */
export function statementsOf(sql: string): string[] {
  return sql
    .split(/;\s*\n/)
    .map((s) => s.replace(/;\s*$/, "").trim())
    .filter((s) => s.length > 0);
}

/** Applies the migrations statement by statement (tests; or a server before the storage runner includes them). */
export async function applyKbSyncSchema(sql: Sql): Promise<void> {
  for (const m of kbSyncPgMigrations) {
    for (const s of statementsOf(m.sql)) await sql.run(s);
  }
}
