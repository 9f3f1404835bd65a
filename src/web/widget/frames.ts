/**
 * The frames of docs/protocol.md the widget uses (the server's TypeBox schemas in src/chat/schemas.ts
 * are the source of truth; these are the browser-side types, without the validator's weight).
 */
export type Source = { id: string; title?: string; url?: string };
export type Choice = { entry_id: string; question: string };
export type AgentRef = { id: number; name: string };
export type ConvState = "bot" | "queued" | "agent" | "closed";

export type Welcome = { type: "welcome"; visitor_id: string; token: string; conversation_id: string; state: ConvState; agent?: AgentRef; last_seq: number; limits: { max_text_chars: number; heartbeat_s: number }; agents_online?: boolean };
export type MessageIn = { type: "message"; seq: number; from: "visitor" | "bot" | "agent" | "system"; text: string; client_id?: string; sources?: Source[]; choices?: Choice[]; agent?: AgentRef; at: number };
export type StateIn = { type: "state"; seq: number; state: ConvState; agent?: AgentRef; text: string; at: number };
export type InFrame =
  | Welcome
  | MessageIn
  | StateIn
  | { type: "ack"; client_id: string; seq: number }
  | { type: "delta"; seq: number; text: string }
  | { type: "reset"; seq: number; reason?: string }
  | { type: "typing"; from: string; on: boolean }
  | { type: "error"; code: string; message: string; client_id?: string }
  | { type: "availability"; agents_online: boolean }
  | { type: "rated"; conversation_id: string; score: number }
  | { type: "pong" };

/** Frames that carry a client_id and wait for an ack: kept until acknowledged, resent after reconnecting. */
export type OutFrame =
  | { type: "send"; client_id: string; text: string }
  | { type: "choose"; client_id: string; entry_id: string; text: string }
  | { type: "offline_message"; client_id: string; text: string; name?: string; email?: string };
