import type { AnswerKind, Bot, BotEvent, BotInput, ChosenAnswer } from "../chat/bot";
import type { Choice, Source } from "../chat/schemas";
import type { Lang } from "../i18n/texts";
import { citationFilter, stripCitations } from "../llm/citations";
import { type ChainStep, runDegradeChain, type StepTrace, textStep } from "../llm/degrade-chain";
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
import { choicesOf } from "../kb/decision";
import { type AnswerTextKey, answerText, suggestionList } from "./texts";

/**
 * The answer pipeline: every visitor message goes normalize → plugins → answer cache → knowledge
 * retrieval → direct answer, off-hours deferral, or the LLM degrade chain (providers → local model →
 * "did you mean" → busy text). The whole message, retrieval and plugins included, is under
 * `llm.answer_deadline_ms`: the first delta or the final answer always comes within it.
 */

/** `pending` only for chat messages outside business hours; REST never sees it. `choice`: a picked "did you mean" entry. */
export type AnswerPath = "cache" | "direct" | "llm" | "plugin" | "fallback" | "pending" | "choice";

export interface AskInput {
  /** The question as the visitor wrote it (several messages joined by newlines). */
  text: string;
  /** The messages one by one when several are answered together (the chat); each is also looked up on its own. */
  parts?: string[];
  lang: Lang;
  /** Aborting stops the work, including the upstream model request. */
  signal?: AbortSignal;
  /** Set by the chat: enables conversation history in the prompt and off-hours deferral. */
  conversationId?: string;
  visitorId?: string;
  /** Time already spent waiting before this call (the chat's answer queue): the deadline is measured from arrival. */
  queuedMs?: number;
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
  /** Degrade step that answered on the model path (provider name, "suggestion", "fallback"); cache hits: what made the answer ("direct", "llm"). */
  step?: string;
  /** Entries offered as "did you mean …" (suggestions): the chat lets the visitor pick one. */
  choices?: Choice[];
  /** The entry answered verbatim (direct, or the cached direct answer), else the top entry; absent without one. */
  entryId?: string;
  /** Fallback texts: why no provider answered (`busy`: none had a free slot in time). */
  outage?: "none" | "busy" | "down";
}

/** The answer log's finer path (src/insights): `llm` split into `llm`/`local`, `fallback` into `choices`/`busy`/`fallback`. */
export function answerKind(r: AnswerResult): AnswerKind {
  if (r.path === "llm") return r.step === "local" ? "local" : "llm";
  if (r.path === "fallback") return r.choices?.length ? "choices" : r.outage === "busy" ? "busy" : "fallback";
  return r.path;
}

export type AnswerEvent =
  | { type: "delta"; text: string }
  /** Discard the deltas so far: the step streaming them failed and another one answers. */
  | { type: "reset"; reason: string }
  | { type: "final"; result: AnswerResult };

export interface AnswerDeps {
  knowledge: KnowledgeSource;
  llm: LlmRegistry;
  /** onAnswer/hasAnswerHooks are optional so that tests can pass a bare onMessage. */
  plugins?: Pick<LoadedPlugins, "onMessage"> & Partial<Pick<LoadedPlugins, "onAnswer" | "hasAnswerHooks">>;
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
  /** Plugin handoffs (counted under `plugin` too; the chat counts every handoff by reason). */
  plugin_handoffs: number;
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
  /** The answer of an entry a visitor picked from offered choices, verbatim; null when unknown or disabled. */
  choose(entryId: string): Promise<ChosenAnswer | null>;
  /** For the off-hours batch: a knowledge-base direct hit or a model answer, or null when neither is available. */
  answerOffline(question: string, lang: Lang, signal?: AbortSignal): Promise<{ text: string; sources: Source[] } | null>;
  stats(): AnswerStats;
  /** Calls `fn` with every final answer and its time from the question, in ms (/metrics). */
  observe(fn: AnswerObserver): void;
}

/** Sees every final answer; `local`: the model path answered from the local model. */
export type AnswerObserver = (path: AnswerPath | "local", ms: number) => void;

/**
 * Plugins and retrieval must finish this long before the deadline, so that the fallback built after them
 * still goes out in time when a timer fires late on a busy machine (the degrade chain keeps the same margin).
 */
const RESERVE_MS = 20;

const PATHS: AnswerPath[] = ["cache", "direct", "llm", "plugin", "fallback", "pending", "choice"];
const NO_HITS: KnowledgeHits = { entries: [], chunks: [] };
/** The last resort's wording, by why no provider answered. */
const FALLBACK_TEXT: Record<"none" | "busy" | "down", AnswerTextKey> = { none: "no_answer", busy: "busy", down: "unavailable" };

export function createAnswerPipeline(deps: AnswerDeps, opts: AnswerPipelineOptions): AnswerPipeline {
  const cfg = opts.answer;
  const cache = new AnswerCache({ size: cfg.cache_size, ttlMs: cfg.cache_ttl_s * 1000, now: opts.now });
  const counts = Object.fromEntries(PATHS.map((p) => [p, 0])) as Record<AnswerPath, number>;
  let pluginHandoffs = 0;
  let knowledgeErrors = 0;
  const firstEvent = new LatencyWindow();
  const observers: AnswerObserver[] = [];
  const log = deps.log;
  const k = Math.max(1, cfg.context_entries, cfg.context_chunks, cfg.suggestions);

  async function retrieve(question: string, budgetMs: number, signal?: AbortSignal, exact = false): Promise<KnowledgeHits> {
    const r = await within(deps.knowledge.search(question, k, { exact }), budgetMs, signal);
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

  /** Earlier messages, without the trailing visitor messages that make up the question being answered. */
  async function historyFor(conversationId: string | undefined, parts: string[]): Promise<HistoryMessage[]> {
    if (!conversationId || !deps.history) return [];
    let h: HistoryMessage[];
    try {
      h = [...(await deps.history(conversationId))];
    } catch (err) {
      log?.warn("conversation history unavailable; answering without it", { conversation_id: conversationId, err });
      return [];
    }
    const asked = parts.map(normalizeForMatch);
    while (asked.length > 0 && h.at(-1)?.role === "visitor" && normalizeForMatch(h.at(-1)!.text) === asked.at(-1)) {
      h.pop();
      asked.pop();
    }
    return h;
  }

  /**
   * Retrieval for the question, and the entries to answer with verbatim (`direct`): the joined text's top
   * entry at or above `direct`, or — when several messages are answered together — the top entries of
   * each message if every one of them has a direct hit. Otherwise each message's hits join the context.
   */
  async function retrieveParts(question: string, parts: string[], budgetMs: () => number, signal?: AbortSignal) {
    // Several messages: their searches' entries are merged and ordered by confidence (choices, grounding), which
    // takes exact confidences; one message's decision does not.
    const several = parts.length >= 2;
    const hits = await retrieve(question, budgetMs(), signal, several);
    const threshold = deps.knowledge.thresholds.direct;
    const top = hits.entries[0];
    if (top && top.confidence >= threshold) return { hits, direct: [top] };
    if (parts.length < 2) return { hits, direct: null };
    const per = await Promise.all(parts.map((p) => retrieve(normalizeText(p, { lowercase: false }), budgetMs(), signal, true)));
    const tops = per.map((h) => h.entries[0]);
    const direct = tops.every((e) => e && e.confidence >= threshold) ? distinct(tops as KnowledgeEntry[]) : null;
    const entries = distinct([...hits.entries, ...per.flatMap((h) => h.entries)].sort((a, b) => b.confidence - a.confidence));
    const chunks = distinct([...hits.chunks, ...per.flatMap((h) => h.chunks)]);
    return { hits: { entries, chunks }, direct };
  }

  async function* run(input: AskInput): AsyncGenerator<AnswerEvent, void, undefined> {
    const started = performance.now() - Math.max(0, input.queuedMs ?? 0);
    const left = () => deps.llm.deadlineMs - (performance.now() - started);
    const leftBeforeReserve = () => left() - RESERVE_MS;
    const { signal, lang } = input;
    // Normalized for matching only; the prompt and a saved question keep the visitor's own writing.
    const question = normalizeText(input.text, { lowercase: false });
    const asked = input.text.trim();
    const parts = input.parts?.length ? input.parts : [asked];
    const final = (result: AnswerResult): AnswerEvent => ({ type: "final", result });
    if (question === "") {
      yield final({ answer: answerText(lang, "no_answer"), path: "fallback", confidence: 0, sources: [], confident: false });
      return;
    }

    // Plugins before the cache: their answers depend on more than the text (a multi-turn flow, an order
    // table), so a cached "yes" must not skip the invoice plugin waiting for that "yes".
    if (deps.plugins) {
      const r = await within(deps.plugins.onMessage({ text: question, parts, lang, conversationId: input.conversationId }), leftBeforeReserve(), signal);
      if (r.kind === "aborted") return;
      if (r.kind === "value" && r.value) {
        const { verdict, plugin } = r.value;
        if ("text" in verdict) {
          // Plugin choices are quick replies: typed back (or their number), they come to the plugin as a message.
          const choices = verdict.choices?.map((q, i) => ({ entry_id: `plugin:${plugin}:${i + 1}`, question: q }));
          yield final({ answer: verdict.text, path: "plugin", confidence: 1, sources: verdict.sources ?? [], confident: true, step: plugin, ...(choices ? { choices } : {}) });
        } else {
          yield final({ answer: answerText(lang, "needs_human"), path: "plugin", confidence: 1, sources: [], confident: false, handoff: true, step: plugin });
        }
        return;
      }
    }

    // Read before retrieval: if the knowledge base changes meanwhile, the answer is stored under the old
    // version, which is never looked up again. Never the other way round.
    const key = AnswerCache.key(normalizeForMatch(question), lang, deps.knowledge.version());
    const cached = cache.get(key);
    if (cached) {
      yield final({ answer: cached.text, path: "cache", confidence: cached.confidence, sources: cached.sources, confident: true, entryId: cached.entryId, step: cached.origin });
      return;
    }

    const { hits, direct: verbatim } = await retrieveParts(question, parts, leftBeforeReserve, signal);
    if (signal?.aborted) return;
    const thresholds = deps.knowledge.thresholds;
    const top = hits.entries[0];
    const confidence = top?.confidence ?? 0;
    if (verbatim) {
      const answer = verbatim.map((e) => e.answer).join("\n\n");
      const result: AnswerResult = { answer, path: "direct", confidence: Math.min(...verbatim.map((e) => e.confidence)), sources: verbatim.map(sourceOf), confident: true, entryId: verbatim[0]!.id };
      cache.set(key, { text: result.answer, sources: result.sources, confidence: result.confidence, origin: "direct", entryId: result.entryId });
      yield final(result);
      return;
    }

    if (input.conversationId && deps.offHours?.isClosed()) {
      const d = await deps.offHours.defer({ conversationId: input.conversationId, question: asked, lang });
      yield final({
        answer: d.notice,
        path: "pending",
        confidence,
        sources: [],
        // Not a miss: the question is taken care of, and a human handoff at night would only leave the visitor in a queue.
        confident: true,
        pending: { id: d.id, opens_at: d.opensAt?.toISOString() ?? null },
        entryId: top?.id,
      });
      return;
    }

    // Without a model to write from it (no provider, no local generator), the history is not read and no
    // prompt is built: most of a distinct question's main-thread cost on the default, LLM-less set-up.
    const generating = deps.llm.generates();
    const history = generating ? await historyFor(input.conversationId, parts) : [];
    if (signal?.aborted) return;
    const { context, titles } = grounding(hits);
    const prompt = generating ? buildPrompt(opts.prompt, { question: asked, context, history, lang: lang === "zh" ? "zh-CN" : "en" }) : { messages: [], sources: [] };
    // The same choices `kb.ask` and `kefu eval` offer: the top entry and the runners-up close to it.
    const suggestions = (hits.entries[0]?.confidence ?? 0) >= thresholds.suggest ? choicesOf(hits.entries).slice(0, cfg.suggestions) : [];
    const steps = deps.llm.chain({ messages: prompt.messages, suggestion: suggestionStep(suggestions, lang) });
    const firstTurn = historyWindow(history, opts.prompt.history_turns, opts.prompt.history_max_chars).length === 0;
    // The model cites passages as [id]; the visitor reads the answer without them (they become its sources).
    let clean = citationFilter(prompt.sources);

    // The fallback is worded once the chain knows why no provider answered (see the `done` below).
    for await (const ev of runDegradeChain({ steps, fallback: { text: "" }, deadlineMs: Math.max(0, left()), signal })) {
      if (ev.type === "delta") {
        const text = clean.push(ev.text);
        if (text) yield { type: "delta", text };
        continue;
      }
      if (ev.type === "reset") {
        clean = citationFilter(prompt.sources);
        yield ev;
        continue;
      }
      log?.debug("answer chain", { path: ev.path, step: ev.step, trace: ev.trace });
      const rest = clean.end();
      if (rest) yield { type: "delta", text: rest };
      if (ev.path === "llm" || ev.path === "local") {
        const sources = citedSources(ev.text, prompt.sources, titles);
        const answer = stripCitations(ev.text, prompt.sources);
        // Degraded (local model) answers are not cached, so the next asker gets the primary model again.
        if (ev.path === "llm" && firstTurn) cache.set(key, { text: answer, sources, confidence, origin: "llm", entryId: top?.id });
        yield final({ answer, path: "llm", confidence, sources, confident: true, step: ev.step, entryId: top?.id });
      } else if (ev.path === "suggestion") {
        yield final({ answer: ev.text, path: "fallback", confidence, sources: suggestions.map(sourceOf), confident: false, step: ev.step, choices: suggestions.map(choiceOf), entryId: top?.id });
      } else {
        const why = outage(ev.trace);
        yield final({ answer: answerText(lang, FALLBACK_TEXT[why]), path: "fallback", confidence, sources: [], confident: false, step: ev.step, entryId: top?.id, outage: why });
      }
    }
  }

  /**
   * Why no provider answered: none configured, one had no free slot in time (busy), or every one failed,
   * was cut at the deadline or has its breaker open (down: the visitor is told the assistant is unavailable).
   */
  function outage(trace: readonly StepTrace[]): "none" | "busy" | "down" {
    if (deps.llm.providers.length === 0) return "none";
    const names = new Set(deps.llm.providers.map((p) => p.name));
    return trace.some((t) => names.has(t.step) && (t.reason === "queue_full" || t.reason === "queue_timeout")) ? "busy" : "down";
  }

  function suggestionStep(entries: KnowledgeEntry[], lang: Lang): ChainStep | undefined {
    if (entries.length === 0) return undefined;
    return textStep("suggestion", "suggestion", async (ctx) => {
      // In a burst, visitors who got a model slot are still a few promise hops from sending their request;
      // yielding to the event loop first lets them reach the network before the fallbacks take the CPU.
      await new Promise((resolve) => setImmediate(resolve));
      const key = outage(ctx.trace) === "down" ? "unavailable_choices" : "did_you_mean";
      return { text: answerText(lang, key, { list: suggestionList(entries.map((e) => e.question)) }) };
    });
  }

  async function* stream(input: AskInput): AsyncGenerator<AnswerEvent, void, undefined> {
    const started = performance.now();
    let first = true;
    let streamed = false;
    for await (let ev of run(input)) {
      if (first) {
        first = false;
        firstEvent.add(performance.now() - started);
      }
      if (ev.type === "delta") streamed = true;
      else if (ev.type === "reset") streamed = false;
      else if (!ev.result.handoff && deps.plugins?.onAnswer && deps.plugins.hasAnswerHooks?.()) {
        // onAnswer plugins may rewrite or veto the answer; text already streamed is reset first.
        const r = ev.result;
        const question = { text: normalizeText(input.text, { lowercase: false }), parts: input.parts, lang: input.lang, conversationId: input.conversationId };
        const v = await deps.plugins.onAnswer(question, { text: r.answer, path: r.path, confidence: r.confidence, sources: r.sources, ...(r.path === "plugin" && r.step ? { plugin: r.step } : {}) });
        if (input.signal?.aborted) return;
        if (v.veto || v.changed) {
          if (streamed) yield { type: "reset", reason: "plugin" };
          const vetoed: AnswerResult | null = v.veto ? { answer: answerText(input.lang, "no_answer"), path: "fallback", confidence: r.confidence, sources: [], confident: false, step: `veto:${v.veto.plugin}`, entryId: r.entryId } : null;
          ev = { type: "final", result: vetoed ?? { ...r, answer: v.text } };
        }
      }
      if (ev.type === "final") {
        counts[ev.result.path]++;
        if (ev.result.handoff) pluginHandoffs++;
        if (observers.length) {
          const ms = performance.now() - started;
          const path = ev.result.path === "llm" && ev.result.step === "local" ? "local" : ev.result.path;
          for (const fn of observers) fn(path, ms);
        }
      }
      yield ev;
    }
  }

  return {
    stream,
    observe: (fn) => void observers.push(fn),

    async *reply(input: BotInput): AsyncGenerator<BotEvent, void, undefined> {
      for await (const ev of stream({ text: input.text, parts: input.parts, lang: input.lang, signal: input.signal, conversationId: input.conversationId, queuedMs: input.queuedMs })) {
        if (ev.type === "delta" || ev.type === "reset") yield ev.type === "reset" ? { type: "reset" } : ev;
        else if (ev.type === "final") {
          const r = ev.result;
          if (r.handoff) yield { type: "handoff", reason: r.step ? `plugin:${r.step}` : "plugin" };
          else {
            yield {
              type: "answer",
              text: r.answer,
              ...(r.sources.length ? { sources: r.sources } : {}),
              ...(r.choices?.length ? { choices: r.choices } : {}),
              confident: r.confident,
              path: answerKind(r),
              ...(r.step ? { step: r.step } : {}),
              ...(r.entryId ? { entryId: r.entryId } : {}),
              confidence: r.confidence,
            };
          }
        }
      }
    },

    async ask(input) {
      for await (const ev of stream(input)) if (ev.type === "final") return ev.result;
      throw new DOMException("the answer was aborted", "AbortError");
    },

    async choose(entryId) {
      const entry = (await deps.knowledge.get?.(entryId)) ?? null;
      if (!entry) return null;
      counts.choice++;
      return { text: entry.answer, sources: [sourceOf(entry)] };
    },

    async answerOffline(question, lang, signal) {
      const q = normalizeText(question, { lowercase: false });
      const hits = await retrieve(q, deps.llm.deadlineMs, signal);
      const top = hits.entries[0];
      if (top && top.confidence >= deps.knowledge.thresholds.direct) return { text: top.answer, sources: [sourceOf(top)] };
      if (deps.llm.providers.length === 0 || signal?.aborted) return null;
      const { context, titles } = grounding(hits);
      const prompt = buildPrompt(opts.prompt, { question: q, context, lang: lang === "zh" ? "zh-CN" : "en" });
      // Providers only: a suggestion or a busy text is no answer to post hours later; a human is better.
      for await (const ev of deps.llm.answer({ messages: prompt.messages, fallback: { text: "" }, signal })) {
        if (ev.type === "done" && (ev.path === "llm" || ev.path === "local")) {
          return { text: stripCitations(ev.text, prompt.sources), sources: citedSources(ev.text, prompt.sources, titles) };
        }
      }
      return null;
    },

    stats() {
      return {
        paths: { ...counts },
        total: PATHS.reduce((n, p) => n + counts[p], 0),
        plugin_handoffs: pluginHandoffs,
        knowledge_errors: knowledgeErrors,
        cache: { size: cache.size, hits: cache.hits, misses: cache.misses, hit_rate: Math.round(cache.hitRate * 1000) / 1000 },
        first_event_ms: firstEvent.percentiles(),
      };
    },
  };
}

const sourceOf = (e: Pick<KnowledgeEntry, "id" | "question">): Source => ({ id: e.id, title: e.question });
const choiceOf = (e: KnowledgeEntry): Choice => ({ entry_id: e.id, question: e.question });

/** Entries or chunks without repeats of an id, first kept. */
function distinct<T extends { id: string }>(items: T[]): T[] {
  const seen = new Set<string>();
  return items.filter((x) => !seen.has(x.id) && (seen.add(x.id), true));
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
  // Settled already (the plugin host with no onMessage hook answers at once): no timer, listener or race.
  const status = Bun.peek.status(work);
  if (status === "fulfilled") return { kind: "value", value: Bun.peek(work) as T };
  if (status === "rejected") {
    const error = Bun.peek(work);
    work.catch(() => {});
    return { kind: "error", error };
  }
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
