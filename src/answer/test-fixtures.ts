import { Value } from "@sinclair/typebox/value";
import type { FakeLlm } from "../../bench/fake-llm/server";
import { type LlmConfig, llmSection, type ProviderConfigInput } from "../llm/config";
import { type AnswerConfig, answerSection } from "./config";
import type { KnowledgeChunk, KnowledgeEntry, KnowledgeHits, KnowledgeSource } from "./knowledge";

/** Shared by the answer tests: a scriptable knowledge source, configs with defaults, a fake timer queue. */

export interface FakeKnowledge extends KnowledgeSource {
  /** Hits returned for a question (exact text as the pipeline passes it, after normalization). */
  set(question: string, entries: KnowledgeEntry[], chunks?: KnowledgeChunk[]): void;
  /** Simulates an edit: the version moves on. */
  bump(): void;
  searches: number;
  /** The `exact` option of each search, in order. */
  exact: boolean[];
  /** When set, every search waits for this promise first (a slow or hung knowledge base). */
  stall: Promise<void> | null;
}

export function fakeKnowledge(thresholds = { direct: 0.5, suggest: 0.2 }): FakeKnowledge {
  const hits = new Map<string, KnowledgeHits>();
  let version = 1;
  const kb: FakeKnowledge = {
    thresholds,
    searches: 0,
    exact: [],
    stall: null,
    version: () => version,
    bump: () => void version++,
    set(question, entries, chunks = []) {
      hits.set(question, { entries, chunks });
    },
    async search(text, _k, options) {
      kb.searches++;
      kb.exact.push(options?.exact === true);
      if (kb.stall) await kb.stall;
      return hits.get(text) ?? { entries: [], chunks: [] };
    },
    async get(id) {
      for (const h of hits.values()) {
        const e = h.entries.find((x) => x.id === id);
        if (e) return { id: e.id, question: e.question, answer: e.answer };
      }
      return null;
    },
  };
  return kb;
}

export function answerConfig(over: Partial<AnswerConfig> = {}): AnswerConfig {
  return { ...(Value.Create(answerSection) as AnswerConfig), ...over };
}

export function llmConfig(fakes: FakeLlm[], over: Partial<LlmConfig> = {}, provider: Partial<ProviderConfigInput> = {}): LlmConfig {
  const providers = fakes.map((f, i) => ({ name: `p${i + 1}`, base_url: f.url, model: "fake", priority: i + 1, ...provider }));
  return { ...(Value.Create(llmSection) as LlmConfig), providers, ...over };
}

/** Timers that fire only when the test moves the clock. */
export function fakeClock(start: Date) {
  let now = start.getTime();
  let nextId = 1;
  const queue = new Map<number, { due: number; fn: () => void }>();
  return {
    now: () => new Date(now),
    timers: {
      setTimeout(fn: () => void, ms: number) {
        const id = nextId++;
        queue.set(id, { due: now + ms, fn });
        return id;
      },
      clearTimeout(handle: unknown) {
        queue.delete(handle as number);
      },
    },
    /** Armed timers' due times. */
    pending: () => [...queue.values()].map((t) => new Date(t.due)),
    /** Moves the clock to `to`, firing due timers in order (each at its own due time). */
    advanceTo(to: Date) {
      for (;;) {
        const due = [...queue.entries()].filter(([, t]) => t.due <= to.getTime()).sort((a, b) => a[1].due - b[1].due)[0];
        if (!due) break;
        queue.delete(due[0]);
        now = due[1].due;
        due[1].fn();
      }
      now = to.getTime();
    },
  };
}
