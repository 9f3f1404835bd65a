import type { Migration } from "../storage/migrate";

export const insightsMigrations: Migration[] = [
  {
    // Issue 14: the answer log. One row per answered visitor question (chat and /api/ask): how it was answered,
    // with which entry, how fast; `resolved` once an admin turned it into an entry or dismissed it. A chat row
    // goes with its conversation (erasure, retention) through the cascade.
    id: "insights-001",
    sql: `
      CREATE TABLE insights_answers (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL CHECK (source IN ('chat', 'api')),
        conversation_id TEXT REFERENCES chat_conversations(id) ON DELETE CASCADE,
        visitor_seq INTEGER,
        reply_seq INTEGER,
        question TEXT NOT NULL,
        path TEXT NOT NULL,
        step TEXT,
        entry_id TEXT,
        confidence REAL NOT NULL DEFAULT 0,
        latency_ms INTEGER NOT NULL DEFAULT 0,
        resolved TEXT,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX insights_answers_conversation ON insights_answers(conversation_id, visitor_seq);
      CREATE INDEX insights_answers_created ON insights_answers(created_at);
      CREATE INDEX insights_answers_entry ON insights_answers(entry_id, created_at);
    `,
  },
];
