import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import type { TestServer } from "./helpers/server";
import { agent, cid, startChatServer, visitor } from "./helpers/ws-client";

/** Review of issue 12: what a hostile visitor can make the server store or do with rate and offline_message. */
const SECRET = "abuse-secret";
let s: TestServer;
let admin: string;
beforeAll(async () => {
  s = await startChatServer({ chat: { identity_secret: SECRET } });
  admin = await s.login("admin");
}, 60_000);
afterAll(() => s.stop());

const visitorRow = (id: string) =>
  s.kefu.ctx.db.query<{ name: string | null; email: string | null }, [string]>("SELECT name, email FROM chat_visitors WHERE id = ?").get(id)!;

describe("rating spam", () => {
  test("ratings count against the visitor's message rate: a burst is rate_limited, and agents are not sent a queue per rating", async () => {
    const v = await visitor(s.wsUrl, { lang: "en" });
    v.c.send({ type: "send", client_id: cid(), text: "hello" });
    await v.c.nextType("ack");
    const id = v.welcome.conversation_id;
    const a = await agent(s.wsUrl, admin, { presence: null });
    await a.c.sync();
    const queuesBefore = a.c.frames.filter((f) => f.type === "queue").length;
    // 30 ratings, each in its own event-loop turn on the server.
    for (let i = 0; i < 30; i++) {
      v.c.send({ type: "rate", conversation_id: id, score: 1 + (i % 5) });
      await Bun.sleep(2);
    }
    await v.c.sync();
    await a.c.sync();
    const rated = v.c.frames.filter((f) => f.type === "rated").length;
    const limited = v.c.frames.filter((f) => f.type === "error" && f.code === "rate_limited").length;
    // rate_burst (10) of them stored, the rest refused; one of the messages' budget was spent on "hello".
    expect(rated).toBeLessThanOrEqual(10);
    expect(rated + limited).toBe(30);
    expect(a.c.frames.filter((f) => f.type === "queue").length - queuesBefore).toBeLessThanOrEqual(10);
    await v.c.close();
    await a.c.close();
  }, 30_000);
});

describe("what a visitor says about themselves", () => {
  test("control and bidi-override characters in an offline form's name and e-mail are not stored", async () => {
    const v = await visitor(s.wsUrl, { lang: "en" });
    v.c.send({ type: "offline_message", client_id: cid(), text: "call me", name: "Ann\u0000\u001b[31m\u202eevil\nLine", email: " ann@example.com\r\n\u202e" });
    await v.c.nextType("ack");
    expect(visitorRow(v.welcome.visitor_id)).toEqual({ name: "Ann [31m evil Line", email: "ann@example.com" });
    // HTML is text: stored as written (front ends render it as text).
    v.c.send({ type: "offline_message", client_id: cid(), text: "again", name: "<img src=x onerror=alert(1)>" });
    await v.c.nextType("ack");
    expect(visitorRow(v.welcome.visitor_id).name).toBe("<img src=x onerror=alert(1)>");
    await v.c.close();
  });

  test("the same for a hello's user, signed or not; a name of only control characters is no name", async () => {
    const unsigned = await visitor(s.wsUrl, { user: { id: "u-x", name: "\u0007\u0008", email: "x@example.com\u0000" } });
    expect(visitorRow(unsigned.welcome.visitor_id)).toEqual({ name: null, email: "x@example.com" });
    const hash = createHmac("sha256", SECRET).update("u-y").digest("hex");
    const signed = await visitor(s.wsUrl, { user: { id: "u-y", name: "Bob\u2066\u202d Smith", hash } });
    expect(visitorRow(signed.welcome.visitor_id).name).toBe("Bob Smith");
    await unsigned.c.close();
    await signed.c.close();
  });
});
