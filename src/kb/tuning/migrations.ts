import type { Migration } from "../../storage/migrate";

export const tuningMigrations: Migration[] = [
  {
    // Saved batch hit tests (src/kb/tuning/batch-runs.ts): the figures and every question's outcome, with the
    // knowledge-base version and thresholds they were made at, so a later run can be compared with this one.
    id: "tuning-001",
    sql: `
      CREATE TABLE kb_batch_runs (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        created_by TEXT,
        kb_version INTEGER NOT NULL,
        direct REAL NOT NULL,
        suggest REAL NOT NULL,
        llm INTEGER NOT NULL,
        cases INTEGER NOT NULL,
        figures TEXT NOT NULL,
        outcomes TEXT NOT NULL
      );
    `,
  },
];
