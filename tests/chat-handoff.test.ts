import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { type TestServer } from "./helpers/server";
import { agent, cid, makeAgent, scriptedBot, startChatServer, visitor, type WsClient } from "./helpers/ws-client";

// Issue 4, done-when 2, plus the other handoff triggers and the agent features.
let server: TestServer;
const bot = scriptedBot();
const open: WsClient[] = [];
const track = <T extends { c: WsClient }>(x: T) => (open.push(x.c), x);

beforeAll(async () => {
  server = await startChatServer({ chat: { bot_misses_before_handoff: 2 } }, bot);
});
afterEach(async () => {
  // Each test leaves no agent online and nothing queued for the next one.
  for (const c of open.splice(0)) await c.close();
  server.kefu.ctx.db.run("UPDATE chat_conversations SET state = 'closed' WHERE state != 'closed'");
});
afterAll(() => server.stop());

const sendText = async (c: WsClient, text: string) => {
  c.send({ type: "send", client_id: cid(), text });
  return (await c.nextType("ack")).seq as number;
};

describe("handoff to a human", () => {
  test("转人工 → queued → agent assigned → agent reply reaches visitor → bot silent → return to bot → bot answers", async () => {
    const staff = await makeAgent(server, { displayName: "Lin" });
    const a = track(await agent(server.wsUrl, staff.token));
    expect(a.welcome.agent).toEqual({ id: staff.id, name: "Lin" });
    const v = track(await visitor(server.wsUrl, { lang: "zh" }));

    expect(await sendText(v.c, "我要转人工")).toBe(1);
    const queued = await v.c.nextType("state");
    expect(queued).toMatchObject({ seq: 2, state: "queued" });
    expect(queued.text).toContain("人工客服");
    const assigned = await v.c.nextType("state");
    expect(assigned).toMatchObject({ seq: 3, state: "agent", agent: { id: staff.id, name: "Lin" } });
    expect(assigned.text).toContain("Lin");
    expect(bot.calls).not.toContain("我要转人工");

    // The agent is told, and gets the conversation's history.
    const note = await a.c.nextType("assigned");
    expect(note.conversation).toMatchObject({ conversation_id: v.welcome.conversation_id, state: "agent", agent: { id: staff.id } });
    expect(await a.c.nextType("message", (f) => f.seq === 1)).toMatchObject({ conversation_id: v.welcome.conversation_id, from: "visitor", text: "我要转人工" });

    const replyId = cid("agent");
    a.c.send({ type: "send", conversation_id: v.welcome.conversation_id, client_id: replyId, text: "您好，我是小林" });
    expect(await a.c.nextType("ack")).toEqual({ type: "ack", conversation_id: v.welcome.conversation_id, client_id: replyId, seq: 4 });
    expect(await v.c.nextType("message")).toMatchObject({ seq: 4, from: "agent", text: "您好，我是小林", agent: { id: staff.id, name: "Lin" } });

    // While the agent owns the conversation the bot says nothing.
    const calls = bot.calls.length;
    expect(await sendText(v.c, "我的订单号是 123")).toBe(5);
    expect(await a.c.nextType("message", (f) => f.seq === 5)).toMatchObject({ from: "visitor", text: "我的订单号是 123" });
    await v.c.sync();
    await a.c.sync();
    expect(bot.calls.length).toBe(calls);
    expect(v.c.unread().filter((f) => f.type === "message" || f.type === "delta")).toEqual([]);

    // Typing goes from agent to visitor.
    a.c.send({ type: "typing", conversation_id: v.welcome.conversation_id, on: true });
    expect(await v.c.nextType("typing")).toEqual({ type: "typing", from: "agent", on: true });
    // Read receipts go from visitor to agent, capped at the last stored seq.
    v.c.send({ type: "read", seq: 99 });
    expect(await a.c.nextType("read")).toEqual({ type: "read", conversation_id: v.welcome.conversation_id, seq: 5 });

    a.c.send({ type: "return_to_bot", conversation_id: v.welcome.conversation_id });
    expect(await v.c.nextType("state")).toMatchObject({ seq: 6, state: "bot" });
    expect(await sendText(v.c, "退货运费谁出")).toBe(7);
    expect(await v.c.nextType("message")).toMatchObject({ seq: 8, from: "bot", text: "echo: 退货运费谁出" });
  });

  test("the handoff frame and English keywords ask for a human; texts follow hello.lang", async () => {
    const v = track(await visitor(server.wsUrl, { lang: "en-US" }));
    v.c.send({ type: "handoff" });
    const s = await v.c.nextType("state");
    expect(s).toMatchObject({ state: "queued", text: "Connecting you to a human agent, please wait…" });
    // No agent is online: the visitor is told, and the conversation waits as a ticket.
    expect(await v.c.nextType("message")).toMatchObject({ from: "system", text: expect.stringContaining("No agent is online") });

    const w = track(await visitor(server.wsUrl, { lang: "en" }));
    await sendText(w.c, "can I talk to a HUMAN please");
    expect(await w.c.nextType("state")).toMatchObject({ state: "queued" });
    const x = track(await visitor(server.wsUrl, { lang: "en" }));
    await sendText(x.c, "what is a user-agentic workflow");
    expect(await x.c.nextType("message")).toMatchObject({ from: "bot" });
  });

  test("N unconfident bot answers in a row hand over; a confident one resets the count", async () => {
    const v = track(await visitor(server.wsUrl, { lang: "en" }));
    await sendText(v.c, "??? one");
    expect(await v.c.nextType("message")).toMatchObject({ from: "bot", text: "not sure" });
    await sendText(v.c, "known question");
    expect(await v.c.nextType("message")).toMatchObject({ from: "bot", text: "echo: known question" });
    await sendText(v.c, "??? two");
    expect(await v.c.nextType("message")).toMatchObject({ from: "bot", text: "not sure" });
    await v.c.sync();
    expect(v.c.unread().some((f) => f.type === "state")).toBe(false);
    await sendText(v.c, "??? three");
    expect(await v.c.nextType("message")).toMatchObject({ from: "bot", text: "not sure" });
    expect(await v.c.nextType("state")).toMatchObject({ state: "queued" });
  });

  test("a bot handoff event and a plugin request on the bus hand over too", async () => {
    const v = track(await visitor(server.wsUrl, { lang: "en" }));
    server.kefu.ctx.bus.publish("chat:handoff", { conversation_id: v.welcome.conversation_id, reason: "vip" });
    expect(await v.c.nextType("state")).toMatchObject({ state: "queued" });

    const own = scriptedBot(() => [{ type: "delta", text: "let me check" }, { type: "handoff", reason: "refund" }]);
    server.kefu.ctx.bot = own;
    try {
      const w = track(await visitor(server.wsUrl, { lang: "en" }));
      await sendText(w.c, "refund please");
      expect(await w.c.nextType("delta")).toMatchObject({ seq: 2, text: "let me check" });
      // The half-streamed text is dropped, and its seq goes to the state change.
      expect(await w.c.nextType("reset")).toMatchObject({ seq: 2, reason: "superseded" });
      expect(await w.c.nextType("state")).toMatchObject({ seq: 2, state: "queued" });
      expect(w.c.frames.some((f) => f.type === "message" && f.from === "bot")).toBe(false);
    } finally {
      server.kefu.ctx.bot = bot;
    }
  });

  test("a ticket waits while no agent is online and is assigned when one comes online", async () => {
    const v = track(await visitor(server.wsUrl, { lang: "en" }));
    await sendText(v.c, "human");
    expect(await v.c.nextType("state")).toMatchObject({ state: "queued" });
    await v.c.nextType("message", (f) => f.from === "system");

    const staff = await makeAgent(server);
    const queue = await fetch(`${server.url}/api/agent/queue`, { headers: { authorization: `Bearer ${staff.token}` } });
    const body = (await queue.json()) as { queued: { conversation_id: string; last_text?: string }[] };
    expect(body.queued.map((q) => q.conversation_id)).toContain(v.welcome.conversation_id);

    const a = track(await agent(server.wsUrl, staff.token));
    expect((await a.c.nextType("assigned")).conversation.conversation_id).toBe(v.welcome.conversation_id);
    expect(await v.c.nextType("state")).toMatchObject({ state: "agent", agent: { id: staff.id } });
  });

  test("auto-assignment is least busy first and respects max_concurrent; away agents get nothing", async () => {
    const busy = await makeAgent(server, { maxConcurrent: 1 });
    const free = await makeAgent(server, { maxConcurrent: 2 });
    const aBusy = track(await agent(server.wsUrl, busy.token));
    const v1 = track(await visitor(server.wsUrl, { lang: "en" }));
    await sendText(v1.c, "human");
    expect(await v1.c.nextType("state", (f) => f.state === "agent")).toMatchObject({ agent: { id: busy.id } });

    const aFree = track(await agent(server.wsUrl, free.token));
    aFree.c.send({ type: "presence", status: "away" });
    await aFree.c.sync();
    const v2 = track(await visitor(server.wsUrl, { lang: "en" }));
    await sendText(v2.c, "human");
    expect(await v2.c.nextType("state")).toMatchObject({ state: "queued" });
    // busy is full, free is away: the visitor waits in the queue.
    expect(await v2.c.nextType("message", (f) => f.from === "system")).toMatchObject({ text: expect.stringContaining("busy") });

    aFree.c.send({ type: "presence", status: "online" });
    expect(await v2.c.nextType("state")).toMatchObject({ state: "agent", agent: { id: free.id } });
    const queueFrame = await aBusy.c.nextType("queue", (f) => f.agents.some((x: { id: number; load: number }) => x.id === free.id && x.load === 1));
    expect(queueFrame.agents.find((x: { id: number }) => x.id === busy.id)).toMatchObject({ status: "online", load: 1, max_concurrent: 1 });
  });

  test("claim, transfer, close; replies need ownership; a closed conversation restarts on the next message", async () => {
    const one = await makeAgent(server, { displayName: "One" });
    const two = await makeAgent(server, { displayName: "Two" });
    const a1 = track(await agent(server.wsUrl, one.token));
    const a2 = track(await agent(server.wsUrl, two.token));
    a1.c.send({ type: "presence", status: "away" });
    a2.c.send({ type: "presence", status: "away" });
    await a1.c.sync();
    await a2.c.sync();

    const v = track(await visitor(server.wsUrl, { lang: "en" }));
    const conv = v.welcome.conversation_id;
    await sendText(v.c, "hello there");
    await v.c.nextType("message", (f) => f.from === "bot");

    // Not the owner yet: refused.
    a2.c.send({ type: "send", conversation_id: conv, client_id: "x1", text: "hi" });
    expect(await a2.c.nextType("error")).toMatchObject({ code: "not_owner", client_id: "x1" });

    // Take over from the bot.
    a1.c.send({ type: "claim", conversation_id: conv });
    expect(await v.c.nextType("state")).toMatchObject({ state: "agent", agent: { id: one.id, name: "One" } });
    await a1.c.nextType("assigned");

    a1.c.send({ type: "transfer", conversation_id: conv, agent_id: two.id });
    expect(await v.c.nextType("state")).toMatchObject({ state: "agent", agent: { id: two.id, name: "Two" }, text: "Your conversation was transferred to Two." });
    expect((await a2.c.nextType("assigned")).conversation.agent.id).toBe(two.id);
    a1.c.send({ type: "send", conversation_id: conv, client_id: "x2", text: "still mine?" });
    expect(await a1.c.nextType("error")).toMatchObject({ code: "not_owner" });

    // Over HTTP too.
    const res = await fetch(`${server.url}/api/agent/conversations/${conv}/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${two.token}`, "content-type": "application/json" },
      body: JSON.stringify({ client_id: "http-1", text: "answer over http" }),
    });
    expect(res.status).toBe(200);
    expect(await v.c.nextType("message")).toMatchObject({ from: "agent", text: "answer over http" });

    const closed = await fetch(`${server.url}/api/agent/conversations/${conv}/close`, { method: "POST", headers: { authorization: `Bearer ${two.token}` } });
    expect(((await closed.json()) as { state: string }).state).toBe("closed");
    expect(await v.c.nextType("state")).toMatchObject({ state: "closed" });

    // The next visitor message opens a new conversation; the tab is told with a new welcome.
    v.c.send({ type: "send", client_id: cid(), text: "one more thing" });
    const again = await v.c.nextType("welcome");
    expect(again.conversation_id).not.toBe(conv);
    expect(again.state).toBe("bot");
    expect(await v.c.nextType("ack")).toMatchObject({ seq: 1 });
    expect(await v.c.nextType("message")).toMatchObject({ seq: 2, from: "bot" });
  });

  test("agent endpoints need an agent token", async () => {
    expect((await fetch(`${server.url}/api/agent/queue`)).status).toBe(401);
    const ws = new WebSocket(`${server.wsUrl}/ws/agent`);
    const code = await new Promise<number>((resolve) => {
      ws.onclose = (e) => resolve(e.code);
      ws.onerror = () => {};
    });
    expect(code).not.toBe(1000);
  });
});
