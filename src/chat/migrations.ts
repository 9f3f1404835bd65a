import type { Migration } from "../storage/migrate";

export const chatMigrations: Migration[] = [
  {
    id: "chat-001",
    sql: `
      CREATE TABLE chat_visitors (
        id TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        lang TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL
      );
      CREATE TABLE chat_conversations (
        id TEXT PRIMARY KEY,
        visitor_id TEXT NOT NULL REFERENCES chat_visitors(id) ON DELETE CASCADE,
        state TEXT NOT NULL CHECK (state IN ('bot', 'queued', 'agent', 'closed')),
        agent_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
        lang TEXT NOT NULL,
        last_seq INTEGER NOT NULL DEFAULT 0,
        bot_misses INTEGER NOT NULL DEFAULT 0,
        visitor_read_seq INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        queued_at INTEGER,
        closed_at INTEGER
      );
      CREATE INDEX chat_conversations_visitor ON chat_conversations(visitor_id, created_at);
      CREATE INDEX chat_conversations_state ON chat_conversations(state, queued_at);
      CREATE INDEX chat_conversations_agent ON chat_conversations(agent_id, state);
      -- One row per message or state change; seq is gap-free per conversation.
      CREATE TABLE chat_messages (
        conversation_id TEXT NOT NULL REFERENCES chat_conversations(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('text', 'state')),
        sender TEXT NOT NULL CHECK (sender IN ('visitor', 'bot', 'agent', 'system')),
        text TEXT NOT NULL,
        client_id TEXT,
        agent_id INTEGER,
        meta TEXT,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (conversation_id, seq)
      ) WITHOUT ROWID;
      CREATE UNIQUE INDEX chat_messages_client_id ON chat_messages(conversation_id, client_id) WHERE client_id IS NOT NULL;
    `,
  },
  {
    // The reason a conversation waits for a human, shown with it in the agents' queue (a ticket's reason).
    id: "chat-002",
    sql: "ALTER TABLE chat_conversations ADD COLUMN queued_reason TEXT;",
  },
];
