import type { ServerWebSocket } from "bun";
import { KefuError } from "../errors/kefu-error";
import type { Logger } from "../log/logger";
import type { FrameProblem } from "./frames";
import type { ErrorFrame } from "./schemas";
import { isTextKey, type Lang, say } from "./texts";

/**
 * What a chat socket carries in `ws.data`. Elysia's shared WebSocket handler calls
 * these per event, with the raw Bun socket and the raw message (no JSON parsing).
 */
export interface ChatSocketData {
  id: string;
  open(ws: ChatSocket): void;
  message(ws: ChatSocket, raw: string | Buffer): void;
  close(ws: ChatSocket, code: number, reason: string): void;
}
export type ChatSocket = ServerWebSocket<ChatSocketData>;

/** Close code for a policy violation: flooding, no hello in time, an account that is no longer active. */
export const CLOSE_POLICY = 1008;

/** Close code when a client cannot keep up: it reconnects and replays from its last seq, so nothing is lost. */
export const CLOSE_BACKPRESSURE = 1013;

/**
 * Sends one frame. When Bun drops it (the client is too slow and its buffer is
 * full), the connection is closed instead of silently missing a frame.
 */
export function sendFrame(ws: ChatSocket, frame: object): void {
  if (ws.readyState !== 1) return;
  if (ws.send(JSON.stringify(frame)) === 0) ws.close(CLOSE_BACKPRESSURE, "too slow; reconnect with last_seq");
}

export function problemFrame(p: FrameProblem, lang: Lang): ErrorFrame {
  return { type: "error", code: p.code, message: say(lang, p.text, p.vars), ...(p.client_id ? { client_id: p.client_id } : {}) };
}

/** An error frame for anything thrown by a handler; unexpected errors are logged and stay opaque. */
export function errorFrame(err: unknown, lang: Lang, log: Logger, clientId?: string): ErrorFrame {
  if (err instanceof KefuError) {
    const key = `err_${err.code}`;
    const message = isTextKey(key) ? say(lang, key, (err.details ?? {}) as Record<string, string | number>) : err.message;
    const cid = (err as { clientId?: string }).clientId ?? clientId;
    return { type: "error", code: err.code, message, ...(cid ? { client_id: cid } : {}) };
  }
  log.error("chat frame handler failed", { err });
  return { type: "error", code: "internal", message: say(lang, "err_internal"), ...(clientId ? { client_id: clientId } : {}) };
}
