import { describe, expect, test } from "bun:test";
import { parseSse, SseTooLargeError } from "./sse.ts";

async function* bytes(parts: (string | Uint8Array)[]) {
  const enc = new TextEncoder();
  for (const p of parts) yield typeof p === "string" ? enc.encode(p) : p;
}

async function collect(parts: (string | Uint8Array)[], limit?: number) {
  const out: { event: string; data: string }[] = [];
  for await (const e of parseSse(bytes(parts), { maxEventChars: limit })) out.push(e);
  return out;
}

describe("parseSse", () => {
  test("parses data events, with or without the space after the colon", async () => {
    expect(await collect(["data: a\n\ndata:b\n\n"])).toEqual([
      { event: "message", data: "a" },
      { event: "message", data: "b" },
    ]);
  });

  test("joins multi-line data and keeps the event name", async () => {
    expect(await collect(["event: error\ndata: x\ndata: y\n\n"])).toEqual([{ event: "error", data: "x\ny" }]);
  });

  test("skips comments and field-only lines", async () => {
    expect(await collect([": keep-alive\n\nretry: 10\ndata: z\n\n"])).toEqual([{ event: "message", data: "z" }]);
  });

  test("handles CRLF and CR line ends, even split between chunks", async () => {
    expect(await collect(["data: a\r", "\n\r\n", "data: b\r\r"])).toEqual([
      { event: "message", data: "a" },
      { event: "message", data: "b" },
    ]);
  });

  test("reassembles events and UTF-8 characters split across reads", async () => {
    const all = new TextEncoder().encode('data: {"t":"你好"}\n\n');
    const parts = Array.from(all, (b) => new Uint8Array([b]));
    expect(await collect(parts)).toEqual([{ event: "message", data: '{"t":"你好"}' }]);
  });

  test("emits a final event that lacks its blank line", async () => {
    expect(await collect(["data: a\n\ndata: [DONE]"])).toEqual([
      { event: "message", data: "a" },
      { event: "message", data: "[DONE]" },
    ]);
  });

  test("refuses an endless event", async () => {
    await expect(collect(["data: " + "x".repeat(100)], 50)).rejects.toBeInstanceOf(SseTooLargeError);
    await expect(collect(["data: 1234\n".repeat(20)], 50)).rejects.toBeInstanceOf(SseTooLargeError);
  });
});
