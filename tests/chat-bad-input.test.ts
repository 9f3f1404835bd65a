import { afterAll, beforeAll, expect, test } from "bun:test";
import { type TestServer } from "./helpers/server";
import { cid, startChatServer, visitor, WsClient } from "./helpers/ws-client";

// Issue 4, done-when 4: 1,000 malformed frames on one connection get only error
// frames, the connection stays open, and the server keeps serving others.
let server: TestServer;
beforeAll(async () => {
  // A frame budget far above the 1,000 frames sent: this test is about malformed input, not flooding (tests/chat-flood.test.ts).
  server = await startChatServer({ chat: { frame_burst: 5000 } });
});
afterAll(() => server.stop());

function malformed(i: number, maxText: number, maxFrame: number): string | Uint8Array {
  switch (i % 16) {
    case 0:
      return "{not json";
    case 1:
      return `{"type":"send","client_id":"a","text":"unterminated`;
    case 2:
      return "123";
    case 3:
      return "null";
    case 4:
      return "[1,2,3]";
    case 5:
      return JSON.stringify({ type: 42 });
    case 6:
      return JSON.stringify({ type: `nope-${i}` });
    case 7:
      return JSON.stringify({ type: "send", client_id: `c${i}`, text: 17 });
    case 8:
      return JSON.stringify({ type: "send", text: "no client id" });
    case 9:
      return JSON.stringify({ type: "typing", on: "yes" });
    case 10:
      return JSON.stringify({ type: "read", seq: -1 });
    case 11:
      return JSON.stringify({ type: "send", client_id: `huge-${i}`, text: "长".repeat(maxText + 1) });
    case 12:
      return JSON.stringify({ type: "send", client_id: `big-${i}`, text: "x".repeat(maxFrame) });
    case 13:
      return new Uint8Array([0xff, 0x00, i & 0xff]);
    case 14:
      return JSON.stringify({ type: "hello" }); // a second hello
    default:
      return JSON.stringify({ type: "send", client_id: `e${i}`, text: "   " });
  }
}

test("1,000 malformed frames → 1,000 error frames, the connection and the server stay up", async () => {
  const { max_text_chars, max_frame_bytes } = server.kefu.ctx.config.chat;
  const { c } = await visitor(server.wsUrl, { lang: "en" });
  const bystander = await visitor(server.wsUrl, { lang: "en" });

  for (let i = 0; i < 1000; i++) {
    c.send(malformed(i, max_text_chars, max_frame_bytes));
    // Meanwhile another visitor is served normally.
    if (i % 250 === 0) {
      const id = cid();
      bystander.c.send({ type: "send", client_id: id, text: `still there ${i}` });
      expect(await bystander.c.nextType("ack")).toMatchObject({ client_id: id });
      expect(await bystander.c.nextType("message")).toMatchObject({ from: "bot", text: `echo: still there ${i}` });
    }
  }
  await c.sync();
  const received = c.unread().filter((f) => f.type !== "pong");
  expect(received).toHaveLength(1000);
  expect(received.every((f) => f.type === "error" && typeof f.code === "string" && typeof f.message === "string")).toBe(true);
  const codes = new Set(received.map((f) => f.code));
  for (const code of ["bad_json", "bad_frame", "unknown_type", "invalid_frame", "text_too_long", "frame_too_large", "binary_frame", "already_hello", "empty_text"]) {
    expect(codes).toContain(code);
  }
  expect(received.find((f) => f.code === "text_too_long")?.client_id).toBe("huge-11");

  // Same connection, still usable.
  const id = cid();
  c.send({ type: "send", client_id: id, text: "a real question" });
  expect(await c.nextType("ack")).toMatchObject({ client_id: id, seq: 1 });
  expect(await c.nextType("message")).toMatchObject({ seq: 2, from: "bot" });
  const health = await fetch(`${server.url}/healthz`);
  expect(health.status).toBe(200);
  await c.close();
  await bystander.c.close();
});

test("frames far over the limit are refused unread with close code 1009", async () => {
  const c = await WsClient.connect(`${server.wsUrl}/ws`);
  c.send("x".repeat(server.kefu.ctx.config.chat.max_frame_bytes * 4 + 1));
  expect((await c.closed).code).toBe(1009);
});

test("a visitor over the message rate gets rate_limited errors and no extra messages", async () => {
  const limited = await startChatServer({ chat: { rate_burst: 3, rate_per_second: 0.01 } });
  try {
    const { c } = await visitor(limited.wsUrl, { lang: "en" });
    const ids = Array.from({ length: 5 }, () => cid());
    for (const id of ids) c.send({ type: "send", client_id: id, text: "spam" });
    for (const id of ids.slice(0, 3)) expect(await c.nextType("ack")).toMatchObject({ client_id: id });
    const errors = [await c.nextType("error"), await c.nextType("error")];
    expect(errors.map((e) => [e.code, e.client_id])).toEqual([
      ["rate_limited", ids[3]],
      ["rate_limited", ids[4]],
    ]);
    await c.close();
  } finally {
    await limited.stop();
  }
});
