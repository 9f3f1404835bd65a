import type { Sql } from "../storage/sql";

/** A private note of an agent about a conversation. Not part of the conversation's stream: visitors never see it. */
export interface Note {
  id: number;
  conversationId: string;
  agentId: number;
  clientId: string;
  text: string;
  createdAt: number;
}

interface NoteRow {
  id: number;
  conversation_id: string;
  agent_id: number;
  client_id: string;
  text: string;
  created_at: number;
}

const toNote = (r: NoteRow): Note => ({
  id: r.id,
  conversationId: r.conversation_id,
  agentId: r.agent_id,
  clientId: r.client_id,
  text: r.text,
  createdAt: r.created_at,
});

/** Most notes listed or replayed for one conversation (the newest). */
export const MAX_NOTES = 500;

export interface NoteStore {
  /** Stores a note; the same agent's repeated client_id returns the stored one (duplicate = true). */
  add(conversationId: string, agentId: number, clientId: string, text: string): Promise<{ note: Note; duplicate: boolean }>;
  /** The conversation's notes, oldest first (the newest MAX_NOTES). */
  list(conversationId: string): Promise<Note[]>;
}

export function createNoteStore(sql: Sql): NoteStore {
  const insert = "INSERT INTO chat_notes (conversation_id, agent_id, client_id, text, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING *";
  const byClientId = "SELECT * FROM chat_notes WHERE conversation_id = ? AND agent_id = ? AND client_id = ?";
  const list = "SELECT * FROM (SELECT * FROM chat_notes WHERE conversation_id = ? ORDER BY id DESC LIMIT ?) AS t ORDER BY id";
  return {
    async add(conversationId, agentId, clientId, text) {
      const row = await sql.get<NoteRow>(insert, [conversationId, agentId, clientId, text, Date.now()]);
      if (row) return { note: toNote(row), duplicate: false };
      return { note: toNote((await sql.get<NoteRow>(byClientId, [conversationId, agentId, clientId]))!), duplicate: true };
    },
    async list(conversationId) {
      return (await sql.all<NoteRow>(list, [conversationId, MAX_NOTES])).map(toNote);
    },
  };
}
