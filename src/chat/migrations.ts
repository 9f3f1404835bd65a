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
  {
    // Issue 12: who the visitor is (identity verification links a shop user to one visitor across devices,
    // each device with its own token), where they were (hello context), CSAT, tags, the visitor's last
    // message for the queue, private notes and each agent's last chosen presence.
    id: "chat-003",
    sql: `
      ALTER TABLE chat_visitors ADD COLUMN name TEXT;
      ALTER TABLE chat_visitors ADD COLUMN email TEXT;
      ALTER TABLE chat_visitors ADD COLUMN external_id TEXT;
      ALTER TABLE chat_visitors ADD COLUMN verified INTEGER NOT NULL DEFAULT 0;
      CREATE UNIQUE INDEX chat_visitors_verified_user ON chat_visitors(external_id) WHERE verified = 1;
      CREATE TABLE chat_visitor_tokens (
        token_hash TEXT PRIMARY KEY,
        visitor_id TEXT NOT NULL REFERENCES chat_visitors(id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX chat_visitor_tokens_visitor ON chat_visitor_tokens(visitor_id);
      INSERT INTO chat_visitor_tokens (token_hash, visitor_id, created_at) SELECT token_hash, id, created_at FROM chat_visitors;
      ALTER TABLE chat_conversations ADD COLUMN context TEXT;
      ALTER TABLE chat_conversations ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
      ALTER TABLE chat_conversations ADD COLUMN rating_score INTEGER;
      ALTER TABLE chat_conversations ADD COLUMN rating_comment TEXT;
      ALTER TABLE chat_conversations ADD COLUMN rated_at INTEGER;
      ALTER TABLE chat_conversations ADD COLUMN last_visitor_seq INTEGER NOT NULL DEFAULT 0;
      UPDATE chat_conversations SET last_visitor_seq = COALESCE(
        (SELECT max(m.seq) FROM chat_messages m WHERE m.conversation_id = chat_conversations.id AND m.kind = 'text' AND m.sender = 'visitor'), 0);
      CREATE INDEX chat_conversations_updated ON chat_conversations(updated_at);
      CREATE TABLE chat_notes (
        id INTEGER PRIMARY KEY,
        conversation_id TEXT NOT NULL REFERENCES chat_conversations(id) ON DELETE CASCADE,
        agent_id INTEGER NOT NULL,
        client_id TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        UNIQUE (conversation_id, agent_id, client_id)
      );
      CREATE TABLE chat_agent_status (
        user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
        status TEXT NOT NULL CHECK (status IN ('online', 'away')),
        updated_at INTEGER NOT NULL
      );
    `,
  },
];

/** After every other feature's migrations (allMigrations is append-only). */
export const chatLaterMigrations: Migration[] = [
  {
    // Issue 13: the bot messages that offered choices, so the newest offer (looked up for every visitor
    // message: a choice typed back) is one index lookup instead of a read of every bot row of the conversation.
    // conversation-store.ts names it (INDEXED BY) with this condition word for word: change both.
    id: "chat-004",
    sql: "CREATE INDEX chat_messages_offers ON chat_messages(conversation_id, seq) WHERE sender = 'bot' AND json_extract(meta, '$.choices') IS NOT NULL",
  },
];
