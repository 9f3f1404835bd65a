import type { Migration } from "../storage/migrate";

export const opsMigrations: Migration[] = [
  {
    // The audit log: who did what to which target, when and from where. Append only: no API edits it, and an
    // UPDATE is refused by the trigger. Rows outlive the accounts they name (no foreign key); [retention] audit_days
    // deletes old ones.
    id: "ops-001",
    sql: `
      CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        actor_id INTEGER,
        action TEXT NOT NULL,
        target TEXT,
        ip TEXT,
        detail TEXT
      );
      CREATE INDEX audit_log_at ON audit_log(at);
      CREATE INDEX audit_log_action ON audit_log(action, id);
      CREATE INDEX audit_log_actor ON audit_log(actor, id);
      CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log rows are never edited'); END;
    `,
  },
];
