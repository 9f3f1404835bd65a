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

/**
 * Introduced after the plugins' first migration (appended in that order, src/storage/migrations.ts).
 * insights-002: entry hits (the admin's entry list, every page) counted every answer row of the entries shown; a
 * partial index of the hit rows alone, on (entry_id, created_at), reads only those (1.1 s → 80 ms a page
 * for 900,000 hits). Its WHERE is HIT_WHERE (answer-log.ts) word for word: SQLite uses a partial index only for a
 * query that repeats its condition (tests/review-14-api.test.ts checks the plan).
 */
export const insightsLaterMigrations: Migration[] = [
  {
    id: "insights-002",
    sql: "CREATE INDEX insights_answers_hits ON insights_answers(entry_id, created_at) WHERE (path IN ('direct', 'choice') OR (path = 'cache' AND step = 'direct'))",
  },
];
