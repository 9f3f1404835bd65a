/**
 * The console's view of the protocol: the server's own schema types (src/chat/schemas.ts), imported as
 * types only, so nothing of the server is bundled.
 */
import type {
  AgentRef,
  AgentSummary,
  ConversationDetail,
  ConversationSummary,
  MessageFrame,
  NoteFrame,
  QueueFrame,
  StateFrame,
  Suggestion,
} from "../../chat/schemas";
import type { CannedCreateBody, CannedPatchBody, CannedReplyView } from "../../canned/schemas";

export type { AgentRef, AgentSummary, Suggestion };

export type Summary = ConversationSummary;
export type Detail = ConversationDetail;
export type Note = NoteFrame;
export type Canned = CannedReplyView;
export type { CannedCreateBody, CannedPatchBody };
export type QueueSnapshot = Omit<QueueFrame, "type">;

export interface Suggestions {
  question: string;
  suggestions: Suggestion[];
}

export interface User {
  id: number;
  name: string;
  role: string;
  display_name?: string | null;
}

/** A stored row of a conversation's stream: a message or a state change. */
export type StreamItem = MessageFrame | StateFrame;

/** Any frame the server sends on /ws/agent, loosely typed: unknown types and fields are ignored. */
export type ServerFrame = { type: string; [k: string]: unknown };
