import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { type FakeLlm, startFakeLlm } from "../bench/fake-llm/server";
import { createAnswerPipeline } from "../src/answer/pipeline";
import { answerConfig, fakeKnowledge, llmConfig } from "../src/answer/test-fixtures";
import type { LlmConfig, ProviderConfigInput } from "../src/llm/config";
import { LlmRegistry } from "../src/llm/registry";

/**
 * LLM capacity defaults (issue 13): a burst of visitors asking a healthy hosted provider at once gets model
 * answers, not the busy reply, and the adaptive limit grows into what the provider sustains; a provider that
 * slows down is still backed off. The fake provider takes 300 ms to its first token.
 */

let llm: FakeLlm;
beforeAll(async () => {
  llm = await startFakeLlm();
});
afterAll(() => llm.stop());
beforeEach(() => {
  llm.setOptions({ ttftMs: 300, tokensPerSecond: 0, errorRate: 0, hangRate: 0, malformedRate: 0, reply: "Here is your answer." });
  llm.resetStats();
});

function setup(over: Partial<LlmConfig> = {}, provider: Partial<ProviderConfigInput> = {}) {
  const cfg = llmConfig([llm], over, provider);
  const registry = new LlmRegistry(cfg);
  const pipeline = createAnswerPipeline({ knowledge: fakeKnowledge(), llm: registry }, { answer: answerConfig(), prompt: cfg });
  return { registry, pipeline };
}

/** `n` visitors asking distinct questions at the same moment; the answer paths by count. */
async function burst(pipeline: ReturnType<typeof setup>["pipeline"], n: number, tag: string) {
  const results = await Promise.all(Array.from({ length: n }, (_, i) => pipeline.ask({ text: `${tag} question number ${i}`, lang: "en" })));
  return { llm: results.filter((r) => r.path === "llm").length, busy: results.filter((r) => r.outage === "busy").length };
}

describe("LLM capacity", () => {
  test(
    "50 visitors at once against a healthy 300 ms provider all get model answers at the default settings; the limit grows past its start",
    async () => {
      const { pipeline, registry } = setup();
      const start = registry.status()[0]!.limit.limit;
      const r = await burst(pipeline, 50, "healthy");
      expect(r).toEqual({ llm: 50, busy: 0 });
      const limit = registry.status()[0]!.limit;
      expect(limit.limit).toBeGreaterThan(start);
      expect(limit.decreases).toBe(0);
      expect(llm.stats.maxInFlight).toBeLessThanOrEqual(limit.limit);
    },
    20_000,
  );

  test(
    "the old defaults (8 slots, 200 ms of waiting, 32 waiting at most) gave most of the same burst the busy reply",
    async () => {
      const { pipeline } = setup({ queue_timeout_ms: 200, max_queue: 32 }, { max_concurrency: 8 });
      const r = await burst(pipeline, 50, "old");
      expect(r.busy).toBeGreaterThan(25);
      expect(r.llm + r.busy).toBe(50);
    },
    20_000,
  );

  test(
    "a provider that slows down past limit_latency_ms is backed off, and the limit stops growing fast",
    async () => {
      const { pipeline, registry } = setup({ limit_latency_ms: 800 });
      await burst(pipeline, 50, "before");
      const grown = registry.status()[0]!.limit.limit;
      llm.setOptions({ ttftMs: 1000 });
      await burst(pipeline, 10, "slow");
      const after = registry.status()[0]!.limit;
      expect(after.decreases).toBeGreaterThan(0);
      expect(after.limit).toBeLessThan(grown);
      // Healthy again: growth is additive now (one slot per `limit` good calls), not one per call.
      llm.setOptions({ ttftMs: 100 });
      await burst(pipeline, 20, "again");
      expect(registry.status()[0]!.limit.limit).toBeLessThanOrEqual(after.limit + 1);
    },
    20_000,
  );
});
