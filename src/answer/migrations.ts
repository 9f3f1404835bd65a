import type { Migration } from "../storage/migrate";

/**
 * Off-hours questions waiting for the batch job. No foreign key to chat_conversations: the answer feature
 * stays usable (and testable) without the chat tables; a question whose conversation is gone simply fails
 * to post and is marked failed.
 */
export const answerMigrations: Migration[] = [
  {
    id: "answer-001",
    sql: `
      CREATE TABLE answer_pending (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id TEXT NOT NULL,
        question TEXT NOT NULL,
        lang TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'answered', 'handed_off', 'failed')),
        created_at INTEGER NOT NULL,
        resolved_at INTEGER,
        answer TEXT,
        error TEXT
      );
      CREATE INDEX answer_pending_status ON answer_pending(status, id);
    `,
  },
];

/**
 * Introduced with cluster mode (issue #18), appended last (src/storage/migrations.ts). answer-002: a batch runner
 * claims a question before answering it (pending-store.ts `claim`), so two nodes running the off-hours batch
 * at once answer each question once; a claim older than the runner's limit is taken over (its node died).
 */
export const answerLaterMigrations: Migration[] = [
  {
    id: "answer-002",
    sql: `
      ALTER TABLE answer_pending ADD COLUMN claimed_by TEXT;
      ALTER TABLE answer_pending ADD COLUMN claimed_at INTEGER;
    `,
  },
];
