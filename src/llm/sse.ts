/**
 * Server-sent events parser (the subset of the WHATWG algorithm chat-completion streams use).
 *
 * Providers differ in the details: CRLF line ends (some proxies), comment lines as keep-alives
 * (OpenRouter sends `: PROCESSING`), `data:` with or without the space, events split across network
 * reads at any byte, even inside a multi-byte UTF-8 character. The parser handles all of them and
 * leaves the meaning of `data` to the caller.
 */

export interface SseEvent {
  /** `event:` field, "message" when absent. */
  event: string;
  /** `data:` lines joined with "\n". */
  data: string;
}

export interface SseOptions {
  /** Largest accepted event in characters; a provider that never sends a blank line must not exhaust memory. Default 1 MiB. */
  maxEventChars?: number;
}

export class SseTooLargeError extends Error {
  constructor(limit: number) {
    super(`server-sent event larger than ${limit} characters`);
    this.name = "SseTooLargeError";
  }
}

export async function* parseSse(
  chunks: AsyncIterable<Uint8Array>,
  opts: SseOptions = {},
): AsyncGenerator<SseEvent> {
  const limit = opts.maxEventChars ?? 1 << 20;
  const decoder = new TextDecoder();
  let buffer = "";
  let data: string[] = [];
  let dataChars = 0;
  let event = "";

  function* lines(final: boolean): Generator<SseEvent> {
    for (;;) {
      const m = /\r\n|\r|\n/.exec(buffer);
      // A lone "\r" at the end may be the first half of "\r\n": wait for the next chunk.
      if (!m || (!final && m[0] === "\r" && m.index === buffer.length - 1)) break;
      const line = buffer.slice(0, m.index);
      buffer = buffer.slice(m.index + m[0].length);
      if (line === "") {
        if (data.length > 0) yield { event: event || "message", data: data.join("\n") };
        data = [];
        dataChars = 0;
        event = "";
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") {
        dataChars += value.length;
        if (dataChars > limit) throw new SseTooLargeError(limit);
        data.push(value);
      } else if (field === "event") {
        event = value;
      }
    }
    if (buffer.length > limit) throw new SseTooLargeError(limit);
  }

  for await (const chunk of chunks) {
    buffer += decoder.decode(chunk, { stream: true });
    yield* lines(false);
  }
  buffer += decoder.decode();
  yield* lines(true);
  // The spec drops an unterminated final event; providers that omit the last blank line still mean it.
  if (buffer !== "") {
    buffer += "\n\n";
    yield* lines(true);
  } else if (data.length > 0) {
    yield { event: event || "message", data: data.join("\n") };
  }
}
