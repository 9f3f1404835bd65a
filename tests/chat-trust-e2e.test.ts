import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { demoShopFaq } from "../src/demo/shop-faq";
import { normalizeForMatch } from "../src/text/normalize";
import { startTestServer, type TestServer } from "./helpers/server";
import { agent, cid, makeAgent, visitor, type WsClient } from "./helpers/ws-client";

/**
 * Issue 11 against the real server and the demo knowledge base, no LLM: "never silent" (misses with no
 * agent online leave a ticket and the bot keeps answering what it knows) and "choices" (did-you-mean
 * entries the visitor picks with `choose` or by sending their text).
 */

const entry = (id: string) => demoShopFaq.find((e) => e.id === id)!;
const say = async (c: WsClient, text: string) => {
  c.send({ type: "send", client_id: cid(), text });
  return (await c.nextType("ack")).seq as number;
};

describe("never silent", () => {
  let s: TestServer;
  let admin: string;
  beforeAll(async () => {
    s = await startTestServer({ log: { level: "warn" }, chat: { bot_misses_before_handoff: 2 } });
    admin = await s.login("admin");
  });
  afterAll(() => s.stop());

  test("no agent online + two misses: a ticket is left, the bot still answers known questions, an owning agent silences it", async () => {
    const returns = entry("demo-returns-zh");
    const { c, welcome } = await visitor(s.wsUrl, { lang: "zh" });
    await say(c, "火星上的天气今天怎么样");
    expect(await c.nextType("message", (f) => f.from === "bot")).toMatchObject({ text: expect.stringContaining("人工") });
    await say(c, "请推荐一部关于海豚的纪录片");
    await c.nextType("message", (f) => f.from === "bot");
    expect(await c.nextType("state")).toMatchObject({ state: "queued" });
    expect(await c.nextType("message", (f) => f.from === "system")).toMatchObject({ text: expect.stringContaining("继续回答") });

    // The bot keeps answering what it knows, verbatim, noting that a human will follow up.
    await say(c, "怎么退货？");
    const known = await c.nextType("message", (f) => f.from === "bot");
    expect(known.text.startsWith(returns.answer)).toBe(true);
    expect(known.text).toContain("人工客服稍后也会在这里跟进");
    expect(known.sources).toMatchObject([{ id: returns.id }]);
    // What it does not know is noted for the agent instead of another fallback.
    await say(c, "你们老板叫什么名字");
    expect(await c.nextType("message", (f) => f.from === "bot")).toMatchObject({ text: "已记下，人工客服会在这里回复您。" });

    // The ticket waits in the queue with its reason; the first agent online gets it and the bot falls silent.
    const staff = await makeAgent(s);
    const queue = (await (await fetch(`${s.url}/api/agent/queue`, { headers: { authorization: `Bearer ${staff.token}` } })).json()) as { queued: Record<string, unknown>[] };
    expect(queue.queued.find((q) => q.conversation_id === welcome.conversation_id)).toMatchObject({ queued_reason: "bot_misses" });
    const a = await agent(s.wsUrl, staff.token);
    expect(await c.nextType("state")).toMatchObject({ state: "agent" });
    await say(c, "怎么开发票？");
    await a.c.nextType("message", (f) => f.text === "怎么开发票？");
    await Bun.sleep(100);
    await c.sync();
    expect(c.unread().filter((f) => f.type === "message" && f.from === "bot")).toEqual([]);

    const stats = (await (await fetch(`${s.url}/api/admin/answer/stats`, { headers: { authorization: `Bearer ${admin}` } })).json()) as Record<string, any>;
    expect(stats.handoffs).toMatchObject({ misses: 1 });
    expect(stats.paths.direct).toBeGreaterThanOrEqual(1);
    await a.c.close();
    await c.close();
  });

  test("a handoff keyword with nobody online: queued, and an English demo question still gets its answer", async () => {
    const ship = entry("demo-shipping-fee-en");
    const { c } = await visitor(s.wsUrl, { lang: "en" });
    await say(c, "I want a human");
    expect(await c.nextType("state")).toMatchObject({ state: "queued" });
    await c.nextType("message", (f) => f.from === "system");
    await say(c, ship.question);
    const reply = await c.nextType("message", (f) => f.from === "bot");
    expect(reply.text).toBe(`${ship.answer}\n\n(A human agent will also follow up here.)`);
    const stats = (await (await fetch(`${s.url}/api/admin/answer/stats`, { headers: { authorization: `Bearer ${admin}` } })).json()) as Record<string, any>;
    expect(stats.handoffs.keyword).toBeGreaterThanOrEqual(1);
    await c.close();
  });
});

describe("choices", () => {
  let s: TestServer;
  let admin: string;
  beforeAll(async () => {
    // No answer is direct and every match is offered: the did-you-mean path whatever the confidences are.
    s = await startTestServer({ log: { level: "warn" }, kb: { direct: 1, suggest: 0 }, chat: { bot_misses_before_handoff: 0 } });
    admin = await s.login("admin");
  });
  afterAll(() => s.stop());

  test("did you mean → choose → the entry verbatim; the choice's text works too; bad choices are error frames", async () => {
    const { c, welcome } = await visitor(s.wsUrl, { lang: "zh" });
    await say(c, "退货退款"); // returns and refund time rank nearly level: two choices
    const offer = await c.nextType("message", (f) => f.from === "bot");
    expect(offer.text).toContain("您是不是想问");
    const choices = offer.choices as { entry_id: string; question: string }[];
    expect(choices.length).toBeGreaterThanOrEqual(2);
    for (const ch of choices) expect(normalizeForMatch(entry(ch.entry_id).question)).toBe(normalizeForMatch(ch.question));

    // choose with a client_id: acked like a send, stored as the visitor's pick, answered verbatim.
    const pick = cid();
    c.send({ type: "choose", entry_id: choices[0]!.entry_id, client_id: pick });
    expect(await c.nextType("ack")).toMatchObject({ client_id: pick });
    const answer = await c.nextType("message", (f) => f.from === "bot");
    expect(answer).toMatchObject({ text: entry(choices[0]!.entry_id).answer, sources: [{ id: choices[0]!.entry_id }] });

    // Sending the text of another choice returns that entry.
    await say(c, choices[1]!.question);
    expect(await c.nextType("message", (f) => f.from === "bot")).toMatchObject({ text: entry(choices[1]!.entry_id).answer });

    // Right after an offer its number picks too; once another reply came, a bare number is just text.
    await say(c, "退货退款"); // returns and refund time rank nearly level: two choices
    const again2 = await c.nextType("message", (f) => f.from === "bot");
    expect(again2.choices).toEqual(choices);
    await say(c, "2");
    expect(await c.nextType("message", (f) => f.from === "bot")).toMatchObject({ text: entry(choices[1]!.entry_id).answer });
    await say(c, "1");
    expect((await c.nextType("message", (f) => f.from === "bot")).text).not.toBe(entry(choices[0]!.entry_id).answer);

    // Replayed on resume, with the choices.
    const { c: again } = await visitor(s.wsUrl, { token: welcome.token, conversation_id: welcome.conversation_id, last_seq: 0 });
    await again.sync();
    expect(again.frames.find((f) => f.type === "message" && f.seq === offer.seq)).toMatchObject({ choices });
    await again.close();

    // Unknown, never offered, disabled since, or malformed: error frames, and the connection stays up.
    const errors = async (frame: object) => {
      c.send(frame);
      return (await c.nextType("error")).code;
    };
    expect(await errors({ type: "choose", entry_id: "no-such-entry" })).toBe("choice_not_offered");
    const notOffered = demoShopFaq.find((e) => !choices.some((ch) => ch.entry_id === e.id))!;
    expect(await errors({ type: "choose", entry_id: notOffered.id, client_id: "x-1" })).toBe("choice_not_offered");
    const gone = entry(choices[0]!.entry_id);
    const edit = await fetch(`${s.url}/api/admin/kb/entries/${gone.id}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: JSON.stringify({ question: gone.question, answer: gone.answer, alt_questions: gone.alts, enabled: false }),
    });
    expect(edit.status).toBe(200);
    expect(await errors({ type: "choose", entry_id: gone.id })).toBe("choice_unavailable");
    expect(await errors({ type: "choose" })).toBe("invalid_frame");
    expect(await errors({ type: "choose", entry_id: 42 })).toBe("invalid_frame");
    await c.sync();
    const stats = (await (await fetch(`${s.url}/api/admin/answer/stats`, { headers: { authorization: `Bearer ${admin}` } })).json()) as Record<string, any>;
    expect(stats.paths.choice).toBe(3);
    await c.close();
  });
});
