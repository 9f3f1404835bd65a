import type { KnowledgeSource } from "../answer/knowledge";
import type { ConversationSink, Timers } from "../answer/off-hours";
import { type AnswerService, createAnswerService } from "../answer/service";
import { createKbSync, type KbSyncStart } from "../cluster/kb-sync";
import { createClusterPresence } from "../cluster/presence-redis";
import type { ChosenStatus } from "../chat/presence";
import { resolveProviderConfig } from "../llm/config";
import type { HistoryMessage } from "../llm/prompt";
import type { RegistryDeps } from "../llm/registry";
import { createChatService, type ChatService } from "../chat/service";
import { type AnswerLog, createAnswerLog } from "../insights/answer-log";
import type { Embedder } from "../kb/embedder";
import { KnowledgeBase, type KnowledgeBaseOptions } from "../kb/engine";
import { SearchPool, searchWorkerCount } from "../kb/search-pool";
import type { Reranker } from "../models/reranker";
import { type ModelRuntime, startModels } from "../models/runtime";
import type { OpsDeps } from "../ops/jobs";
import { withPluginBreaker } from "../plugins/breaker";
import { createSettings, type Settings } from "../settings/settings";
import type { BaseContext } from "./context";

/**
 * The glue between features: the knowledge base seen as the answer pipeline's
 * KnowledgeSource, the chat seen as its ConversationSink and history. Each feature
 * knows only its own interfaces; this file is the one place they meet.
 */
export function knowledgeSource(kb: KnowledgeBase, reranker?: Reranker | null): KnowledgeSource {
  return {
    // A threshold change (settings table) moves it too: a cached direct answer may no longer be direct.
    version: () => kb.version() * 65_536 + (kb.thresholdChanges % 65_536),
    get thresholds() {
      return kb.thresholds;
    },
    async search(text, k, options) {
      const floor = options?.exact ? 0 : kb.thresholds.suggest;
      const [{ matches }, found] = await Promise.all([kb.search(text, { k, floor, brief: true }), kb.documents.search(text, kb.termStats(), k)]);
      // [models.reranker]: the cross-encoder orders the document chunks the model is grounded in (entries keep
      // the calibrated order, which the direct-answer decision rests on).
      const chunks = reranker ? (await reranker.rerank(text, found, (c) => c.text)).map((r) => r.item) : found;
      return {
        entries: matches.map((m) => ({ id: m.id, question: m.question, answer: m.answer, confidence: m.confidence })),
        chunks: chunks.map((c) => ({ id: `${c.documentId}#${c.chunk}`, title: c.title, text: c.text, score: c.relevance })),
      };
    },
    async get(id) {
      const e = kb.get(id);
      return e?.enabled ? { id: e.id, question: e.question, answer: e.answer } : null;
    },
  };
}

/** How long after listening the knowledge-base search workers start (see `buildFeatures`). */
const SEARCH_POOL_DELAY_MS = 300;

export function conversationSink(chat: ChatService): ConversationSink {
  return {
    async postBotMessage(conversationId, text, sources) {
      await chat.postBotMessage(conversationId, text, sources);
    },
    async requestHandoff(conversationId) {
      await chat.requestHuman(conversationId, "off_hours");
    },
  };
}

const roleOf = { visitor: "visitor", bot: "bot", agent: "agent" } as const;

/** Rows read for the history beyond its turns: the unanswered visitor messages the pipeline drops as the question. */
const QUESTION_ROWS = 8;

export function chatHistory(chat: ChatService, turns: number) {
  return async (conversationId: string): Promise<HistoryMessage[]> =>
    (await chat.recentText(conversationId, turns + QUESTION_ROWS))
      .filter((m) => m.sender !== "system")
      .map((m) => ({ role: roleOf[m.sender as keyof typeof roleOf], text: m.text }));
}

export interface Features {
  kb: KnowledgeBase;
  chat: ChatService;
  answer: AnswerService;
  /** Config keys overridden from the admin API (the thresholds), laid over the file and live on change. */
  settings: Settings;
  insights: AnswerLog;
  /** Local ONNX models (src/models): nothing runs unless [models] configures one. */
  models: ModelRuntime;
  /** Cluster mode: how this node's knowledge base met the shared store at start (src/cluster/kb-sync.ts); null on one node. */
  sharedKb: KbSyncStart["mode"] | null;
}

/** One log line per tenth of a re-index (an embedder switch rebuilds every vector before start-up goes on). */
function reindexProgress(log: BaseContext["log"]) {
  let shown = -1;
  return (done: number, total: number) => {
    const tenth = Math.floor((done / total) * 10);
    if (!total || tenth === shown) return;
    shown = tenth;
    log.info("re-indexing knowledge base vectors for the new embedder", { done, total });
  };
}

/** Builds the knowledge base, the chat and the answer pipeline, wired to each other. */
/**
 * Bun runs at most BUN_CONFIG_MAX_HTTP_REQUESTS (default 256) fetches at once per process; calls above it
 * wait invisibly inside fetch, where no gate or deadline can see them.
 */
function warnFetchCap(config: BaseContext["config"], ctx: BaseContext) {
  const cap = Number(process.env.BUN_CONFIG_MAX_HTTP_REQUESTS ?? 256);
  const total = config.llm.providers.reduce((n, p) => n + resolveProviderConfig(p).max_concurrency, 0);
  if (total > cap) {
    ctx.log.warn("LLM providers may open more requests than Bun runs at once", {
      providers_max_concurrency: total,
      bun_max_http_requests: cap,
      fix: `lower [[llm.providers]] max_concurrency or start kefu with BUN_CONFIG_MAX_HTTP_REQUESTS=${total}`,
    });
  }
}

/**
 * Opens the knowledge base on the local model's embedder when one is configured. A model that loaded but
 * fails while the entries are re-indexed with it (a worker that keeps dying, a file broken underneath) must
 * not keep the server from starting: the knowledge base opens on the built-in embedder instead (re-indexing
 * to it if the stored vectors are the model's), with one error line; a restart once the model works goes back.
 */
export async function openKnowledgeBase(
  db: BaseContext["db"],
  embedder: Embedder | null,
  log: BaseContext["log"],
  options: Omit<KnowledgeBaseOptions, "embedder">,
): Promise<KnowledgeBase> {
  if (!embedder) return KnowledgeBase.open(db, options);
  try {
    return await KnowledgeBase.open(db, { ...options, embedder });
  } catch (err) {
    log.error("the knowledge base could not be indexed with the local embedder; serving with the built-in embedder", {
      embedder: embedder.id,
      error: err instanceof Error ? err.message : String(err),
      fix: "check the model (kefu models list, docs/models.md), then restart kefu",
    });
    return KnowledgeBase.open(db, options);
  }
}

export interface FeatureDeps {
  /** fetch, env and clock of the LLM registry. */
  llm?: RegistryDeps;
  /** Wall clock and timers of business hours and the off-hours batch (tests use a fake clock). */
  clock?: { now: () => Date; timers: Timers };
  /** Clock and first-run delays of retention and scheduled backups (src/ops/jobs.ts). */
  ops?: OpsDeps;
}

export async function buildFeatures(ctx: BaseContext, deps: FeatureDeps = {}): Promise<Features> {
  const { config, db, log } = ctx;
  const models = await startModels({ config: config.models, embedder: config.kb.embedder, baseDir: ctx.baseDir, log: log.child({ feature: "models" }) });
  ctx.lifecycle.onShutdown("models", () => models.close());
  const kb = await openKnowledgeBase(db, models.embedder, log, {
    onReindexProgress: reindexProgress(log),
    thresholds: { direct: config.kb.direct, suggest: config.kb.suggest },
    // Fitted in the background whenever the knowledge base changes; the previous calibrator serves meanwhile.
    calibration: { auto: true, onError: (err) => log.warn("confidence calibration failed", { error: String(err) }) },
  });
  let sharedKb: Features["sharedKb"] = null;
  if (ctx.node.clustered || config.storage.driver === "postgres") {
    // The shared store is the knowledge base's source; this node's index follows it (src/cluster/kb-sync.ts).
    const sync = createKbSync({ kb, sql: ctx.sql, bus: ctx.bus, log: log.child({ feature: "kb-sync" }), nodeId: ctx.node.nodeId, coordinator: ctx.node.coordinator });
    const first = await sync.start();
    sharedKb = first.mode;
    log.info("knowledge base synchronised with the shared store", { mode: first.mode, version: first.version, pushed: first.pushed, pulled: first.pulled });
    ctx.lifecycle.onShutdown("kb-sync", () => sync.stop());
  }
  // Retrieval and scoring on the spare cores (issue 13; src/kb/search-pool.ts): closed with the knowledge base.
  // Started a moment after the server listens: a worker loading beside the main thread's start-up slowed the cold
  // start from 77 to 106 ms on 2 cores, and right after listen still to 88 (bench/cold-start.ts: it overlaps the
  // first requests). Until it is ready, searches run in-thread, as they always do while a worker loads.
  let poolTimer: Timer | null = null;
  ctx.lifecycle.afterListen(() => {
    poolTimer = setTimeout(async () => {
      poolTimer = null;
      if (ctx.lifecycle.shuttingDown) return;
      const pool = await SearchPool.start(kb, { size: searchWorkerCount(config.kb.search_workers), log: log.child({ feature: "kb-search" }) }).catch((err) => {
        log.error("knowledge-base search workers not started; searching in-thread", { err });
        return null;
      });
      // A stop that began meanwhile has closed the knowledge base already: close what it did not know of.
      if (pool && ctx.lifecycle.shuttingDown) await pool.close();
    }, SEARCH_POOL_DELAY_MS);
  });
  ctx.lifecycle.onShutdown("kb-search-start", () => poolTimer && clearTimeout(poolTimer), "connections");
  const settings = await createSettings({ sql: ctx.sql, bus: ctx.bus, config, log, apply: (c) => kb.setThresholds({ direct: c.kb.direct, suggest: c.kb.suggest }) });
  ctx.lifecycle.onShutdown("settings", () => settings.close());
  const insights = createAnswerLog(ctx.sql, log.child({ feature: "insights" }));
  // Cluster mode: agents on every node count for assignment and for what visitors are told (src/cluster/presence-redis.ts).
  let chosenOf: (userId: number) => ChosenStatus = () => "online";
  let presenceChanged: (diff: { online: number[]; offline: number[] }) => void = () => {};
  const clusterPresence = ctx.node.clustered
    ? await createClusterPresence({
        url: config.cluster.url,
        nodeId: ctx.node.nodeId,
        bus: ctx.bus,
        chosen: (id) => chosenOf(id),
        log: log.child({ feature: "presence" }),
        heartbeatMs: config.cluster.heartbeat_ms,
        onChange: (diff) => presenceChanged(diff),
      })
    : null;
  if (clusterPresence) ctx.lifecycle.onShutdown("presence", () => clusterPresence.close());
  const chat = createChatService({
    sql: ctx.sql,
    bus: ctx.bus,
    log: log.child({ feature: "chat" }),
    config: config.chat,
    users: ctx.auth.users,
    bot: () => ctx.bot ?? answer.pipeline,
    recordAnswer: insights.record,
    coordinator: ctx.node.coordinator,
    ...(clusterPresence ? { presence: (chosen: (userId: number) => ChosenStatus) => ((chosenOf = chosen), clusterPresence) } : {}),
  });
  presenceChanged = (diff) => chat.presenceChanged(diff);
  const answer = createAnswerService({
    config,
    sql: ctx.sql,
    knowledge: knowledgeSource(kb, models.reranker),
    plugins: ctx.plugins,
    sink: conversationSink(chat),
    history: chatHistory(chat, config.llm.history_turns),
    log,
    llm: withPluginBreaker(deps.llm, ctx.plugins, config.llm),
    now: deps.clock?.now,
    timers: deps.clock?.timers,
    isLeader: () => ctx.node.coordinator.isLeader("off-hours"),
    nodeId: ctx.node.nodeId,
  });
  answer.registry.localStep = (messages) => models.localStep(messages);
  warnFetchCap(config, ctx);
  ctx.lifecycle.onShutdown("chat", () => chat.stop(), "connections");
  ctx.lifecycle.onShutdown("answer", () => answer.stop());
  ctx.lifecycle.onShutdown("knowledge", () => kb.close());
  return { kb, chat, answer, settings, insights, models, sharedKb };
}
