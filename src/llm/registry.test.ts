import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import { type FakeLlm, startFakeLlm } from "../../bench/fake-llm/server";
import { type LlmConfig, llmSection, type ProviderConfigInput } from "./config";
import { type ChainEvent, textStep } from "./degrade-chain";
import { createLogger } from "../log/logger";
import { LlmRegistry } from "./registry";
import { collect, done } from "./test-helpers";

/**
 * Issue 5 acceptance lines these modules prove alone, against the fake LLM on loopback: a hard-down
 * provider opens its breaker while every visitor still gets a reply in time; recovery goes through a
 * half-open probe; a slow provider fills the gate and the rest take the busy path with bounded
 * in-flight; a visitor leaving mid-stream cancels the upstream request.
 */

let primary: FakeLlm;
let secondary: FakeLlm;
beforeAll(async () => {
  [primary, secondary] = await Promise.all([startFakeLlm({ reply: "primary answer" }), startFakeLlm({ reply: "secondary answer" })]);
});
afterAll(async () => {
  await Promise.all([primary.stop(), secondary.stop()]);
});
beforeEach(() => {
  for (const f of [primary, secondary]) {
    f.setOptions({ ttftMs: 0, tokensPerSecond: 0, errorRate: 0, hangRate: 0, malformedRate: 0 });
    f.resetStats();
  }
});

const fallback = { text: "We are handling other requests, one moment. Would you like a human agent?", meta: { offer_human: true } };
const messages = [{ role: "user" as const, content: "When do you open?" }];

function config(providers: ProviderConfigInput[], over: Partial<LlmConfig> = {}): LlmConfig {
  return { ...(Value.Create(llmSection) as LlmConfig), providers, ...over };
}

function fakeProvider(name: string, fake: FakeLlm, over: Partial<ProviderConfigInput> = {}): ProviderConfigInput {
  return { name, base_url: fake.url, model: "fake", ...over };
}

function manualClock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}


describe("LlmRegistry with the fake LLM", () => {
  test("answers from the highest-priority provider and records its latency", async () => {
    const reg = new LlmRegistry(config([fakeProvider("second", secondary, { priority: 2 }), fakeProvider("first", primary, { priority: 1 })]));
    expect(reg.providers.map((p) => p.name)).toEqual(["first", "second"]);
    const events = await collect(reg.answer({ messages, fallback }));
    expect(done(events)).toMatchObject({ text: "primary answer", path: "llm", provider: "first" });
    expect(secondary.stats.requests).toBe(0);
    const status = reg.status()[0]!;
    expect(status.totals).toMatchObject({ requests: 1, successes: 1, failures: 0 });
    expect(status.latency_ms.total.samples).toBe(1);
    expect(status.breaker.state).toBe("closed");
  });

  test("fails over to the next provider on an HTTP error", async () => {
    primary.setOptions({ errorRate: 1 });
    const reg = new LlmRegistry(config([fakeProvider("first", primary, { priority: 1 }), fakeProvider("second", secondary, { priority: 2 })]));
    const events = await collect(reg.answer({ messages, fallback }));
    expect(done(events)).toMatchObject({ text: "secondary answer", provider: "second" });
    expect(done(events).trace[0]).toMatchObject({ step: "first", outcome: "error", reason: "llm_http_error" });
  });

  test("hard down: the breaker opens after the configured failures, every visitor still gets a reply, then recovery via a half-open probe", async () => {
    primary.setOptions({ errorRate: 1 });
    const clock = manualClock();
    const lines: { level: string; msg: string; provider?: string; code?: string }[] = [];
    const log = createLogger({ level: "info", write: (l) => lines.push(JSON.parse(l)) });
    const reg = new LlmRegistry(
      config([fakeProvider("p", primary)], { breaker_min_requests: 3, breaker_failure_rate: 0.5, breaker_open_ms: 10_000, breaker_half_open_probes: 1 }),
      { now: clock.now, log },
    );
    const suggestion = textStep("kb", "suggestion", () => ({ text: "Did you mean: opening hours?" }));
    const paths: string[] = [];
    for (let i = 0; i < 8; i++) {
      const events = await collect(reg.answer({ messages, fallback, suggestion: i % 2 ? suggestion : undefined }));
      paths.push(done(events).path);
    }
    // Every visitor got a reply: the suggestion when there was one, the busy message otherwise.
    expect(paths).toEqual(["busy", "suggestion", "busy", "suggestion", "busy", "suggestion", "busy", "suggestion"]);
    // Only the first three reached the provider; the open breaker kept the rest away from it.
    expect(primary.stats.requests).toBe(3);
    const open = reg.status()[0]!;
    expect(open.breaker).toMatchObject({ state: "open", opens: 1, rejected: 5 });
    expect(open.totals).toMatchObject({ failures: 3, rejected_open: 5 });
    expect(open.error_rate).toBe(1);
    expect(open.limit.limit).toBeLessThan(open.limit.max);

    // Provider recovers; after the open time one probe goes through and closes the breaker.
    primary.setOptions({ errorRate: 0 });
    clock.advance(10_000);
    expect(reg.status()[0]!.breaker.state).toBe("half_open");
    const events = await collect(reg.answer({ messages, fallback }));
    expect(done(events)).toMatchObject({ path: "llm", text: "primary answer" });
    expect(reg.status()[0]!.breaker.state).toBe("closed");
    // Operators read one line for the burst of three failures and one per breaker transition, no more.
    expect(lines.map((l) => [l.level, l.msg, l.provider])).toEqual([
      ["warn", "llm provider failing", "p"],
      ["warn", "llm provider breaker opened: calls are skipped", "p"],
      ["info", "llm provider breaker half-open: probing", "p"],
      ["info", "llm provider breaker closed: calls resume", "p"],
    ]);
    expect(lines[0]!.code).toBe("llm_http_error");
  });

  test("a hanging provider is cut at the deadline each time, then its breaker opens and replies come at once", async () => {
    primary.setOptions({ hangRate: 1 });
    const reg = new LlmRegistry(
      config([fakeProvider("p", primary)], { answer_deadline_ms: 250, min_attempt_ms: 50, breaker_min_requests: 2 }),
    );
    const traces: string[] = [];
    for (let i = 0; i < 4; i++) {
      const events = await collect(reg.answer({ messages, fallback }));
      expect(done(events).path).toBe("busy");
      const t = done(events).trace[0]!;
      traces.push(t.reason ? `${t.outcome}:${t.reason}` : t.outcome);
    }
    expect(traces).toEqual(["deadline", "deadline", "skipped:breaker_open", "skipped:breaker_open"]);
    // The two cut calls were really cancelled upstream, not left hanging.
    await primary.waitFor((s) => s.cancelled === 2 && s.inFlight === 0);
  });

  test("slow provider: the gate fills, the rest take the busy path at once, upstream in-flight never exceeds the limit", async () => {
    primary.setOptions({ ttftMs: 300, reply: "slow answer" });
    const limit = 3;
    const reg = new LlmRegistry(
      config([fakeProvider("p", primary, { max_concurrency: limit, min_concurrency: limit })], {
        answer_deadline_ms: 5000,
        queue_timeout_ms: 50,
        max_queue: 4,
      }),
    );
    const visitors = 40;
    let maxWaiting = 0;
    const runs = Array.from({ length: visitors }, () =>
      collect(reg.answer({ messages, fallback })).then((events) => {
        maxWaiting = Math.max(maxWaiting, reg.status()[0]!.gate.waiting);
        return done(events);
      }),
    );
    const results = await Promise.all(runs);
    const byPath = Object.groupBy(results, (r) => r.path);
    expect(byPath.llm?.length).toBe(limit);
    expect(byPath.busy?.length).toBe(visitors - limit);
    expect(primary.stats.maxInFlight).toBeLessThanOrEqual(limit);
    expect(maxWaiting).toBeLessThanOrEqual(4);
    const reasons = new Set(byPath.busy!.map((r) => r.trace[0]!.reason));
    expect([...reasons].sort()).toEqual(["queue_full", "queue_timeout"]);
    expect(reg.status()[0]!.gate).toMatchObject({ in_flight: 0, waiting: 0, rejected_full: visitors - limit - 4, rejected_timeout: 4 });
  });

  test("visitor disconnects mid-stream: the upstream request is aborted and the fake sees the cancel", async () => {
    primary.setOptions({ tokensPerSecond: 20, reply: "one two three four five six seven eight" });
    const reg = new LlmRegistry(config([fakeProvider("p", primary)]));
    const visitor = new AbortController();
    const seen: ChainEvent[] = [];
    for await (const e of reg.answer({ messages, fallback, signal: visitor.signal })) {
      seen.push(e);
      if (seen.length === 2) visitor.abort();
    }
    expect(seen.every((e) => e.type === "delta")).toBe(true);
    await primary.waitFor((s) => s.cancelled === 1);
    expect(primary.stats).toMatchObject({ completed: 0, inFlight: 0 });
    // A visitor leaving says nothing about the provider's health.
    expect(reg.status()[0]!.totals).toMatchObject({ cancelled: 1, failures: 0 });
    expect(reg.status()[0]!.breaker.window.requests).toBe(0);
  });

  test("a malformed stream resets and the secondary answers", async () => {
    primary.setOptions({ malformedRate: 1, reply: "broken reply here" });
    const reg = new LlmRegistry(config([fakeProvider("a", primary, { priority: 1 }), fakeProvider("b", secondary, { priority: 2 })]));
    const events = await collect(reg.answer({ messages, fallback }));
    expect(events.map((e) => e.type)).toEqual(["delta", "reset", "delta", "delta", "done"]);
    expect(done(events)).toMatchObject({ text: "secondary answer", provider: "b" });
  });

  test("degrade_chain orders named providers, local model and suggestion", async () => {
    primary.setOptions({ errorRate: 1 });
    const reg = new LlmRegistry(
      config([fakeProvider("a", primary, { priority: 1 }), fakeProvider("b", secondary, { priority: 2 })], {
        degrade_chain: ["a", "local", "suggestion", "providers"],
      }),
    );
    const local = textStep("local-model", "local", () => ({ text: "local answer" }));
    const suggestion = textStep("kb", "suggestion", () => ({ text: "suggestion" }));
    expect(reg.chain({ messages, local, suggestion }).map((s) => s.name)).toEqual(["a", "local-model", "kb", "b"]);
    const events = await collect(reg.answer({ messages, fallback, local, suggestion }));
    expect(done(events)).toMatchObject({ path: "local", text: "local answer" });
  });

  test("rejects bad chain entries and duplicate provider names", () => {
    expect(() => new LlmRegistry(config([fakeProvider("a", primary)], { degrade_chain: ["nope"] }))).toThrow(/degrade_chain/);
    expect(() => new LlmRegistry(config([fakeProvider("a", primary), fakeProvider("a", secondary)]))).toThrow(/twice/);
    expect(() => new LlmRegistry(config([fakeProvider("local", primary)]))).toThrow(/reserved/);
  });
});
