import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type FakeLlm, startFakeLlm } from "../bench/fake-llm/server";
import { createAnswerPipeline } from "../src/answer/pipeline";
import { answerConfig, fakeKnowledge, llmConfig } from "../src/answer/test-fixtures";
import { demoShopFaq } from "../src/demo/shop-faq";
import { LlmRegistry } from "../src/llm/registry";
import { startTestServer, type TestServer } from "./helpers/server";
import { cid, startChatServer, visitor, type Frame } from "./helpers/ws-client";

/**
 * Issue 11, "every question gets a reply; nothing broken is stored": a visitor who writes while a reply
 * streams gets a `reset` for the draft, no fragment is stored, and the next reply answers all their
 * unanswered messages — through the model and through the knowledge base.
 */

const history = async (s: TestServer, token: string, conversationId: string) => {
  const res = await fetch(`${s.url}/api/conversations/${conversationId}/messages?after_seq=0`, { headers: { authorization: `Bearer ${token}` } });
  return ((await res.json()) as { messages: Frame[] }).messages;
};

describe("LLM path", () => {
  let llm: FakeLlm;
  let s: TestServer;
  const first = "Tell me about your warehouse robots";
  const second = "and do they work at night?";
  beforeAll(async () => {
    // Long and slow for one question, short for the two together: the first reply is still streaming when the second message comes.
    llm = await startFakeLlm({
      tokensPerSecond: 10,
      reply: (req) => (req.messages.at(-1)!.content.includes(second) ? "Both answered." : "Our robots sort parcels all day long and never get tired at all"),
    });
    s = await startTestServer({ log: { level: "warn" }, llm: { providers: [{ name: "fake", base_url: llm.url, model: "m" }], answer_deadline_ms: 3000 } });
  });
  afterAll(async () => {
    await s.stop();
    await llm.stop();
  });

  test("a message during a streamed reply: reset, no fragment stored, the new reply covers both messages", async () => {
    const { c, welcome } = await visitor(s.wsUrl, { lang: "en" });
    c.send({ type: "send", client_id: cid(), text: first });
    const draft = await c.nextType("delta");
    await Bun.sleep(80);
    c.send({ type: "send", client_id: cid(), text: second });
    expect(await c.nextType("reset")).toEqual({ type: "reset", seq: draft.seq, reason: "newer_message" });
    // The abandoned seq goes to the visitor's message: the stored stream has no gap.
    expect(await c.nextType("ack")).toMatchObject({ seq: draft.seq });
    const reply = await c.nextType("message", (f) => f.from === "bot");
    expect(reply).toMatchObject({ seq: draft.seq + 1, text: "Both answered." });
    // The model was asked both messages as one question.
    expect(llm.lastRequest!.messages.at(-1)!.content).toBe(`${first}\n${second}`);

    const stored = await history(s, welcome.token, welcome.conversation_id);
    expect(stored.map((m) => [m.seq, m.from, m.text])).toEqual([
      [1, "visitor", first],
      [2, "visitor", second],
      [3, "bot", "Both answered."],
    ]);
    // A client resuming from the start replays the same, without the fragment.
    const { c: again } = await visitor(s.wsUrl, { token: welcome.token, conversation_id: welcome.conversation_id, last_seq: 0 });
    await again.sync();
    expect(again.frames.filter((f) => f.type === "message").map((f) => f.text)).toEqual([first, second, "Both answered."]);
    expect(JSON.stringify(again.frames)).not.toContain("robots sort");
    await again.close();
    await c.close();
  });
});

describe("knowledge-base path", () => {
  test("two questions 80 ms apart, the first still being looked up: both are answered", async () => {
    // A knowledge base that takes 300 ms for its first lookup, so the second message arrives mid-answer.
    const kb = fakeKnowledge();
    const ship = { id: "kb:ship", question: "How long does shipping take?", answer: "Orders ship within 48 hours.", confidence: 0.9 };
    const card = { id: "kb:card", question: "Can I pay by card?", answer: "Yes, Visa and Mastercard.", confidence: 0.9 };
    kb.set(ship.question, [ship]);
    kb.set(card.question, [card]);
    let slow = true;
    const search = kb.search.bind(kb);
    kb.search = async (text, k, options) => {
      if (slow) {
        slow = false;
        await Bun.sleep(300);
      }
      return search(text, k, options);
    };
    const cfg = llmConfig([]);
    const bot = createAnswerPipeline({ knowledge: kb, llm: new LlmRegistry(cfg) }, { answer: answerConfig(), prompt: cfg });
    const s = await startChatServer({}, bot);
    try {
      const { c } = await visitor(s.wsUrl, { lang: "en" });
      c.send({ type: "send", client_id: cid(), text: ship.question });
      await Bun.sleep(80);
      c.send({ type: "send", client_id: cid(), text: card.question });
      const reply = await c.nextType("message", (f) => f.from === "bot");
      await c.sync();
      const replies = [reply, ...c.unread().filter((f) => f.type === "message" && f.from === "bot")].map((f) => f.text).join("\n");
      expect(replies).toContain(ship.answer);
      expect(replies).toContain(card.answer);
      await c.close();
    } finally {
      await s.stop();
    }
  });

  test("the demo knowledge base: two questions 80 ms apart, both get their verbatim answers", async () => {
    const s = await startTestServer({ log: { level: "warn" } });
    try {
      const returns = demoShopFaq.find((e) => e.id === "demo-returns-zh")!;
      const invoice = demoShopFaq.find((e) => e.id === "demo-invoice-zh")!;
      const { c } = await visitor(s.wsUrl, { lang: "zh" });
      c.send({ type: "send", client_id: cid(), text: returns.question });
      await Bun.sleep(80);
      c.send({ type: "send", client_id: cid(), text: invoice.question });
      const texts: string[] = [];
      while (!(texts.join("\n").includes(returns.answer) && texts.join("\n").includes(invoice.answer))) {
        texts.push((await c.nextType("message", (f) => f.from === "bot")).text);
      }
      expect(texts.length).toBeLessThanOrEqual(2);
      await c.close();
    } finally {
      await s.stop();
    }
  });
});
