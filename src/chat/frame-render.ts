import type { StoredMessage } from "./conversation-store";
import type { MessageFrame, StateFrame } from "./schemas";

/** The frame a stored row is replayed and delivered as. */
export function toFrame(m: StoredMessage): MessageFrame | StateFrame {
  const agent = m.meta?.agent;
  if (m.kind === "state") {
    return { type: "state", seq: m.seq, state: m.meta?.state ?? "bot", ...(agent ? { agent } : {}), text: m.text, at: m.createdAt };
  }
  return {
    type: "message",
    seq: m.seq,
    from: m.sender,
    text: m.text,
    ...(m.clientId ? { client_id: m.clientId } : {}),
    ...(m.meta?.sources?.length ? { sources: m.meta.sources } : {}),
    ...(m.meta?.choices?.length ? { choices: m.meta.choices } : {}),
    ...(agent ? { agent } : {}),
    at: m.createdAt,
  };
}
