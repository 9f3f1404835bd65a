import type { TSchema, Static } from "@sinclair/typebox";
import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";
import type { TextKey } from "./texts";

/** Why a frame was refused: an error-frame code plus the text and values to explain it. */
export interface FrameProblem {
  code: string;
  text: TextKey;
  vars?: Record<string, string | number>;
  /** Echoed so the client can match the error to the message it tried to send. */
  client_id?: string;
}

export type ParseResult<F> = { ok: true; frame: F } | { ok: false; problem: FrameProblem };

/**
 * Turns one raw WebSocket message into a validated frame of a protocol
 * (visitor or agent). Never throws: every kind of bad input becomes a problem
 * the caller reports as an `error` frame while keeping the connection open.
 */
export function createFrameParser<M extends Record<string, TSchema>>(schemas: M) {
  type Frame = { [K in keyof M]: Static<M[K]> }[keyof M];
  const checks = new Map<string, TypeCheck<TSchema>>();
  for (const [type, schema] of Object.entries(schemas)) checks.set(type, TypeCompiler.Compile(schema));

  return function parse(raw: string | Buffer | ArrayBufferLike | ArrayBufferView, maxBytes: number): ParseResult<Frame> {
    if (typeof raw !== "string") return fail({ code: "binary_frame", text: "err_binary_frame" });
    // A UTF-8 byte is at most 3 bytes per UTF-16 unit, so short frames skip the exact count.
    if (raw.length * 3 > maxBytes && Buffer.byteLength(raw) > maxBytes) {
      return fail({ code: "frame_too_large", text: "err_frame_too_large", vars: { max: maxBytes } });
    }
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      return fail({ code: "bad_json", text: "err_bad_json" });
    }
    if (!value || typeof value !== "object" || Array.isArray(value) || typeof (value as { type?: unknown }).type !== "string") {
      return fail({ code: "bad_frame", text: "err_bad_frame" });
    }
    const obj = value as { type: string; client_id?: unknown };
    const clientId = typeof obj.client_id === "string" && obj.client_id.length <= 64 ? obj.client_id : undefined;
    const check = checks.get(obj.type);
    if (!check) return fail({ code: "unknown_type", text: "err_unknown_type", vars: { type: obj.type.slice(0, 40) }, client_id: clientId });
    if (!check.Check(value)) {
      const first = check.Errors(value).First();
      const field = first?.path ? first.path.replace(/^\//, "").replaceAll("/", ".") : "";
      const detail = `${field ? `${field}: ` : ""}${first?.message ?? "does not match the schema"}`;
      return fail({ code: "invalid_frame", text: "err_invalid_frame", vars: { detail: detail.slice(0, 200) }, client_id: clientId });
    }
    return { ok: true, frame: value as Frame };
  };
}

const fail = (problem: FrameProblem): { ok: false; problem: FrameProblem } => ({ ok: false, problem });
