import type { KefuConfig } from "../config/schema";
import type { HistoryMessage } from "../llm/prompt";
import { LlmRegistry, type RegistryDeps } from "../llm/registry";
import type { Logger } from "../log/logger";
import type { LoadedPlugins } from "../plugins/loader";
import { BusinessHours } from "../schedule/business-hours";
import type { KnowledgeSource } from "./knowledge";
import { type ConversationSink, OffHours, type Timers } from "./off-hours";
import { createPendingStore, type PendingStore } from "./pending-store";
import type { Sql } from "../storage/sql";
import { type AnswerPipeline, createAnswerPipeline } from "./pipeline";

/**
 * Builds the whole answer feature from config in one call, for start-up wiring: the LLM registry, the
 * pipeline (a `Bot` for the chat and the engine of POST /api/ask), and, with `[hours] enabled` and a
 * conversation sink, the off-hours store and batch scheduler.
 */

export interface AnswerServiceOptions {
  config: Pick<KefuConfig, "answer" | "llm" | "hours">;
  /** The shared store (the off-hours questions). */
  sql: Sql;
  knowledge: KnowledgeSource;
  plugins?: Pick<LoadedPlugins, "onMessage">;
  /** Where off-hours answers land; without it questions are never deferred (they go to the model path). */
  sink?: ConversationSink;
  /** Earlier messages of a conversation, for the prompt's history window. */
  history?: (conversationId: string) => HistoryMessage[] | Promise<HistoryMessage[]>;
  log?: Logger;
  /** For tests: fetch, env and clock of the LLM registry. */
  llm?: RegistryDeps;
  /** Wall clock for business hours and the pending table. Default `() => new Date()`. */
  now?: () => Date;
  timers?: Timers;
  /** Cluster: true while this node runs the scheduled off-hours batch (default always; see OffHoursOptions). */
  isLeader?: () => boolean;
  /** This node's name in the off-hours claims. */
  nodeId?: string;
}

export interface AnswerService {
  pipeline: AnswerPipeline;
  registry: LlmRegistry;
  store: PendingStore;
  /** Null unless `[hours] enabled` and a sink is given. */
  offHours: OffHours | null;
  /** Cancels the batch timer and answers in progress. */
  stop(): void;
}

export function createAnswerService(opts: AnswerServiceOptions): AnswerService {
  const { config } = opts;
  const log = opts.log?.child({ feature: "answer" });
  const registry = new LlmRegistry(config.llm, { log, ...opts.llm });
  const store = createPendingStore(opts.sql);
  let offHours: OffHours | null = null;
  if (config.hours.enabled && opts.sink) {
    const now = opts.now ?? (() => new Date());
    const hours = new BusinessHours(config.hours, { now });
    offHours = new OffHours({
      hours,
      store,
      sink: opts.sink,
      answer: (q, signal) => pipeline.answerOffline(q.question, q.lang, signal),
      concurrency: config.answer.pending_concurrency,
      retentionDays: config.answer.pending_retention_days,
      now,
      timers: opts.timers,
      log,
      isLeader: opts.isLeader,
      runnerId: opts.nodeId,
    });
  }
  const pipeline = createAnswerPipeline(
    { knowledge: opts.knowledge, llm: registry, plugins: opts.plugins, history: opts.history, offHours: offHours ?? undefined, log },
    { answer: config.answer, prompt: config.llm },
  );
  offHours?.start().catch((err) => log?.error("off-hours questions could not be read at start", { err }));
  return { pipeline, registry, store, offHours, stop: () => offHours?.stop() };
}
