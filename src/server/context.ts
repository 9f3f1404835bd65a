import type { Database } from "bun:sqlite";
import type { Auth } from "../auth/service";
import type { AnswerService } from "../answer/service";
import type { Bot } from "../chat/bot";
import type { ChatService } from "../chat/service";
import type { KefuConfig } from "../config/schema";
import type { EventBus } from "../events/bus";
import type { Logger } from "../log/logger";
import type { AnswerLog } from "../insights/answer-log";
import type { KnowledgeBase } from "../kb/engine";
import type { ModelRuntime } from "../models/runtime";
import type { LoadedPlugins } from "../plugins/loader";
import type { Settings } from "../settings/settings";
import type { Sql } from "../storage/sql";
import type { NodeServices } from "./node-services";

/**
 * Everything a feature plugin may depend on, built once at start-up. Features take
 * what they need from here instead of importing each other's singletons.
 */
export interface AppContext {
  config: KefuConfig;
  /** Directory relative config paths are resolved against. */
  baseDir: string;
  log: Logger;
  /** This node's own SQLite database: the knowledge base's search index and node-local data (always). */
  db: Database;
  /**
   * The shared store every node of a cluster sees (conversations, accounts, settings, …): the SQLite driver
   * over `db` on one node, PostgreSQL in cluster mode (`[storage] driver`).
   */
  sql: Sql;
  bus: EventBus;
  /** This node's id, its coordinator (cluster-wide locks, leases, leadership) and the bus's health. */
  node: NodeServices;
  auth: Auth;
  plugins: LoadedPlugins;
  startedAt: number;
  lifecycle: Lifecycle;
  /** Replies to visitors; read on every reply. Unset: the answer pipeline. Tests install scripted bots here. */
  bot?: Bot;
  kb: KnowledgeBase;
  chat: ChatService;
  answer: AnswerService;
  /** Config overrides from the settings table (src/settings). */
  settings: Settings;
  /** The answer log (src/insights): every answered visitor question. */
  insights: AnswerLog;
  /** Local ONNX models (src/models). */
  models: ModelRuntime;
  /** Cluster mode: how this node's knowledge base met the shared store at start ("empty": neither had entries); null on one node. */
  sharedKb: "pushed" | "replaced" | "incremental" | "empty" | null;
}

/** The context before the features are built (they receive it). */
export type BaseContext = Omit<AppContext, "kb" | "chat" | "answer" | "settings" | "insights" | "models" | "sharedKb">;

/**
 * Readiness and shutdown bookkeeping. Start-up work (model warm-up, re-indexing)
 * registers a pending task; /readyz answers 503 until all have finished.
 * Features register closers that run, newest first, on graceful shutdown.
 */
export type ShutdownPhase = "connections" | "resources";

export class Lifecycle {
  private pending = new Set<string>();
  private closers: { name: string; close: () => unknown; phase: ShutdownPhase }[] = [];
  shuttingDown = false;

  track<T>(name: string, work: Promise<T>): Promise<T> {
    this.pending.add(name);
    return work.finally(() => this.pending.delete(name));
  }

  get ready(): boolean {
    return this.pending.size === 0 && !this.shuttingDown;
  }

  get waitingFor(): string[] {
    return [...this.pending];
  }

  private listeners: (() => unknown)[] = [];
  /** Work that starts once the server listens, off the cold start's path (e.g. the knowledge-base search workers). */
  afterListen(fn: () => unknown) {
    this.listeners.push(fn);
  }
  /** Called by start.ts right after listen; a failing hook is reported and does not stop the others. */
  async listened(onError: (err: unknown) => void) {
    for (const fn of this.listeners.splice(0)) {
      try {
        await fn();
      } catch (err) {
        onError(err);
      }
    }
  }

  /**
   * "connections" closers run first (close WebSockets with 1001, stop accepting
   * chat work); then in-flight HTTP requests drain; then "resources" closers run
   * (workers, timers) before the database is checkpointed and closed.
   */
  onShutdown(name: string, close: () => unknown, phase: ShutdownPhase = "resources") {
    this.closers.push({ name, close, phase });
  }

  /** Runs one phase's closers newest first; a failing closer is reported and does not stop the others. */
  async close(phase: ShutdownPhase, onError: (name: string, err: unknown) => void) {
    this.shuttingDown = true;
    for (const c of [...this.closers].reverse()) {
      if (c.phase !== phase) continue;
      try {
        await c.close();
      } catch (err) {
        onError(c.name, err);
      }
    }
    this.closers = this.closers.filter((c) => c.phase !== phase);
  }
}
