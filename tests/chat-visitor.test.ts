import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type TestServer } from "./helpers/server";
import { cid, scriptedBot, startChatServer, visitor, WsClient } from "./helpers/ws-client";

// Issue 4, done-when 1: send → ack → bot message; duplicate client_id; reconnect
// with last_seq; two tabs; one visitor's token cannot open another's conversation.
let server: TestServer;
const bot = scriptedBot();

beforeAll(async () => {
  server = await startChatServer({}, bot);
});
afterAll(() => server.stop());

const history = async (conversationId: string, token: string, afterSeq = 0) => {
  const res = await fetch(`${server.url}/api/conversations/${conversationId}/messages?after_seq=${afterSeq}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return { status: res.status, body: (await res.json()) as { messages: { seq: number; type: string; from?: string; text: string; client_id?: string }[]; last_seq: number } };
};

describe("visitor websocket", () => {
  test("first hello creates a visitor with a token and a conversation in state bot", async () => {
    const { c, welcome } = await visitor(server.wsUrl, { lang: "en" });
    expect(welcome.v).toBe(1);
    expect(welcome.visitor_id).toMatch(/^v_/);
    expect(welcome.token).toMatch(/^kfv_/);
    expect(welcome.conversation_id).toMatch(/^c_/);
    expect(welcome.state).toBe("bot");
    expect(welcome.last_seq).toBe(0);
    expect(welcome.limits.max_text_chars).toBeGreaterThan(0);
    await c.close();
  });

  test("send → ack after storage → streamed bot reply ending with the message of the same seq", async () => {
    const { c, welcome } = await visitor(server.wsUrl);
    const id = cid();
    c.send({ type: "send", client_id: id, text: "how do I return shoes" });
    const ack = await c.nextType("ack");
    expect(ack).toEqual({ type: "ack", client_id: id, seq: 1 });
    // The ack promises the row is on disk: read it back through the history API.
    const h = await history(welcome.conversation_id, welcome.token);
    expect(h.body.messages[0]).toMatchObject({ type: "message", seq: 1, from: "visitor", text: "how do I return shoes", client_id: id });

    const d1 = await c.nextType("delta");
    const d2 = await c.nextType("delta");
    expect(d1.seq).toBe(2);
    expect(d2.seq).toBe(2);
    expect(d1.text + d2.text).toBe("echo: how do I return shoes");
    const reply = await c.nextType("message");
    expect(reply).toMatchObject({ seq: 2, from: "bot", text: "echo: how do I return shoes", sources: [{ id: "faq-1" }] });
    await c.close();
  });

  test("the same client_id twice gives the same ack and one message", async () => {
    const { c, welcome } = await visitor(server.wsUrl);
    const id = cid();
    c.send({ type: "send", client_id: id, text: "once" });
    const first = await c.nextType("ack");
    await c.nextType("message", (f) => f.from === "bot");
    const calls = bot.calls.length;
    c.send({ type: "send", client_id: id, text: "once" });
    const second = await c.nextType("ack");
    expect(second).toEqual(first);
    await c.sync();
    expect(c.unread().filter((f) => f.type === "message" || f.type === "delta")).toEqual([]);
    expect(bot.calls.length).toBe(calls);
    const h = await history(welcome.conversation_id, welcome.token);
    expect(h.body.messages.filter((m) => m.client_id === id)).toHaveLength(1);
    expect(h.body.messages.map((m) => m.seq)).toEqual([1, 2]);
    await c.close();
  });

  test("reconnecting with last_seq replays exactly the missing messages in order, then live traffic", async () => {
    const a = await visitor(server.wsUrl);
    const { token, visitor_id, conversation_id } = a.welcome;
    a.c.send({ type: "send", client_id: cid(), text: "one" });
    await a.c.nextType("message", (f) => f.seq === 2);
    const lastSeen = 2;
    await a.c.close();

    // While disconnected, another tab keeps talking.
    const other = await visitor(server.wsUrl, { visitor_id, token });
    other.c.send({ type: "send", client_id: cid(), text: "two" });
    await other.c.nextType("message", (f) => f.seq === 4);
    other.c.send({ type: "send", client_id: cid(), text: "three" });
    await other.c.nextType("message", (f) => f.seq === 6);

    const b = await visitor(server.wsUrl, { visitor_id, token, conversation_id, last_seq: lastSeen });
    expect(b.welcome.conversation_id).toBe(conversation_id);
    expect(b.welcome.last_seq).toBe(6);
    const replayed: number[] = [];
    for (let i = 0; i < 4; i++) replayed.push((await b.c.next((f) => f.type === "message")).seq);
    expect(replayed).toEqual([3, 4, 5, 6]);
    await b.c.sync();
    expect(b.c.unread().filter((f) => f.type === "message")).toEqual([]);

    other.c.send({ type: "send", client_id: cid(), text: "four" });
    const live = await b.c.nextType("message");
    expect(live).toMatchObject({ seq: 7, from: "visitor", text: "four" });
    expect((await b.c.nextType("message")).seq).toBe(8);
    await b.c.close();
    await other.c.close();
  });

  test("two open tabs of one visitor both receive every message", async () => {
    const t1 = await visitor(server.wsUrl);
    const t2 = await visitor(server.wsUrl, { visitor_id: t1.welcome.visitor_id, token: t1.welcome.token });
    expect(t2.welcome.conversation_id).toBe(t1.welcome.conversation_id);
    const id = cid();
    t1.c.send({ type: "send", client_id: id, text: "from tab one" });
    expect((await t1.c.nextType("ack")).seq).toBe(1);
    // Tab two sees the visitor's own message, then the bot's reply; tab one sees the reply.
    expect(await t2.c.nextType("message")).toMatchObject({ seq: 1, from: "visitor", client_id: id, text: "from tab one" });
    expect(await t2.c.nextType("message")).toMatchObject({ seq: 2, from: "bot" });
    expect(await t1.c.nextType("message")).toMatchObject({ seq: 2, from: "bot" });
    await t1.c.close();
    await t2.c.close();
  });

  test("a visitor's token cannot open another visitor's conversation", async () => {
    const alice = await visitor(server.wsUrl);
    alice.c.send({ type: "send", client_id: cid(), text: "alice secret" });
    await alice.c.nextType("ack");
    const bob = await visitor(server.wsUrl);

    // Bob's token with Alice's visitor id: refused, and nothing of Alice's leaks.
    const mallory = await WsClient.connect(`${server.wsUrl}/ws`);
    mallory.send({ type: "hello", visitor_id: alice.welcome.visitor_id, token: bob.welcome.token });
    expect(await mallory.nextType("error")).toMatchObject({ code: "unauthorized" });
    mallory.send({ type: "hello", visitor_id: alice.welcome.visitor_id, token: "kfv_guessed" });
    expect(await mallory.nextType("error")).toMatchObject({ code: "unauthorized" });
    mallory.send({ type: "hello", visitor_id: alice.welcome.visitor_id });
    expect(await mallory.nextType("error")).toMatchObject({ code: "unauthorized" });
    mallory.send({ type: "send", client_id: cid(), text: "x" });
    expect(await mallory.nextType("error")).toMatchObject({ code: "hello_required" });
    await mallory.sync();
    expect(mallory.frames.some((f) => f.type === "welcome" || f.type === "message")).toBe(false);

    // Bob's own hello gives Bob's conversation, never Alice's.
    const bob2 = await visitor(server.wsUrl, { token: bob.welcome.token });
    expect(bob2.welcome.conversation_id).toBe(bob.welcome.conversation_id);
    expect(bob2.welcome.conversation_id).not.toBe(alice.welcome.conversation_id);

    // History API: Bob's token on Alice's conversation is not found; Alice's works; no token is 401.
    expect((await history(alice.welcome.conversation_id, bob.welcome.token)).status).toBe(404);
    expect((await history(alice.welcome.conversation_id, "kfv_forged")).status).toBe(401);
    expect((await fetch(`${server.url}/api/conversations/${alice.welcome.conversation_id}/messages`)).status).toBe(401);
    const own = await history(alice.welcome.conversation_id, alice.welcome.token);
    expect(own.status).toBe(200);
    expect(own.body.messages[0].text).toBe("alice secret");
    // Agents read any conversation with their bearer token.
    const agentToken = await server.login("agent");
    expect((await history(alice.welcome.conversation_id, agentToken)).body.messages[0].text).toBe("alice secret");
    for (const c of [alice.c, bob.c, bob2.c, mallory]) await c.close();
  });

  test("history API pages with after_seq", async () => {
    const v = await visitor(server.wsUrl);
    v.c.send({ type: "send", client_id: cid(), text: "page" });
    await v.c.nextType("message", (f) => f.from === "bot");
    const h = await history(v.welcome.conversation_id, v.welcome.token, 1);
    expect(h.body.messages.map((m) => m.seq)).toEqual([2]);
    expect(h.body.last_seq).toBe(2);
    await v.c.close();
  });
});
