import { afterAll, beforeAll, expect, test } from "bun:test";
import { type FakeLlm, startFakeLlm } from "../bench/fake-llm/server";
import { startTestServer, type TestServer } from "./helpers/server";
import { cid, visitor } from "./helpers/ws-client";

/**
 * Issue 5, done-when 2, and issue 11's honest wording, through the real chat: the only provider fails
 * every call. Each visitor still gets a bot reply saying the assistant is unavailable (with the best
 * entries as choices when there are any, and a human), the breaker opens after the configured failures
 * and once open the provider is not called any more; the operator reads one log line for the failures
 * and one for the breaker, and the answer stats count the fallbacks.
 */
let llm: FakeLlm;
let s: TestServer;
beforeAll(async () => {
  llm = await startFakeLlm({ errorRate: 1, errorStatus: 500 });
  s = await startTestServer({
    log: { level: "warn" },
    chat: { bot_misses_before_handoff: 0 },
    llm: {
      providers: [{ name: "down", base_url: llm.url, model: "m" }],
      answer_deadline_ms: 2000,
      breaker_min_requests: 3,
      breaker_failure_rate: 0.5,
      breaker_open_ms: 600000,
    },
  });
});
afterAll(async () => {
  await s.stop();
  await llm.stop();
});

test("provider hard down: every visitor gets a reply, the breaker opens and stops the calls", async () => {
  const questions = ["Which colours does the winter jacket come in?", "Can I book a fitting appointment?", "What material is the scarf made of?", "Do you have a loyalty card?", "Can I pick up in person?", "Do you repair bicycles?"];
  for (const q of questions) {
    const { c } = await visitor(s.wsUrl, { lang: "en" });
    c.send({ type: "send", client_id: cid(), text: q });
    const reply = await c.nextType("message", (f) => f.from === "bot");
    expect({ q, text: reply.text }).toMatchObject({ q, text: expect.stringContaining("the assistant is unavailable right now") });
    expect(reply.text).toMatch(/[Tt]ype "human"/);
    expect(reply.text).not.toMatch(/many requests|busy/);
    await c.close();
  }
  const { c: zh } = await visitor(s.wsUrl, { lang: "zh" });
  zh.send({ type: "send", client_id: cid(), text: "你们的围巾是什么材质的？" });
  const zhReply = await zh.nextType("message", (f) => f.from === "bot");
  expect(zhReply.text).toContain("智能助手暂时无法使用");
  expect(zhReply.text).toContain("“人工”");
  await zh.close();
  // Three failures opened the breaker; later questions never reached the provider.
  expect(llm.stats.requests).toBe(3);
  const admin = await s.login("admin");
  const status = (await (await fetch(`${s.url}/api/admin/llm/providers`, { headers: { authorization: `Bearer ${admin}` } })).json()) as {
    providers: { name: string; breaker: { state: string } }[];
  };
  expect(status.providers.find((p) => p.name === "down")?.breaker.state).toBe("open");

  const lines = s.logs.map((l) => JSON.parse(l) as { msg: string; provider?: string });
  expect(lines.filter((l) => l.msg === "llm provider failing")).toMatchObject([{ provider: "down" }]);
  expect(lines.filter((l) => l.msg.startsWith("llm provider breaker"))).toMatchObject([{ msg: "llm provider breaker opened: calls are skipped", provider: "down" }]);
  const stats = (await (await fetch(`${s.url}/api/admin/answer/stats`, { headers: { authorization: `Bearer ${admin}` } })).json()) as Record<string, any>;
  expect(stats.paths.fallback).toBe(questions.length + 1);
  expect(stats.handoffs).toMatchObject({ keyword: 0, visitor: 0, misses: 0, plugin: 0, bot: 0, total: 0 });
});
