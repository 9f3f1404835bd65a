import type { Bot, BotEvent, BotInput } from "../chat/bot";
import type { Source } from "../chat/schemas";
import type { Lang } from "../i18n/texts";
import { type ChainStep, runDegradeChain, textStep } from "../llm/degrade-chain";
import { LatencyWindow, type Percentiles } from "../llm/latency-window";
import { buildPrompt, type GroundingItem, type HistoryMessage, historyWindow, type PromptConfig } from "../llm/prompt";
import type { LlmRegistry } from "../llm/registry";
import type { Logger } from "../log/logger";
import type { LoadedPlugins } from "../plugins/loader";
import { normalizeForMatch, normalizeText } from "../text/normalize";
import { AnswerCache } from "./answer-cache";
import type { AnswerConfig } from "./config";
import type { KnowledgeEntry, KnowledgeHits, KnowledgeSource } from "./knowledge";
import type { OffHours } from "./off-hours";
import { answerText, suggestionList } from "./texts";

/**
 * The answer pipeline: every visitor message goes normalize → answer cache → plugins → knowledge
 * retrieval → direct answer, off-hours deferral, or the LLM degrade chain (providers → local model →
 * "did you mean" → busy text). The whole message, retrieval and plugins included, is under
 * `llm.answer_deadline_ms`: the first delta or the final answer always comes within it.
 */

/** `pending` only for chat messages outside business hours; REST never sees it. */
export type AnswerPath = "cache" | "direct" | "llm" | "plugin" | "fallback" | "pending";

export interface AskInput {
  text: string;
  lang: Lang;
  /** Aborting stops the work, including the upstream model request. */
  signal?: AbortSignal;
  /** Set by the chat: enables conversation history in the prompt and off-hours deferral. */
  conversationId?: string;
  visitorId?: string;
}

export interface AnswerResult {
  answer: string;
  path: AnswerPath;
  /** Knowledge-base confidence of the best entry for this question (plugin answers: 1). */
  confidence: number;
  sources: Source[];
  /** False for fallback texts (suggestions, busy): the chat counts them as misses. */
  confident: boolean;
  /** A plugin asked for a human. */
  handoff?: boolean;
  /** Off-hours: the saved question and when the batch is expected to answer it. */
  pending?: { id: number; opens_at: string | null };
  /** Degrade step that answered on the model path (provider name, "suggestion", "fallback"). */
  step?: string;
}

export type AnswerEvent =
  | { type: "delta"; text: string }
  /** Discard the deltas so far: the step streaming them failed and another one answers. */
  | { type: "reset"; reason: string }
  | { type: "final"; result: AnswerResult };

export interface AnswerDeps {
  knowledge: KnowledgeSource;
  llm: LlmRegistry;
  plugins?: Pick<LoadedPlugins, "onMessage">;
  /** Earlier messages of the conversation, oldest first. A trailing copy of the current question is dropped. */
  history?: (conversationId: string) => HistoryMessage[] | Promise<HistoryMessage[]>;
  /** Set when `[hours] enabled`: unanswerable chat questions outside business hours are deferred to it. */
  offHours?: OffHours;
  log?: Logger;
}

export interface AnswerPipelineOptions {
  answer: AnswerConfig;
  /** The `[llm]` section (prompt keys). */
  prompt: PromptConfig;
  /** Monotonic clock in ms for the cache TTL, injectable for tests. Default performance.now. */
  now?: () => number;
}

export interface AnswerStats {
  /** Messages answered, by path. */
  paths: Record<AnswerPath, number>;
  total: number;
  /** Plugin handoffs (counted under `plugin` too). */
  handoffs: number;
  /** Retrievals that failed or missed the deadline (the message went on without knowledge). */
  knowledge_errors: number;
  cache: { size: number; hits: number; misses: number; hit_rate: number };
  /** Time to the first delta or final answer. */
  first_event_ms: Percentiles;
}

export interface AnswerPipeline extends Bot {
  /** Streaming answer for REST/SSE: deltas (and resets), then exactly one final unless aborted. */
  stream(input: AskInput): AsyncGenerator<AnswerEvent, void, undefined>;
  /** Non-streaming: the final answer; rejects with an AbortError when `signal` aborts first. */
  ask(input: AskInput): Promise<AnswerResult>;
  /** For the off-hours batch: a knowledge-base direct hit or a model answer, or null when neither is available. */
  answerOffline(question: string, lang: Lang, signal?: AbortSignal): Promise<{ text: string; sources: Source[] } | null>;
  stats(): AnswerStats;
}

/**
 * Plugins and retrieval must finish this long before the deadline, so that the fallback built after them
 * still goes out in time when a timer fires late on a busy machine (the degrade chain keeps the same margin).
 */
const RESERVE_MS = 20;

const PATHS: AnswerPath[] = ["cache", "direct", "llm", "plugin", "fallback", "pending"];
const NO_HITS: KnowledgeHits = { entries: [], chunks: [] };

export function createAnswerPipeline(deps: AnswerDeps, opts: AnswerPipelineOptions): AnswerPipeline {
  const cfg = opts.answer;
  const cache = new AnswerCache({ size: cfg.cache_size, ttlMs: cfg.cache_ttl_s * 1000, now: opts.now });
  const counts = Object.fromEntries(PATHS.map((p) => [p, 0])) as Record<AnswerPath, number>;
  let handoffs = 0;
  let knowledgeErrors = 0;
  const firstEvent = new LatencyWindow();
  const log = deps.log;
  const k = Math.max(1, cfg.context_entries, cfg.context_chunks, cfg.suggestions);

  async function retrieve(question: string, budgetMs: number, signal?: AbortSignal): Promise<KnowledgeHits> {
    const r = await within(deps.knowledge.search(question, k), budgetMs, signal);
    if (r.kind === "value") return r.value;
    if (r.kind === "error" || r.kind === "timeout") {
      knowledgeErrors++;
      log?.warn("knowledge retrieval failed; answering without it", r.kind === "error" ? { err: r.error } : { reason: "deadline" });
    }
    return NO_HITS;
  }

  function grounding(hits: KnowledgeHits): { context: GroundingItem[]; titles: Map<string, string> } {
    const context: GroundingItem[] = [
      ...hits.entries.slice(0, cfg.context_entries).map((e): GroundingItem => ({ id: e.id, kind: "entry", title: e.question, text: e.answer })),
      ...hits.chunks.slice(0, cfg.context_chunks).map((c): GroundingItem => ({ id: c.id, kind: "chunk", title: c.title, text: c.text })),
    ];
    return { context, titles: new Map(context.map((c) => [c.id, c.title ?? ""])) };
  }

  async function historyFor(conversationId: string | undefined, question: string): Promise<HistoryMessage[]> {
    if (!conversationId || !deps.history) return [];
    let h: HistoryMessage[];
    try {
      h = [...(await deps.history(conversationId))];
    } catch (err) {
      log?.warn("conversation history unavailable; answering without it", { conversation_id: conversationId, err });
      return [];
    }
    const last = h.at(-1);
    if (last?.role === "visitor" && normalizeText(last.text, { lowercase: false }) === question) h.pop();
    return h;
  }

  async function* run(input: AskInput): AsyncGenerator<AnswerEvent, void, undefined> {
    const started = performance.now();
    const left = () => deps.llm.deadlineMs - (performance.now() - started);
    const leftBeforeReserve = () => left() - RESERVE_MS;
    const { signal, lang } = input;
    const question = normalizeText(input.text, { lowercase: false });
    const final = (result: AnswerResult): AnswerEvent => ({ type: "final", result });
    if (question === "") {
      yield final({ answer: answerText(lang, "no_answer"), path: "fallback", confidence: 0, sources: [], confident: false });
      return;
    }

    // Read before retrieval: if the knowledge base changes meanwhile, the answer is stored under the old
    // version, which is never looked up again. Never the other way round.
    const key = AnswerCache.key(normalizeForMatch(question), lang, deps.knowledge.version());
    const cached = cache.get(key);
    if (cached) {
      yield final({ answer: cached.text, path: "cache", confidence: cached.confidence, sources: cached.sources, confident: true });
      return;
    }

    if (deps.plugins) {
      const r = await within(deps.plugins.onMessage({ text: question, lang, conversationId: input.conversationId, visitorId: input.visitorId }), leftBeforeReserve(), signal);
      if (r.kind === "aborted") return;
      if (r.kind === "value" && r.value) {
        const { verdict, plugin } = r.value;
        if ("reply" in verdict) {
          yield final({ answer: verdict.reply, path: "plugin", confidence: 1, sources: [], confident: true, step: plugin });
        } else {
          yield final({ answer: answerText(lang, "needs_human"), path: "plugin", confidence: 1, sources: [], confident: false, handoff: true, step: plugin });
        }
        return;
      }
    }

    const hits = await retrieve(question, leftBeforeReserve(), signal);
    if (signal?.aborted) return;
    const thresholds = deps.knowledge.thresholds;
    const top = hits.entries[0];
    const confidence = top?.confidence ?? 0;
    if (top && confidence >= thresholds.direct) {
      const result: AnswerResult = { answer: top.answer, path: "direct", confidence, sources: [{ id: top.id, title: top.question }], confident: true };
      cache.set(key, { text: result.answer, sources: result.sources, confidence, origin: "direct" });
      yield final(result);
      return;
    }

    if (input.conversationId && deps.offHours?.isClosed()) {
      const d = deps.offHours.defer({ conversationId: input.conversationId, question, lang });
      yield final({
        answer: d.notice,
        path: "pending",
        confidence,
        sources: [],
        // Not a miss: the question is taken care of, and a human handoff at night would only leave the visitor in a queue.
        confident: true,
        pending: { id: d.id, opens_at: d.opensAt?.toISOString() ?? null },
      });
      return;
    }

    const history = await historyFor(input.conversationId, question);
    if (signal?.aborted) return;
    const { context, titles } = grounding(hits);
    const prompt = buildPrompt(opts.prompt, { question, context, history, lang: lang === "zh" ? "zh-CN" : "en" });
    const suggestions = hits.entries.filter((e) => e.confidence >= thresholds.suggest).slice(0, cfg.suggestions);
    const steps = deps.llm.chain({ messages: prompt.messages, suggestion: suggestionStep(suggestions, lang) });
    const fallback = answerText(lang, deps.llm.providers.length > 0 ? "busy" : "no_answer");
    const firstTurn = historyWindow(history, opts.prompt.history_turns, opts.prompt.history_max_chars).length === 0;

    for await (const ev of runDegradeChain({ steps, fallback: { text: fallback }, deadlineMs: Math.max(0, left()), signal })) {
      if (ev.type !== "done") {
        yield ev;
        continue;
      }
      log?.debug("answer chain", { path: ev.path, step: ev.step, trace: ev.trace });
      if (ev.path === "llm" || ev.path === "local") {
        const sources = citedSources(ev.text, prompt.sources, titles);
        // Degraded (local model) answers are not cached, so the next asker gets the primary model again.
        if (ev.path === "llm" && firstTurn) cache.set(key, { text: ev.text, sources, confidence, origin: "llm" });
        yield final({ answer: ev.text, path: "llm", confidence, sources, confident: true, step: ev.step });
      } else if (ev.path === "suggestion") {
        yield final({ answer: ev.text, path: "fallback", confidence, sources: suggestions.map((e) => ({ id: e.id, title: e.question })), confident: false, step: ev.step });
      } else {
        yield final({ answer: ev.text, path: "fallback", confidence, sources: [], confident: false, step: ev.step });
      }
    }
  }

  function suggestionStep(entries: KnowledgeEntry[], lang: Lang): ChainStep | undefined {
    if (entries.length === 0) return undefined;
    return textStep("suggestion", "suggestion", async () => {
      // In a burst, visitors who got a model slot are still a few promise hops from sending their request;
      // yielding to the event loop first lets them reach the network before the fallbacks take the CPU.
      await new Promise((resolve) => setImmediate(resolve));
      return { text: answerText(lang, "did_you_mean", { list: suggestionList(entries.map((e) => e.question)) }) };
    });
  }

  async function* stream(input: AskInput): AsyncGenerator<AnswerEvent, void, undefined> {
    const started = performance.now();
    let first = true;
    for await (const ev of run(input)) {
      if (first) {
        first = false;
        firstEvent.add(performance.now() - started);
      }
      if (ev.type === "final") {
        counts[ev.result.path]++;
        if (ev.result.handoff) handoffs++;
      }
      yield ev;
    }
  }

  return {
    stream,

    async *reply(input: BotInput): AsyncGenerator<BotEvent, void, undefined> {
      for await (const ev of stream({ text: input.text, lang: input.lang, signal: input.signal, conversationId: input.conversationId })) {
        if (ev.type === "delta" || ev.type === "reset") yield ev.type === "reset" ? { type: "reset" } : ev;
        else if (ev.type === "final") {
          const r = ev.result;
          if (r.handoff) yield { type: "handoff", reason: r.step ? `plugin:${r.step}` : "plugin" };
          else yield { type: "answer", text: r.answer, ...(r.sources.length ? { sources: r.sources } : {}), confident: r.confident };
        }
      }
    },

    async ask(input) {
      for await (const ev of stream(input)) if (ev.type === "final") return ev.result;
      throw new DOMException("the answer was aborted", "AbortError");
    },

    async answerOffline(question, lang, signal) {
      const q = normalizeText(question, { lowercase: false });
      const hits = await retrieve(q, deps.llm.deadlineMs, signal);
      const top = hits.entries[0];
      if (top && top.confidence >= deps.knowledge.thresholds.direct) return { text: top.answer, sources: [{ id: top.id, title: top.question }] };
      if (deps.llm.providers.length === 0 || signal?.aborted) return null;
      const { context, titles } = grounding(hits);
      const prompt = buildPrompt(opts.prompt, { question: q, context, lang: lang === "zh" ? "zh-CN" : "en" });
      // Providers only: a suggestion or a busy text is no answer to post hours later; a human is better.
      for await (const ev of deps.llm.answer({ messages: prompt.messages, fallback: { text: "" }, signal })) {
        if (ev.type === "done" && (ev.path === "llm" || ev.path === "local")) return { text: ev.text, sources: citedSources(ev.text, prompt.sources, titles) };
      }
      return null;
    },

    stats() {
      return {
        paths: { ...counts },
        total: PATHS.reduce((n, p) => n + counts[p], 0),
        handoffs,
        knowledge_errors: knowledgeErrors,
        cache: { size: cache.size, hits: cache.hits, misses: cache.misses, hit_rate: Math.round(cache.hitRate * 1000) / 1000 },
        first_event_ms: firstEvent.percentiles(),
      };
    },
  };
}

/** The passages the answer cites as `[id]`; all passages sent when it cites none (the model used them unmarked). */
export function citedSources(text: string, sent: string[], titles: Map<string, string>): Source[] {
  const cited = sent.filter((id) => text.includes(`[${id}]`));
  return (cited.length > 0 ? cited : sent).map((id) => {
    const title = titles.get(id);
    return title ? { id, title } : { id };
  });
}

type Within<T> = { kind: "value"; value: T } | { kind: "error"; error: unknown } | { kind: "timeout" } | { kind: "aborted" };

/** Waits for `work` at most `ms` and never past an abort; the work itself is left to finish on its own. */
async function within<T>(work: Promise<T>, ms: number, signal?: AbortSignal): Promise<Within<T>> {
  if (signal?.aborted) return { kind: "aborted" };
  let timer: Timer | undefined;
  let onAbort = () => {};
  try {
    return await Promise.race([
      work.then(
        (value): Within<T> => ({ kind: "value", value }),
        (error): Within<T> => ({ kind: "error", error }),
      ),
      new Promise<Within<T>>((resolve) => {
        timer = setTimeout(() => resolve({ kind: "timeout" }), Math.max(0, ms));
        onAbort = () => resolve({ kind: "aborted" });
        signal?.addEventListener("abort", onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}
