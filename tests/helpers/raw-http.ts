import { connect } from "node:net";

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Everything the server sent, for messages. */
  raw: string;
}

/**
 * One HTTP/1.1 exchange over a plain TCP socket, written byte for byte as given: unlike fetch, it can send
 * any Host header (or none), any request target, and headers without a body. Resolves when the server
 * closes the connection or `waitMs` passes.
 */
export function rawRequest(port: number, request: string | Uint8Array, opts: { waitMs?: number; host?: string } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, opts.host ?? "127.0.0.1");
    const chunks: Buffer[] = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(parseResponse(Buffer.concat(chunks).toString("latin1")));
    };
    const timer = setTimeout(finish, opts.waitMs ?? 3000);
    socket.on("connect", () => socket.write(request));
    socket.on("data", (d: Buffer) => {
      chunks.push(d);
      // A complete response with Content-Length: no need to wait for the close.
      const text = Buffer.concat(chunks).toString("latin1");
      const end = text.indexOf("\r\n\r\n");
      if (end !== -1) {
        const m = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, end));
        if (m && Buffer.byteLength(text.slice(end + 4), "latin1") >= Number(m[1])) finish();
        // Switching protocols: the HTTP part is over.
        if (text.startsWith("HTTP/1.1 101")) finish();
      }
    });
    socket.on("end", finish);
    socket.on("close", finish);
    socket.on("error", (e) => (chunks.length ? finish() : reject(e)));
  });
}

function parseResponse(raw: string): RawResponse {
  const end = raw.indexOf("\r\n\r\n");
  const head = end === -1 ? raw : raw.slice(0, end);
  const [statusLine, ...lines] = head.split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? "")?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(":");
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const body = end === -1 ? "" : Buffer.from(raw.slice(end + 4), "latin1").toString("utf8");
  return { status, headers, body, raw };
}

/** A request with the given target and Host (null: no Host line at all). */
export function requestText(method: string, target: string, host: string | null, headers: Record<string, string> = {}, body?: string): string {
  const lines = [`${method} ${target} HTTP/1.1`];
  if (host !== null) lines.push(`Host: ${host}`);
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  if (body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  lines.push("Connection: close", "", body ?? "");
  return lines.join("\r\n");
}
