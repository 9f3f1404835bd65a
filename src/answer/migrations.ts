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
