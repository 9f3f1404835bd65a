import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { type FakeLlm, startFakeLlm } from "../../bench/fake-llm/server";
import type { BotEvent } from "../chat/bot";
import type { LlmConfig } from "../llm/config";
import { LlmRegistry } from "../llm/registry";
import { citedSources, createAnswerPipeline, type AnswerDeps, type AnswerEvent, type AnswerResult } from "./pipeline";
import { type AnswerConfig } from "./config";
import { answerConfig, type FakeKnowledge, fakeKnowledge, llmConfig } from "./test-fixtures";

/**
 * Issue 5 acceptance lines for the pipeline, against the fake LLM on loopback and a scripted knowledge
 * source: a knowledge-base hit never calls the model; a miss streams deltas then an answer with sources;
 * the cache serves repeats until the knowledge base changes; a provider that is down, hanging or slow
 * never leaves a visitor without a reply in time; a visitor leaving cancels the upstream request.
 */

let llm: FakeLlm;
beforeAll(async () => {
  llm = await startFakeLlm();
});
afterAll(async () => {
  await llm.stop();
});
beforeEach(() => {
  llm.setOptions({ ttftMs: 0, tokensPerSecond: 0, errorRate: 0, hangRate: 0, malformedRate: 0, reply: "We ship in 2 days [kb:ship]." });
  llm.resetStats();
});

const ship = { id: "kb:ship", question: "How long does shipping take?", answer: "Orders ship within 48 hours.", confidence: 0.9 };
const returns = { id: "kb:returns", question: "How do I return an item?", answer: "Use the return form.", confidence: 0.3 };

function setup(opts: { llm?: Partial<LlmConfig>; answer?: Partial<AnswerConfig>; deps?: Partial<AnswerDeps>; kb?: FakeKnowledge; fakes?: FakeLlm[] } = {}) {
  const kb = opts.kb ?? fakeKnowledge();
  const cfg = llmConfig(opts.fakes ?? [llm], opts.llm);
  const registry = new LlmRegistry(cfg);
  const pipeline = createAnswerPipeline({ knowledge: kb, llm: registry, ...opts.deps }, { answer: answerConfig(opts.answer), prompt: cfg });
  return { kb, registry, pipeline };
}

async function collect<T>(gen: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const e of gen) out.push(e);
  return out;
}

function finalOf(events: AnswerEvent[]): AnswerResult {
  const last = events.at(-1);
  if (last?.type !== "final") throw new Error(`expected final, got ${JSON.stringify(last)}`);
  return last.result;
}

const ask = (pipeline: ReturnType<typeof setup>["pipeline"], text: string, lang: "zh" | "en" = "en") => collect(pipeline.stream({ text, lang }));

describe("answer pipeline", () => {
  test("a knowledge-base hit is answered verbatim with its id as source, and the LLM is never called", async () => {
    const { kb, pipeline } = setup();
    kb.set("How long does shipping take?", [ship]);
    const events = await collect(pipeline.reply({ conversationId: "c1", text: "  How long does shipping take?  ", lang: "en", signal: new AbortController().signal }));
    expect(events).toEqual([
      { type: "answer", text: ship.answer, sources: [{ id: "kb:ship", title: ship.question }], confident: true, path: "direct", entryId: "kb:ship", confidence: 0.9 },
    ]);
    expect(llm.stats.requests).toBe(0);
    expect(pipeline.stats().paths.direct).toBe(1);
  });

  test("a miss streams deltas, then the answer with the cited sources; the prompt carries the context", async () => {
    const { kb, pipeline } = setup();
    kb.set("When will my parcel arrive?", [{ ...ship, confidence: 0.4 }], [{ id: "doc:1#2", title: "Delivery policy", text: "Parcels arrive in 2-5 days.", score: 3 }]);
    const events = await ask(pipeline, "When will my parcel arrive?");
    const deltas = events.filter((e) => e.type === "delta");
    expect(deltas.length).toBeGreaterThan(1);
    expect(events.at(-1)!.type).toBe("final");
    const result = finalOf(events);
    // The visitor reads the answer without the citation marker; the cited entry is its source.
    expect(result).toMatchObject({ path: "llm", answer: "We ship in 2 days.", confidence: 0.4, confident: true, step: "p1" });
    expect(deltas.map((d) => (d as { text: string }).text).join("")).toBe(result.answer);
    // Cited only: the chunk was sent but not cited.
    expect(result.sources).toEqual([{ id: "kb:ship", title: ship.question }]);
    const system = llm.lastRequest!.messages[0]!.content;
    expect(system).toContain("[kb:ship] Q: How long does shipping take?");
    expect(system).toContain("[doc:1#2] (Delivery policy) Parcels arrive in 2-5 days.");
    expect(llm.lastRequest!.messages.at(-1)).toEqual({ role: "user", content: "When will my parcel arrive?" });
  });

  test("citation markers are removed from the deltas too, even a list split across two of them", async () => {
    llm.setOptions({ reply: "Parcels arrive in 2-5 days [kb:ship, doc:1#2]. Tracking is by email." });
    const { kb, pipeline } = setup();
    kb.set("When will my parcel arrive?", [{ ...ship, confidence: 0.4 }], [{ id: "doc:1#2", title: "Delivery policy", text: "Parcels arrive in 2-5 days.", score: 3 }]);
    const events = await ask(pipeline, "When will my parcel arrive?");
    const deltas = events.flatMap((e) => (e.type === "delta" ? [e.text] : []));
    expect(deltas.join("")).toBe("Parcels arrive in 2-5 days. Tracking is by email.");
    expect(deltas.some((d) => d.includes("[") || d.includes("doc:1#2"))).toBe(false);
    expect(finalOf(events)).toMatchObject({ answer: "Parcels arrive in 2-5 days. Tracking is by email.", sources: [{ id: "kb:ship" }, { id: "doc:1#2" }] });
  });

  test("several messages answered together: one question for the prompt, each looked up on its own", async () => {
    const { kb, pipeline } = setup({
      deps: {
        history: () => [
          { role: "visitor", text: "hi" },
          { role: "bot", text: "Hello!" },
          { role: "visitor", text: "How long does shipping take?" },
          { role: "visitor", text: "and to Japan?" },
        ],
      },
    });
    const card = { id: "kb:card", question: "Can I pay by card?", answer: "Yes, Visa and Mastercard.", confidence: 0.9 };
    kb.set("How long does shipping take?", [ship]);
    kb.set("can I pay by card?", [card]);
    // Each message has a verbatim answer: both, in one reply, without the model.
    const both = finalOf(await collect(pipeline.stream({ text: "How long does shipping take?\ncan I pay by card?", parts: ["How long does shipping take?", "can I pay by card?"], lang: "en" })));
    expect(both).toMatchObject({ path: "direct", answer: `${ship.answer}\n\n${card.answer}`, sources: [{ id: "kb:ship" }, { id: "kb:card" }] });
    expect(llm.stats.requests).toBe(0);
    // One of them unknown: the model gets both messages as the question, and the history without them.
    const parts = ["How long does shipping take?", "and to Japan?"];
    await collect(pipeline.stream({ text: parts.join("\n"), parts, lang: "en", conversationId: "c1" }));
    const sent = llm.lastRequest!.messages;
    expect(sent.at(-1)).toEqual({ role: "user", content: "How long does shipping take?\nand to Japan?" });
    expect(sent.slice(1, -1)).toEqual([{ role: "user", content: "hi" }, { role: "assistant", content: "Hello!" }]);
    expect(sent[0]!.content).toContain("[kb:ship]");
  });

  test("one message may be searched with bounded confidences; several, whose entries are merged, only exactly", async () => {
    const { kb, pipeline } = setup();
    await collect(pipeline.stream({ text: "do you sell cars", lang: "en" }));
    expect(kb.exact).toEqual([false]);
    kb.exact.length = 0;
    const parts = ["do you sell cars", "and boats?"];
    await collect(pipeline.stream({ text: parts.join("\n"), parts, lang: "en" }));
    expect(kb.exact).toEqual([true, true, true]);
  });

  test("the prompt and a deferred question keep the visitor's punctuation; matching uses the normalized text", async () => {
    const { kb, pipeline } = setup();
    kb.set("退货,运费谁出?", [{ ...returns, confidence: 0.3 }]);
    await ask(pipeline, "退货，运费谁出？", "zh");
    expect(llm.lastRequest!.messages.at(-1)).toEqual({ role: "user", content: "退货，运费谁出？" });
    expect(llm.lastRequest!.messages[0]!.content).toContain("[kb:returns]");
  });

  test("repeats are served from the cache (full-width input too) until the knowledge base changes", async () => {
    const { kb, pipeline } = setup();
    kb.set("How long does shipping take?", [ship]);
    expect(finalOf(await ask(pipeline, "How long does shipping take?")).path).toBe("direct");
    const again = finalOf(await ask(pipeline, "ＨＯＷ long does  shipping take？"));
    expect(again).toMatchObject({ path: "cache", answer: ship.answer, sources: [{ id: "kb:ship", title: ship.question }], confidence: 0.9 });
    expect(kb.searches).toBe(1);

    // An edit: the same question must now get the new answer, not the cached one.
    kb.set("How long does shipping take?", [{ ...ship, answer: "Orders ship within 24 hours." }]);
    kb.bump();
    expect(finalOf(await ask(pipeline, "How long does shipping take?"))).toMatchObject({ path: "direct", answer: "Orders ship within 24 hours." });
    expect(pipeline.stats().cache).toMatchObject({ hits: 1, misses: 2 });
  });

  test("LLM answers are cached on the first turn only, and per language", async () => {
    const history = [
      { role: "visitor" as const, text: "hi" },
      { role: "bot" as const, text: "Hello!" },
      { role: "visitor" as const, text: "And to Japan?" },
    ];
    const { pipeline } = setup({ deps: { history: () => history } });
    const first = await collect(pipeline.stream({ text: "Do you ship abroad?", lang: "en" }));
    expect(finalOf(first).path).toBe("llm");
    expect(finalOf(await ask(pipeline, "do you ship abroad?")).path).toBe("cache");
    expect(finalOf(await ask(pipeline, "do you ship abroad?", "zh")).path).toBe("llm");
    expect(llm.stats.requests).toBe(2);

    // With history the answer may depend on the conversation: not cached. The trailing copy of the question is dropped.
    await collect(pipeline.stream({ text: "And to Japan?", lang: "en", conversationId: "c1" }));
    expect(llm.lastRequest!.messages.map((m) => m.role)).toEqual(["system", "user", "assistant", "user"]);
    expect(finalOf(await collect(pipeline.stream({ text: "And to Japan?", lang: "en" }))).path).toBe("llm");
  });

  test("without a model to write from it (no provider, no local generator) the history is not read; with one it is", async () => {
    let reads = 0;
    const history = () => {
      reads++;
      return [{ role: "visitor" as const, text: "hi" }];
    };
    const none = setup({ llm: { providers: [] }, deps: { history } });
    none.kb.set("Do you ship abroad?", [{ ...returns, confidence: 0.25 }]);
    const reply = finalOf(await collect(none.pipeline.stream({ text: "Do you ship abroad?", lang: "en", conversationId: "c1" })));
    // The visitor still gets the did-you-mean choices.
    expect(reply).toMatchObject({ path: "fallback", choices: [{ entry_id: "kb:returns" }] });
    expect(reads).toBe(0);
    const local = setup({ llm: { providers: [] }, deps: { history } });
    local.registry.localStep = () => ({ name: "local", path: "local", run: async function* () { yield "From the local model."; } });
    expect(finalOf(await collect(local.pipeline.stream({ text: "Do you ship abroad?", lang: "en", conversationId: "c1" }))).path).toBe("llm");
    expect(reads).toBe(1);
    const { pipeline } = setup({ deps: { history } });
    expect(finalOf(await collect(pipeline.stream({ text: "Do you ship abroad?", lang: "en", conversationId: "c1" }))).path).toBe("llm");
    expect(reads).toBe(2);
  });

  test("a plugin reply wins over the knowledge base; a plugin handoff becomes a handoff event", async () => {
    const { kb, pipeline } = setup({
      deps: {
        plugins: {
          onMessage: async (m) => (m.text === "order 42" ? { plugin: "orders", verdict: { text: "Order 42 is on its way." } } : m.text === "refund" ? { plugin: "orders", verdict: { handoff: true } } : null),
        },
      },
    });
    expect(finalOf(await ask(pipeline, "order 42"))).toMatchObject({ path: "plugin", answer: "Order 42 is on its way.", confident: true });
    const events = await collect(pipeline.reply({ conversationId: "c1", text: "refund", lang: "zh", signal: new AbortController().signal }));
    expect(events).toEqual([{ type: "handoff", reason: "plugin:orders" }]);
    expect(kb.searches).toBe(0);
    expect(llm.stats.requests).toBe(0);
    expect(pipeline.stats()).toMatchObject({ plugin_handoffs: 1, paths: { plugin: 2 } });
  });

  test("provider hard down: the breaker opens after the configured failures and every visitor still gets a reply", async () => {
    llm.setOptions({ errorRate: 1 });
    const { kb, pipeline, registry } = setup({ llm: { breaker_min_requests: 3, breaker_open_ms: 60_000 } });
    kb.set("Where is my refund?", [returns]);
    const results: AnswerResult[] = [];
    for (let i = 0; i < 6; i++) results.push(finalOf(await ask(pipeline, i % 2 ? "Where is my refund?" : "Can I pay by card?")));
    expect(results.map((r) => r.path)).toEqual(Array(6).fill("fallback"));
    expect(results.every((r) => !r.confident)).toBe(true);
    // Honest: the assistant is unavailable (not "busy"); with an entry above the suggest threshold it is
    // offered as a choice, and a human always is.
    expect(results[1]!.answer).toBe(
      `Sorry, the assistant is unavailable right now. These questions may help; tap one or send it to see its answer:\n1. ${returns.question}\nOr type "human" to talk to a person.`,
    );
    expect(results[1]!.choices).toEqual([{ entry_id: "kb:returns", question: returns.question }]);
    expect(results[0]!.answer).toBe('Sorry, the assistant is unavailable right now. Type "human" to talk to a person, or try again later.');
    expect(results.map((r) => r.answer).join(" ")).not.toContain("many requests");
    expect(llm.stats.requests).toBe(3);
    expect(registry.status()[0]!.breaker.state).toBe("open");
  });

  test("a hanging provider: the reply comes before the deadline timer fires, and the upstream request is cancelled", async () => {
    llm.setOptions({ hangRate: 1 });
    const deadline = 400;
    const { pipeline } = setup({ llm: { answer_deadline_ms: deadline, min_attempt_ms: 50 } });
    let deadlinePassed = false;
    const timer = setTimeout(() => (deadlinePassed = true), deadline);
    const order: string[] = [];
    for await (const ev of pipeline.stream({ text: "Is anyone there?", lang: "zh" })) order.push(`${ev.type}:${deadlinePassed}`);
    clearTimeout(timer);
    expect(order).toEqual(["final:false"]);
    await llm.waitFor((s) => s.cancelled === 1 && s.inFlight === 0);
  });

  test("a knowledge base that hangs cannot hold the reply past the deadline", async () => {
    const kb = fakeKnowledge();
    kb.stall = new Promise(() => {});
    const deadline = 300;
    const { pipeline } = setup({ kb, llm: { answer_deadline_ms: deadline } });
    let deadlinePassed = false;
    const timer = setTimeout(() => (deadlinePassed = true), deadline);
    const result = finalOf(await ask(pipeline, "anything"));
    const late = deadlinePassed;
    clearTimeout(timer);
    expect(late).toBe(false);
    expect(result.path).toBe("fallback");
    expect(llm.stats.requests).toBe(0);
    expect(pipeline.stats().knowledge_errors).toBe(1);
  });

  test("provider slow: the gate fills, the rest get the busy reply at once, upstream in-flight stays bounded", async () => {
    llm.setOptions({ ttftMs: 300, reply: "slow answer" });
    const limit = 2;
    const { pipeline, registry } = setup({ llm: { answer_deadline_ms: 5000, queue_timeout_ms: 0, max_queue: 0, providers: [{ name: "slow", base_url: llm.url, model: "fake", max_concurrency: limit, min_concurrency: limit }] } });
    const visitors = 12;
    const results = await Promise.all(Array.from({ length: visitors }, (_, i) => ask(pipeline, `question ${i}`).then(finalOf)));
    const byPath = Object.groupBy(results, (r) => r.path);
    expect(byPath.llm?.length).toBe(limit);
    expect(byPath.fallback?.length).toBe(visitors - limit);
    expect(byPath.fallback!.every((r) => r.answer.includes("handling many requests"))).toBe(true);
    expect(llm.stats.maxInFlight).toBeLessThanOrEqual(limit);
    expect(registry.status()[0]!.gate).toMatchObject({ in_flight: 0, waiting: 0 });
  });

  test("visitor disconnects mid-stream: the upstream request is aborted and the fake sees the cancel", async () => {
    llm.setOptions({ tokensPerSecond: 20, reply: "one two three four five six seven eight nine ten" });
    const { pipeline } = setup();
    const visitor = new AbortController();
    const seen: BotEvent[] = [];
    for await (const ev of pipeline.reply({ conversationId: "c1", text: "Tell me a story", lang: "en", signal: visitor.signal })) {
      seen.push(ev);
      if (seen.length === 2) visitor.abort();
    }
    expect(seen.every((e) => e.type === "delta")).toBe(true);
    await llm.waitFor((s) => s.cancelled === 1);
    expect(llm.stats).toMatchObject({ completed: 0, inFlight: 0 });
    expect(pipeline.stats().total).toBe(0);
  });

  test("no provider configured: suggestions or an honest fallback in the visitor's language", async () => {
    const { kb, pipeline } = setup({ fakes: [] });
    kb.set("退货怎么办", [{ ...returns, question: "如何退货？" }]);
    const offered = finalOf(await ask(pipeline, "退货怎么办", "zh"));
    expect(offered.answer).toBe("您是不是想问下面的问题？点选或直接发送问题即可查看答案：\n1. 如何退货？\n也可以发送“人工”联系人工客服。");
    expect(offered.choices).toEqual([{ entry_id: "kb:returns", question: "如何退货？" }]);
    // A picked choice is the entry's answer, verbatim.
    expect(await pipeline.choose("kb:returns")).toEqual({ text: returns.answer, sources: [{ id: "kb:returns", title: "如何退货？" }] });
    expect(await pipeline.choose("kb:nope")).toBeNull();
    expect(pipeline.stats().paths.choice).toBe(1);
    expect(finalOf(await ask(pipeline, "你好", "zh"))).toMatchObject({ path: "fallback", answer: expect.stringContaining("没有找到答案") });
  });

  test("answerOffline: direct hit, model answer, or null when no model answers", async () => {
    const { kb, pipeline } = setup();
    kb.set("How long does shipping take?", [ship]);
    expect(await pipeline.answerOffline("How long does shipping take?", "en")).toEqual({ text: ship.answer, sources: [{ id: "kb:ship", title: ship.question }] });
    expect(await pipeline.answerOffline("Do you ship abroad?", "en")).toEqual({ text: "We ship in 2 days [kb:ship].", sources: [] });
    llm.setOptions({ errorRate: 1 });
    expect(await pipeline.answerOffline("Do you sell gift cards?", "en")).toBeNull();
  });
});

test("citedSources keeps cited passages, or all sent ones when none is cited", () => {
  const titles = new Map([
    ["a", "A"],
    ["b", ""],
  ]);
  expect(citedSources("see [b]", ["a", "b"], titles)).toEqual([{ id: "b" }]);
  expect(citedSources("plain", ["a", "b"], titles)).toEqual([{ id: "a", title: "A" }, { id: "b" }]);
});
