import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import type { TestServer } from "./helpers/server";
import { cid, startChatServer, visitor } from "./helpers/ws-client";

/**
 * Issue 12: the widget's hello names where the visitor is (context) and who they are (user). A user signed
 * by the shop's backend (hash = HMAC-SHA256(identity_secret, id)) is one visitor on every device.
 */
const SECRET = "shop-secret-for-tests";
const sign = (id: string, secret = SECRET) => createHmac("sha256", secret).update(id).digest("hex");

let s: TestServer;
let admin: string;
beforeAll(async () => {
  s = await startChatServer({ chat: { identity_secret: SECRET } });
  admin = await s.login("admin");
});
afterAll(() => s.stop());

const detail = async (id: string) => {
  const res = await fetch(`${s.url}/api/agent/conversations/${id}`, { headers: { authorization: `Bearer ${admin}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, any>;
};
const tokenCount = (visitorId: string) =>
  s.kefu.ctx.db.query<{ n: number }, [string]>("SELECT count(*) AS n FROM chat_visitor_tokens WHERE visitor_id = ?").get(visitorId)!.n;

describe("context", () => {
  test("the hello context is stored when the conversation is first written and shown to agents with the language", async () => {
    const context = { url: "https://shop.example/cart", title: "Cart", referrer: "https://www.google.com/", user_agent: "Mozilla/5.0 (iPhone)", screen: "390x844" };
    const { c, welcome } = await visitor(s.wsUrl, { lang: "en", context });
    c.send({ type: "send", client_id: cid(), text: "hello" });
    await c.nextType("ack");
    const d = await detail(welcome.conversation_id);
    expect(d.context).toEqual({ ...context, lang: "en" });
    expect(d.visitor).toMatchObject({ id: welcome.visitor_id, verified: false });
    expect(typeof d.visitor.first_seen_at).toBe("number");
    // A later hello on another page keeps the page the conversation started on.
    const { c: again } = await visitor(s.wsUrl, { token: welcome.token, context: { url: "https://shop.example/other" } });
    expect((await detail(welcome.conversation_id)).context.url).toBe(context.url);
    await again.close();
    await c.close();
  });

  test("a context field over 2000 characters is an invalid_frame, not a crash", async () => {
    const { WsClient } = await import("./helpers/ws-client");
    const c = await WsClient.connect(`${s.wsUrl}/ws`);
    c.send({ type: "hello", context: { url: "x".repeat(2001) } });
    expect(await c.nextType("error")).toMatchObject({ code: "invalid_frame" });
    // The connection is still usable.
    c.send({ type: "hello" });
    expect(await c.nextType("welcome")).toMatchObject({ state: "bot" });
    await c.close();
  });
});

describe("identity verification", () => {
  test("a verified user on a second device resumes the same visitor and open conversation, with a token of its own", async () => {
    const user = { id: "u-1042", name: "Ann", email: "ann@example.com", hash: sign("u-1042") };
    const phone = await visitor(s.wsUrl, { user });
    phone.c.send({ type: "send", client_id: cid(), text: "where is my order?" });
    await phone.c.nextType("ack");

    // A laptop that never saw the chat: no token.
    const laptop = await visitor(s.wsUrl, { user });
    expect(laptop.welcome.visitor_id).toBe(phone.welcome.visitor_id);
    expect(laptop.welcome.conversation_id).toBe(phone.welcome.conversation_id);
    expect(laptop.welcome.token).not.toBe(phone.welcome.token);
    expect(await laptop.c.nextType("message", (f) => f.from === "visitor")).toMatchObject({ text: "where is my order?" });
    expect(tokenCount(phone.welcome.visitor_id)).toBe(2);

    // Both tokens keep working, each on its device.
    const phoneAgain = await visitor(s.wsUrl, { token: phone.welcome.token });
    const laptopAgain = await visitor(s.wsUrl, { token: laptop.welcome.token });
    expect(phoneAgain.welcome.visitor_id).toBe(phone.welcome.visitor_id);
    expect(laptopAgain.welcome.visitor_id).toBe(phone.welcome.visitor_id);

    // A tablet with an anonymous visitor of its own switches to the user's visitor.
    const tablet = await visitor(s.wsUrl);
    const tabletSigned = await visitor(s.wsUrl, { token: tablet.welcome.token, user });
    expect(tabletSigned.welcome.visitor_id).toBe(phone.welcome.visitor_id);
    expect(tabletSigned.welcome.token).not.toBe(tablet.welcome.token);

    const d = await detail(phone.welcome.conversation_id);
    expect(d.visitor).toMatchObject({ id: phone.welcome.visitor_id, name: "Ann", email: "ann@example.com", verified: true, external_id: "u-1042" });
    for (const v of [phone, laptop, phoneAgain, laptopAgain, tablet, tabletSigned]) await v.c.close();
  });

  test("a device whose anonymous visitor signs in becomes the user's visitor (its conversation goes along)", async () => {
    const anon = await visitor(s.wsUrl);
    anon.c.send({ type: "send", client_id: cid(), text: "before login" });
    await anon.c.nextType("ack");
    const signed = await visitor(s.wsUrl, { token: anon.welcome.token, user: { id: "u-7", hash: sign("u-7") } });
    expect(signed.welcome).toMatchObject({ visitor_id: anon.welcome.visitor_id, token: anon.welcome.token, conversation_id: anon.welcome.conversation_id });
    expect((await detail(anon.welcome.conversation_id)).visitor).toMatchObject({ verified: true, external_id: "u-7" });
    await anon.c.close();
    await signed.c.close();
  });

  test("on a shared computer, another verified user gets a visitor of their own", async () => {
    const first = await visitor(s.wsUrl, { user: { id: "u-alice", hash: sign("u-alice") } });
    const second = await visitor(s.wsUrl, { token: first.welcome.token, user: { id: "u-bob", hash: sign("u-bob") } });
    expect(second.welcome.visitor_id).not.toBe(first.welcome.visitor_id);
    // Alice's visitor is still Alice's.
    const aliceAgain = await visitor(s.wsUrl, { user: { id: "u-alice", hash: sign("u-alice") } });
    expect(aliceAgain.welcome.visitor_id).toBe(first.welcome.visitor_id);
    for (const v of [first, second, aliceAgain]) await v.c.close();
  });

  test("a wrong hash is refused with invalid_identity, the user is ignored and the hello goes on as anonymous", async () => {
    const owner = await visitor(s.wsUrl, { user: { id: "u-victim", hash: sign("u-victim") } });
    owner.c.send({ type: "send", client_id: cid(), text: "my private order" });
    await owner.c.nextType("ack");

    const { WsClient } = await import("./helpers/ws-client");
    for (const hash of [sign("u-victim", "wrong-secret"), "00", "", sign("u-victim").toUpperCase().slice(1)]) {
      const c = await WsClient.connect(`${s.wsUrl}/ws`);
      c.send({ type: "hello", user: { id: "u-victim", name: "Mallory", hash } });
      expect(await c.nextType("error")).toMatchObject({ code: "invalid_identity" });
      const welcome = await c.nextType("welcome");
      expect(welcome.visitor_id).not.toBe(owner.welcome.visitor_id);
      expect(welcome.conversation_id).not.toBe(owner.welcome.conversation_id);
      await c.sync();
      expect(c.frames.some((f) => f.type === "message")).toBe(false);
      await c.close();
    }
    // The victim's visitor kept its name; Mallory's name was not stored anywhere.
    expect((await detail(owner.welcome.conversation_id)).visitor).toMatchObject({ verified: true, external_id: "u-victim" });
    const mallory = s.kefu.ctx.db.query<{ n: number }, []>("SELECT count(*) AS n FROM chat_visitors WHERE name = 'Mallory'").get()!.n;
    expect(mallory).toBe(0);

    // With a token, a wrong hash keeps the token's visitor.
    const anon = await visitor(s.wsUrl);
    const c = await WsClient.connect(`${s.wsUrl}/ws`);
    c.send({ type: "hello", token: anon.welcome.token, user: { id: "u-victim", hash: "bad" } });
    expect(await c.nextType("error")).toMatchObject({ code: "invalid_identity" });
    expect(await c.nextType("welcome")).toMatchObject({ visitor_id: anon.welcome.visitor_id });
    await c.close();
    await anon.c.close();
    await owner.c.close();
  });

  test("an unsigned user is stored as told and shown unverified; it never resumes another visitor nor overwrites a verified one", async () => {
    const verified = await visitor(s.wsUrl, { user: { id: "u-carol", name: "Carol", hash: sign("u-carol") } });
    verified.c.send({ type: "send", client_id: cid(), text: "hi" });
    await verified.c.nextType("ack");
    const unsigned = await visitor(s.wsUrl, { user: { id: "u-carol", name: "Not Carol", email: "x@example.com" } });
    expect(unsigned.welcome.visitor_id).not.toBe(verified.welcome.visitor_id);
    unsigned.c.send({ type: "send", client_id: cid(), text: "hi" });
    await unsigned.c.nextType("ack");
    expect((await detail(unsigned.welcome.conversation_id)).visitor).toEqual(
      expect.objectContaining({ name: "Not Carol", email: "x@example.com", verified: false, external_id: "u-carol" }),
    );
    // The same unsigned user on the verified visitor's device changes nothing.
    const sameDevice = await visitor(s.wsUrl, { token: verified.welcome.token, user: { id: "u-eve", name: "Eve" } });
    expect(sameDevice.welcome.visitor_id).toBe(verified.welcome.visitor_id);
    expect((await detail(verified.welcome.conversation_id)).visitor).toMatchObject({ name: "Carol", verified: true, external_id: "u-carol" });
    for (const v of [verified, unsigned, sameDevice]) await v.c.close();
  });
});

test("without identity_secret every user is unverified, even with a hash", async () => {
  const server = await startChatServer();
  try {
    const user = { id: "u-1", name: "Dan", hash: sign("u-1") };
    const a = await visitor(server.wsUrl, { user });
    const b = await visitor(server.wsUrl, { user });
    expect(b.welcome.visitor_id).not.toBe(a.welcome.visitor_id);
    await a.c.sync();
    expect(a.c.frames.some((f) => f.type === "error")).toBe(false);
    const row = server.kefu.ctx.db.query<{ verified: number; name: string }, [string]>("SELECT verified, name FROM chat_visitors WHERE id = ?").get(a.welcome.visitor_id);
    expect(row).toEqual({ verified: 0, name: "Dan" });
    await a.c.close();
    await b.c.close();
  } finally {
    await server.stop();
  }
});
