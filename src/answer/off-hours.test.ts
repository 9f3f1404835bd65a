import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { Value } from "@sinclair/typebox/value";
import { type FakeLlm, startFakeLlm } from "../../bench/fake-llm/server";
import type { BotEvent } from "../chat/bot";
import type { Source } from "../chat/schemas";
import { type HoursConfig, hoursSection } from "../schedule/config";
import { migrate } from "../storage/migrate";
import { createSqliteSql } from "../storage/sqlite-driver";
import { answerLaterMigrations, answerMigrations } from "./migrations";
import type { ConversationSink } from "./off-hours";
import { createAnswerService } from "./service";
import { answerConfig, fakeClock, fakeKnowledge, llmConfig } from "./test-fixtures";

/**
 * Issue 5 acceptance line 4 with a fake clock: a question at 23:00 becomes pending and the visitor is
 * told when to expect the answer; at opening time the batch answers it and the answer lands in the
 * conversation.
 */

let llm: FakeLlm;
beforeAll(async () => {
  llm = await startFakeLlm({ reply: "Yes, we ship to Japan." });
});
afterAll(async () => {
  await llm.stop();
});
beforeEach(() => {
  llm.setOptions({ errorRate: 0 });
  llm.resetStats();
});

// Monday 2026-11-30, 23:00 in Shanghai; the shop opens Tuesday 09:00 (01:00 UTC).
const MON_2300 = new Date("2026-11-30T15:00:00Z");
const TUE_0900 = new Date("2026-12-01T01:00:00Z");
const hours: HoursConfig = { ...(Value.Create(hoursSection) as HoursConfig), enabled: true, timezone: "Asia/Shanghai" };

function fakeSink() {
  const history: { conversationId: string; kind: "bot" | "handoff"; text?: string; sources?: Source[] }[] = [];
  const sink: ConversationSink = {
    async postBotMessage(conversationId, text, sources) {
      if (conversationId === "gone") throw new Error("conversation not found");
      history.push({ conversationId, kind: "bot", text, sources });
    },
    async requestHandoff(conversationId) {
      history.push({ conversationId, kind: "handoff" });
    },
  };
  return { sink, history };
}

function setup(opts: { db?: Database; start?: Date; concurrency?: number } = {}) {
  const db = opts.db ?? new Database(":memory:");
  migrate(db, [...answerMigrations, ...answerLaterMigrations]);
  const clock = fakeClock(opts.start ?? MON_2300);
  const kb = fakeKnowledge();
  const { sink, history } = fakeSink();
  const service = createAnswerService({
    config: { answer: answerConfig({ pending_concurrency: opts.concurrency ?? 2 }), llm: llmConfig([llm]), hours },
    sql: createSqliteSql(db),
    knowledge: kb,
    sink,
    now: clock.now,
    timers: clock.timers,
  });
  const say = async (conversationId: string, text: string, lang: "zh" | "en" = "en") => {
    const out: BotEvent[] = [];
    for await (const ev of service.pipeline.reply({ conversationId, text, lang, signal: new AbortController().signal })) out.push(ev);
    return out;
  };
  return { db, clock, kb, service, history, say };
}

describe("off-hours questions", () => {
  test("a question at 23:00 becomes pending, the visitor is told when; at opening the batch answers it into the conversation", async () => {
    const { clock, service, history, say } = setup();
    const reply = await say("conv-1", "Do you ship to Japan?");
    expect(reply).toEqual([{ type: "answer", text: "We are closed right now. Your question is saved and we will answer it here when we open (Tue, Dec 1, 09:00 GMT+8).", confident: true, path: "pending", confidence: 0 }]);
    expect(llm.stats.requests).toBe(0);
    expect(await service.store.list()).toMatchObject([{ conversationId: "conv-1", question: "Do you ship to Japan?", status: "pending" }]);
    expect(clock.pending()).toEqual([TUE_0900]);
    expect(service.pipeline.stats().paths.pending).toBe(1);

    // 08:59: nothing yet.
    clock.advanceTo(new Date(TUE_0900.getTime() - 60_000));
    expect(history).toEqual([]);

    clock.advanceTo(TUE_0900);
    expect((await service.offHours!.status()).running).toBe(true);
    await service.offHours!.run();
    expect(history).toEqual([{ conversationId: "conv-1", kind: "bot", text: 'About your earlier question "Do you ship to Japan?":\nYes, we ship to Japan.', sources: [] }]);
    expect(await service.store.list()).toMatchObject([{ status: "answered", answer: "Yes, we ship to Japan.", resolvedAt: TUE_0900.getTime() }]);
    expect(await service.offHours!.status()).toMatchObject({ pending: 0, timer_due_at: null, last_run: { processed: 1, answered: 1, handed_off: 0, failed: 0, pending: 0 } });
  });

  test("Chinese visitors are told in Chinese; a direct knowledge-base hit is still answered at night", async () => {
    const { kb, say } = setup();
    expect(await say("conv-zh", "你们周末发货吗", "zh")).toEqual([
      { type: "answer", text: "现在是非工作时间，您的问题已记录。我们将于 12月1日周二 GMT+8 09:00 上班，届时会在这里回复您。", confident: true, path: "pending", confidence: 0 },
    ]);
    kb.set("运费多少", [{ id: "kb:fee", question: "运费多少？", answer: "满 99 元包邮。", confidence: 0.95 }]);
    expect(await say("conv-zh", "运费多少", "zh")).toEqual([
      { type: "answer", text: "满 99 元包邮。", sources: [{ id: "kb:fee", title: "运费多少？" }], confident: true, path: "direct", entryId: "kb:fee", confidence: 0.95 },
    ]);
  });

  test("during business hours nothing is deferred", async () => {
    const { service, say } = setup({ start: new Date(TUE_0900.getTime() + 3600_000) });
    const reply = await say("conv-1", "Do you ship to Japan?");
    expect(reply.at(-1)).toMatchObject({ type: "answer", text: "Yes, we ship to Japan.", confident: true });
    expect(await service.store.countPending()).toBe(0);
  });

  test("at opening: knowledge added overnight answers without the model; what no model can answer goes to the agents, once per conversation", async () => {
    const { clock, kb, service, history, say } = setup({ concurrency: 1 });
    await say("conv-a", "Do you ship to Japan?");
    await say("conv-a", "Can I pay by invoice?");
    await say("conv-b", "What is the warranty?");
    await say("gone", "Hello?");
    kb.set("What is the warranty?", [{ id: "kb:warranty", question: "Warranty?", answer: "Two years.", confidence: 0.9 }]);
    llm.setOptions({ errorRate: 1 });

    clock.advanceTo(TUE_0900);
    const report = await service.offHours!.run();
    expect(report).toMatchObject({ processed: 4, answered: 1, handed_off: 3, failed: 0, pending: 0 });
    expect(history).toEqual([
      { conversationId: "conv-a", kind: "handoff" },
      { conversationId: "conv-b", kind: "bot", text: 'About your earlier question "What is the warranty?":\nTwo years.', sources: [{ id: "kb:warranty", title: "Warranty?" }] },
      { conversationId: "gone", kind: "handoff" },
    ]);
    expect((await service.store.list()).map((q) => q.status)).toEqual(["handed_off", "handed_off", "answered", "handed_off"]);
  });

  test("a conversation that cannot receive the answer marks the question failed; the others still go through", async () => {
    const { service, history, say } = setup();
    await say("gone", "Do you ship to Japan?");
    await say("conv-1", "Do you ship to Japan?");
    const report = await service.offHours!.run();
    expect(report).toMatchObject({ processed: 2, answered: 1, failed: 1 });
    expect(history.map((h) => h.conversationId)).toEqual(["conv-1"]);
    expect(await service.store.list({ status: "failed" })).toMatchObject([{ conversationId: "gone", error: "conversation not found" }]);
  });

  test("the batch runs with bounded concurrency", async () => {
    llm.setOptions({ ttftMs: 30 });
    const { service, say } = setup({ concurrency: 2 });
    for (let i = 0; i < 7; i++) await say(`conv-${i}`, `question ${i}`);
    const report = await service.offHours!.run();
    expect(report).toMatchObject({ processed: 7, answered: 7 });
    expect(llm.stats.maxInFlight).toBe(2);
    llm.setOptions({ ttftMs: 0 });
  });

  test("questions saved before a restart get their timer back; an on-demand run joins the one in progress", async () => {
    const db = new Database(":memory:");
    const first = setup({ db });
    await first.say("conv-1", "Do you ship to Japan?");
    first.service.stop();

    const second = setup({ db, start: new Date(MON_2300.getTime() + 3600_000) });
    await Bun.sleep(0); // start() reads the table
    expect(second.clock.pending()).toEqual([TUE_0900]);
    second.clock.advanceTo(TUE_0900);
    const [a, b] = await Promise.all([second.service.offHours!.run(), second.service.offHours!.run()]);
    expect(a).toBe(b);
    expect(second.history).toHaveLength(1);
    expect(llm.stats.requests).toBe(1);
  });

  test("a long closure is waited for in chained timers; a timer that fires while still closed is re-armed", async () => {
    const holidays = { ...hours, holidays: Array.from({ length: 40 }, (_, i) => new Date(Date.UTC(2026, 11, 1 + i)).toISOString().slice(0, 10)) };
    const db = new Database(":memory:");
    migrate(db, [...answerMigrations, ...answerLaterMigrations]);
    const clock = fakeClock(MON_2300);
    const { sink, history } = fakeSink();
    const service = createAnswerService({
      config: { answer: answerConfig(), llm: llmConfig([llm]), hours: holidays },
      sql: createSqliteSql(db),
      knowledge: fakeKnowledge(),
      sink,
      now: clock.now,
      timers: clock.timers,
    });
    for await (const _ of service.pipeline.reply({ conversationId: "c", text: "hi", lang: "en", signal: new AbortController().signal }));
    const opening = (await service.offHours!.status()).next_opening!;
    expect(opening).toBe("2027-01-11T01:00:00.000Z");
    const firstDue = clock.pending()[0]!;
    expect(firstDue.getTime() - MON_2300.getTime()).toBe(2 ** 31 - 1);
    clock.advanceTo(firstDue);
    expect(clock.pending()).toEqual([new Date(opening)]);
    expect(history).toEqual([]);
    clock.advanceTo(new Date(opening));
    await service.offHours!.run();
    expect(history).toHaveLength(1);
  });
});
