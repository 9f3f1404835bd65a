import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { TestServer } from "./helpers/server";
import { agent, cid, makeAgent, scriptedBot, startChatServer, visitor, WsClient } from "./helpers/ws-client";

/** Issue 12: the frames the widget needs beyond chatting — typing previews, availability, the offline form, CSAT. */
const bot = scriptedBot();
let s: TestServer;
let admin: string;
beforeAll(async () => {
  s = await startChatServer({}, bot);
  admin = await s.login("admin");
});
afterAll(() => s.stop());

const api = (path: string) => fetch(`${s.url}${path}`, { headers: { authorization: `Bearer ${admin}` } }).then((r) => r.json() as Promise<any>);

/** A visitor who wrote once, and an agent socket watching the conversation. */
async function watched() {
  const v = await visitor(s.wsUrl);
  v.c.send({ type: "send", client_id: cid(), text: "hi" });
  await v.c.nextType("ack");
  const a = await agent(s.wsUrl, (await makeAgent(s)).token, { presence: null });
  a.c.send({ type: "watch", conversation_id: v.welcome.conversation_id });
  await a.c.sync();
  return { v, a };
}

describe("typing preview", () => {
  test("the visitor's typing text reaches watching agents only, never the visitor's other tabs", async () => {
    const tab1 = await visitor(s.wsUrl, { lang: "en" });
    tab1.c.send({ type: "send", client_id: cid(), text: "hi" });
    await tab1.c.nextType("ack");
    const tab2 = await visitor(s.wsUrl, { token: tab1.welcome.token });
    const a = await agent(s.wsUrl, (await makeAgent(s)).token, { presence: null });
    a.c.send({ type: "watch", conversation_id: tab1.welcome.conversation_id });

    await a.c.sync();
    tab1.c.send({ type: "typing", on: true, text: "I want to ret" });
    expect(await a.c.nextType("typing")).toEqual({ type: "typing", conversation_id: tab1.welcome.conversation_id, from: "visitor", on: true, text: "I want to ret" });
    tab1.c.send({ type: "typing", on: true, text: "I want to return" });
    expect(await a.c.nextType("typing")).toMatchObject({ on: true, text: "I want to return" });
    tab1.c.send({ type: "typing", on: false });
    expect(await a.c.nextType("typing")).toEqual({ type: "typing", conversation_id: tab1.welcome.conversation_id, from: "visitor", on: false });

    await tab2.c.sync();
    await tab1.c.sync();
    for (const tab of [tab1, tab2]) expect(tab.c.frames.filter((f) => f.type === "typing")).toEqual([]);
    for (const x of [tab1, tab2, a]) await x.c.close();
  });

  test("previews faster than the budget arrive late but the newest wins", async () => {
    const { v, a } = await watched();
    for (let i = 1; i <= 12; i++) v.c.send({ type: "typing", on: true, text: "x".repeat(i) });
    await a.c.next((f) => f.type === "typing" && f.text === "x".repeat(12), "the newest preview");
    expect(a.c.frames.filter((f) => f.type === "typing").length).toBeLessThan(12);
    await v.c.close();
    await a.c.close();
  });

  test("a preview over 500 characters is refused with invalid_frame and forwards nothing", async () => {
    const { v, a } = await watched();
    v.c.send({ type: "typing", on: true, text: "x".repeat(501) });
    const err = await v.c.nextType("error");
    expect(err.code).toBe("invalid_frame");
    expect(err.message).toContain("text");
    await a.c.sync();
    expect(a.c.frames.filter((f) => f.type === "typing")).toEqual([]);
    await v.c.close();
    await a.c.close();
  });
});

describe("availability", () => {
  test("welcome.agents_online and availability follow online agents; away does not count", async () => {
    const server = await startChatServer({}, scriptedBot());
    try {
      const v = await visitor(server.wsUrl);
      expect(v.welcome.agents_online).toBe(false);
      v.c.send({ type: "availability" });
      expect(await v.c.nextType("availability")).toEqual({ type: "availability", agents_online: false });
      const ag = await makeAgent(server);
      const a = await agent(server.wsUrl, ag.token);
      await a.c.sync();
      v.c.send({ type: "availability" });
      expect(await v.c.nextType("availability")).toEqual({ type: "availability", agents_online: true });
      expect((await visitor(server.wsUrl, { token: v.welcome.token })).welcome.agents_online).toBe(true);
      a.c.send({ type: "presence", status: "away" });
      await a.c.sync();
      v.c.send({ type: "availability" });
      expect(await v.c.nextType("availability")).toEqual({ type: "availability", agents_online: false });
      await a.c.close();
      await v.c.close();
    } finally {
      await server.stop();
    }
  });

  test("availability before hello is hello_required", async () => {
    const c = await WsClient.connect(`${s.wsUrl}/ws`);
    c.send({ type: "availability" });
    expect(await c.nextType("error")).toMatchObject({ code: "hello_required" });
    await c.close();
  });
});

describe("offline message", () => {
  test("stored as a visitor message, acked, name and e-mail kept unverified, the conversation a ticket, the bot silent", async () => {
    const calls = bot.calls.length;
    const v = await visitor(s.wsUrl, { lang: "en" });
    const clientId = cid();
    v.c.send({ type: "offline_message", client_id: clientId, name: " Ann ", email: "ann@example.com", text: "When does order 1042 ship?" });
    const ack = await v.c.nextType("ack");
    expect(ack).toEqual({ type: "ack", client_id: clientId, seq: 1 });
    expect(await v.c.nextType("state")).toMatchObject({ state: "queued" });
    await v.c.nextType("message", (f) => f.from === "system");
    // The same client_id again: the same ack, nothing new.
    v.c.send({ type: "offline_message", client_id: clientId, text: "When does order 1042 ship?" });
    expect(await v.c.nextType("ack")).toEqual(ack);
    await Bun.sleep(50);
    expect(bot.calls.length).toBe(calls);

    const queue = await api("/api/agent/queue");
    const summary = queue.queued.find((q: any) => q.conversation_id === v.welcome.conversation_id);
    expect(summary).toMatchObject({
      queued_reason: "offline_message",
      last_text: "When does order 1042 ship?",
      last_visitor_seq: 1,
      visitor: { id: v.welcome.visitor_id, name: "Ann", email: "ann@example.com", verified: false },
    });
    const rows = s.kefu.ctx.db
      .query<{ seq: number; sender: string; kind: string }, [string]>("SELECT seq, sender, kind FROM chat_messages WHERE conversation_id = ? ORDER BY seq")
      .all(v.welcome.conversation_id);
    expect(rows.filter((r) => r.sender === "bot")).toEqual([]);
    await v.c.close();
  });

  test("the same limits and errors as send", async () => {
    const v = await visitor(s.wsUrl, { lang: "en" });
    v.c.send({ type: "offline_message", client_id: "e1", text: "   " });
    expect(await v.c.nextType("error")).toMatchObject({ code: "empty_text", client_id: "e1" });
    v.c.send({ type: "offline_message", client_id: "e2", text: "x".repeat(4001) });
    expect(await v.c.nextType("error")).toMatchObject({ code: "text_too_long", client_id: "e2" });
    v.c.send({ type: "offline_message", client_id: "e3", email: "x".repeat(321), text: "hi" });
    expect(await v.c.nextType("error")).toMatchObject({ code: "invalid_frame", client_id: "e3" });
    v.c.send({ type: "offline_message", text: "hi" });
    expect(await v.c.nextType("error")).toMatchObject({ code: "invalid_frame" });
    await v.c.sync();
    expect(v.c.frames.some((f) => f.type === "ack")).toBe(false);
    await v.c.close();
  });

  test("in a conversation an agent owns it is just a message for the agent", async () => {
    const server = await startChatServer({}, scriptedBot());
    try {
      const ag = await makeAgent(server);
      const a = await agent(server.wsUrl, ag.token);
      const v = await visitor(server.wsUrl, { lang: "en" });
      v.c.send({ type: "handoff" });
      await a.c.nextType("assigned");
      v.c.send({ type: "offline_message", client_id: cid(), text: "still there?" });
      await v.c.nextType("ack");
      expect(await a.c.nextType("message", (f) => f.from === "visitor")).toMatchObject({ text: "still there?" });
      expect((await server.kefu.ctx.chat.getConversation(v.welcome.conversation_id))?.state).toBe("agent");
      await v.c.close();
      await a.c.close();
    } finally {
      await server.stop();
    }
  });
});

describe("rating", () => {
  test("a visitor rates a closed conversation; rating again replaces it; agents see it in the summary", async () => {
    const v = await visitor(s.wsUrl, { lang: "en" });
    v.c.send({ type: "send", client_id: cid(), text: "hello" });
    await v.c.nextType("ack");
    const id = v.welcome.conversation_id;
    const closed = await fetch(`${s.url}/api/agent/conversations/${id}/close`, { method: "POST", headers: { authorization: `Bearer ${admin}` } });
    expect(closed.status).toBe(200);
    await v.c.nextType("state", (f) => f.state === "closed");
    v.c.send({ type: "rate", conversation_id: id, score: 2, comment: "slow" });
    expect(await v.c.nextType("rated")).toEqual({ type: "rated", conversation_id: id, score: 2 });
    expect((await api(`/api/agent/conversations/${id}`)).rating).toEqual({ score: 2, comment: "slow" });
    v.c.send({ type: "rate", conversation_id: id, score: 5 });
    expect(await v.c.nextType("rated")).toEqual({ type: "rated", conversation_id: id, score: 5 });
    expect((await api(`/api/agent/conversations/${id}`)).rating).toEqual({ score: 5 });
    await v.c.close();
  });

  test("another visitor's conversation, a draft, or an unknown id is not_found; bad scores and long comments are invalid_frame", async () => {
    const owner = await visitor(s.wsUrl, { lang: "en" });
    owner.c.send({ type: "send", client_id: cid(), text: "mine" });
    await owner.c.nextType("ack");
    const other = await visitor(s.wsUrl, { lang: "en" });
    for (const conversation_id of [owner.welcome.conversation_id, other.welcome.conversation_id, "c_nope"]) {
      other.c.send({ type: "rate", conversation_id, score: 1 });
      expect(await other.c.nextType("error")).toMatchObject({ code: "not_found" });
    }
    for (const bad of [{ score: 0 }, { score: 6 }, { score: 3.5 }, { score: 3, comment: "x".repeat(1001) }]) {
      owner.c.send({ type: "rate", conversation_id: owner.welcome.conversation_id, ...bad });
      expect(await owner.c.nextType("error")).toMatchObject({ code: "invalid_frame" });
    }
    const stored = s.kefu.ctx.db.query<{ rating_score: number | null }, [string]>("SELECT rating_score FROM chat_conversations WHERE id = ?").get(owner.welcome.conversation_id);
    expect(stored).toEqual({ rating_score: null });
    await owner.c.close();
    await other.c.close();
  });
});
