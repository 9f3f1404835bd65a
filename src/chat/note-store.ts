import type { Database } from "bun:sqlite";

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

export function createNoteStore(db: Database) {
  const insert = db.query<NoteRow, [string, number, string, string, number]>(
    "INSERT INTO chat_notes (conversation_id, agent_id, client_id, text, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING *",
  );
  const byClientId = db.query<NoteRow, [string, number, string]>("SELECT * FROM chat_notes WHERE conversation_id = ? AND agent_id = ? AND client_id = ?");
  const list = db.query<NoteRow, [string, number]>("SELECT * FROM (SELECT * FROM chat_notes WHERE conversation_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id");
  return {
    /** Stores a note; the same agent's repeated client_id returns the stored one (duplicate = true). */
    add(conversationId: string, agentId: number, clientId: string, text: string): { note: Note; duplicate: boolean } {
      const row = insert.get(conversationId, agentId, clientId, text, Date.now());
      if (row) return { note: toNote(row), duplicate: false };
      return { note: toNote(byClientId.get(conversationId, agentId, clientId)!), duplicate: true };
    },
    /** The conversation's notes, oldest first (the newest MAX_NOTES). */
    list(conversationId: string): Note[] {
      return list.all(conversationId, MAX_NOTES).map(toNote);
    },
  };
}
export type NoteStore = ReturnType<typeof createNoteStore>;
