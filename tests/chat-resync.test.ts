import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createConversationStore } from "../src/chat/conversation-store";
import { topics } from "../src/chat/service";
import { agent, cid, makeAgent, startChatServer, visitor } from "./helpers/ws-client";

/**
 * `bus:resync` (published by the Redis bus once it has resubscribed after an outage): every open socket
 * refetches by seq what the bus may have dropped meanwhile, and agents get a fresh queue frame. Here the
 * in-process bus "drops" an event by a row written straight to storage, published nowhere.
 */
describe("bus:resync", () => {
  let server: Awaited<ReturnType<typeof startChatServer>>;
  beforeAll(async () => {
    server = await startChatServer();
  });
  afterAll(() => server.stop());

  /** A row appended without publishing it: what a lost bus event looks like to the sockets. */
  const dropped = (conversationId: string, text: string) =>
    createConversationStore(server.kefu.ctx.sql).appendText(conversationId, { sender: "system", text });

  test("a visitor socket sends the rows it missed, once, in seq order; the live stream goes on after them", async () => {
    const v = await visitor(server.wsUrl, { lang: "en" });
    const id = cid();
    v.c.send({ type: "send", client_id: id, text: "hello there" });
    const ack = await v.c.nextType("ack", (f) => f.client_id === id);
    await v.c.next((f) => f.type === "message" && f.from === "bot");
    const conversationId = v.welcome.conversation_id;
    const a = await dropped(conversationId, "lost one");
    const b = await dropped(conversationId, "lost two");
    expect(b.message.seq).toBe(a.message.seq + 1);
    expect(a.message.seq).toBeGreaterThan(ack.seq);
    server.kefu.ctx.bus.publish(topics.resync, {});
    const first = await v.c.next((f) => f.type === "message" && f.text === "lost one");
    const second = await v.c.next((f) => f.type === "message" && f.text === "lost two");
    expect([first.seq, second.seq]).toEqual([a.message.seq, b.message.seq]);
    // A second resync finds nothing new: nothing is sent twice.
    server.kefu.ctx.bus.publish(topics.resync, {});
    const next = cid();
    v.c.send({ type: "send", client_id: next, text: "and now?" });
    const ack2 = await v.c.nextType("ack", (f) => f.client_id === next);
    expect(ack2.seq).toBe(b.message.seq + 1);
    await v.c.next((f) => f.type === "message" && f.from === "bot" && f.seq > ack2.seq);
    expect(v.c.frames.filter((f) => f.type === "message" && (f.text === "lost one" || f.text === "lost two")).map((f) => f.seq)).toEqual([a.message.seq, b.message.seq]);
    await v.c.close();
  });

  /** A new agent and a visitor whose conversation was handed to them; `joined`: the agent's state frame. */
  const handedToAgent = async () => {
    const lin = await makeAgent(server);
    const ag = await agent(server.wsUrl, lin.token);
    const v = await visitor(server.wsUrl, { lang: "en" });
    v.c.send({ type: "handoff" });
    const assigned = await ag.c.nextType("assigned");
    const conversationId: string = assigned.conversation.conversation_id;
    const joined = await ag.c.next((f) => f.type === "state" && f.conversation_id === conversationId && f.state === "agent");
    return { ag, v, conversationId, joined };
  };

  /** How often each seq of the conversation reached this client: as a message, a state or an ack. */
  const seqTimes = (frames: { type: string; [k: string]: any }[], seq: number) =>
    frames.filter((f) => (f.type === "message" || f.type === "state" || f.type === "ack") && f.seq === seq).length;

  // A gap (another node's event overtaken by a local one, or lost) is filled from storage: the socket's own
  // message is among the rows read, and the socket has it already as its ack — it must not get it twice.
  test("a visitor's own message behind a gap comes once, as its ack, not again from the refetch", async () => {
    const v = await visitor(server.wsUrl, { lang: "en" });
    const first = cid();
    v.c.send({ type: "send", client_id: first, text: "hello there" });
    await v.c.nextType("ack", (f) => f.client_id === first);
    const reply = await v.c.next((f) => f.type === "message" && f.from === "bot");
    const lost = await dropped(v.welcome.conversation_id, "from another node, not here yet");
    expect(lost.message.seq).toBe(reply.seq + 1);
    const id = cid();
    v.c.send({ type: "send", client_id: id, text: "and this one" });
    const ack = await v.c.nextType("ack", (f) => f.client_id === id);
    expect(ack.seq).toBe(lost.message.seq + 1);
    await v.c.next((f) => f.type === "message" && f.from === "bot" && f.seq > ack.seq);
    await v.c.sync();
    expect({ lost: seqTimes(v.c.frames, lost.message.seq), own: seqTimes(v.c.frames, ack.seq) }).toEqual({ lost: 1, own: 1 });
    await v.c.close();
  });

  test("an agent's own message behind a gap comes once, as its ack, not again from the refetch", async () => {
    const { ag, v, conversationId } = await handedToAgent();
    const lost = await dropped(conversationId, "from another node, not here yet");
    const id = cid();
    ag.c.send({ type: "send", conversation_id: conversationId, client_id: id, text: "agent here" });
    const ack = await ag.c.nextType("ack", (f) => f.client_id === id);
    expect(ack.seq).toBe(lost.message.seq + 1);
    await v.c.next((f) => f.type === "message" && f.seq === ack.seq);
    while (!ag.c.frames.some((f) => f.type === "message" && f.seq === lost.message.seq)) await Bun.sleep(10);
    await Bun.sleep(50);
    await ag.c.sync();
    const mine = ag.c.frames.filter((f) => f.conversation_id === conversationId);
    expect({ lost: seqTimes(mine, lost.message.seq), own: seqTimes(mine, ack.seq) }).toEqual({ lost: 1, own: 1 });
    await Promise.all([v.c.close(), ag.c.close()]);
  });

  test("an agent socket catches up every watched conversation and gets a fresh queue frame", async () => {
    const { ag, v, conversationId, joined } = await handedToAgent();
    // The queue frames of the handoff may still come (throttled): let them, then count from here.
    await Bun.sleep(400);
    await ag.c.sync();
    const from = ag.c.frames.length;
    const lost = await dropped(conversationId, "lost for the agent");
    expect(lost.message.seq).toBeGreaterThan(joined.seq);
    server.kefu.ctx.bus.publish(topics.resync, {});
    const got = await ag.c.next((f) => f.type === "message" && f.conversation_id === conversationId && f.text === "lost for the agent");
    expect(got.seq).toBe(lost.message.seq);
    const queue = await ag.c.next((f) => f.type === "queue" && ag.c.frames.indexOf(f) >= from);
    expect(queue.mine.map((s: { conversation_id: string }) => s.conversation_id)).toContain(conversationId);
    await Promise.all([v.c.close(), ag.c.close()]);
  });
});
