import { KefuError } from "../errors/kefu-error";
import { AimdLimit, type LimitSnapshot } from "./adaptive-limit";
import { type BreakerSnapshot, type BreakerStrategy, CircuitBreaker, failureRateStrategy } from "./breaker";
import { type LlmConfig, type ProviderConfig, resolveProviderConfig } from "./config";
import { type ChainEvent, type ChainStep, isDeadlineAbort, runDegradeChain, StepSkipped } from "./degrade-chain";
import { Gate, type GateSnapshot, type Permit } from "./gate";
import { LatencyWindow, type Percentiles } from "./latency-window";
import type { Logger } from "../log/logger";
import { type ChatMessage, type ChatOptions, isProviderFault, OpenAiClient, type OpenAiClientDeps } from "./openai-client";

/**
 * Builds one runtime per configured provider (client + gate + adaptive limit + breaker + stats), turns
 * them into degrade-chain steps in the configured order, and reports their status for the admin API.
 */

export interface RegistryDeps extends OpenAiClientDeps {
  /** Clock for breakers and limiters, injectable for tests. Default performance.now. */
  now?: () => number;
  /** Breaker strategy per provider (e.g. from a plugin); undefined keeps the configured failure-rate one. */
  strategy?: (provider: ProviderConfig) => BreakerStrategy | undefined;
  /** Gets one line per failure burst of a provider and one per breaker transition. */
  log?: Logger;
}

export interface ProviderStatus {
  name: string;
  model: string;
  priority: number;
  breaker: BreakerSnapshot;
  limit: LimitSnapshot;
  gate: GateSnapshot;
  /** Time to first token and whole-answer time of the last successful calls, in ms. */
  latency_ms: { first_token: Percentiles; total: Percentiles };
  /** Failure share over the breaker window. */
  error_rate: number;
  totals: ProviderTotals;
}

export interface ProviderTotals {
  /** Calls sent upstream. */
  requests: number;
  successes: number;
  failures: number;
  /** Calls stopped by the caller (visitor left, consumer stopped reading). */
  cancelled: number;
  /** Skipped because the breaker was open. */
  rejected_open: number;
  /** Skipped because no slot freed up in time. */
  rejected_busy: number;
}

type SharedOptions = Pick<LlmConfig, "queue_timeout_ms" | "max_queue" | "min_attempt_ms">;

/** Sees every call that reached a provider and ended with a verdict: its whole time, in ms (/metrics). */
export type CallObserver = (provider: string, outcome: "success" | "failure", ms: number) => void;

export class ProviderRuntime {
  readonly name: string;
  readonly client: OpenAiClient;
  readonly gate: Gate;
  readonly limiter: AimdLimit;
  readonly breaker: CircuitBreaker;
  private readonly firstToken = new LatencyWindow();
  private readonly total = new LatencyWindow();
  private readonly totals: ProviderTotals = { requests: 0, successes: 0, failures: 0, cancelled: 0, rejected_open: 0, rejected_busy: 0 };
  /** Failures since the last success: a burst is logged once, at its first failure. */
  private failingFor = 0;
  private readonly log?: Logger;
  /** Told of every call's outcome and time (LlmRegistry.observe). */
  readonly observers: CallObserver[] = [];

  constructor(
    readonly config: ProviderConfig,
    private readonly shared: SharedOptions,
    parts: { client: OpenAiClient; limiter: AimdLimit; breaker: CircuitBreaker; log?: Logger },
  ) {
    this.name = config.name;
    this.client = parts.client;
    this.limiter = parts.limiter;
    this.breaker = parts.breaker;
    this.log = parts.log;
    this.gate = new Gate({ limit: this.limiter.limit, maxQueue: shared.max_queue, queueTimeoutMs: shared.queue_timeout_ms });
    this.limiter.onChange((n) => this.gate.setLimit(n));
    this.breaker.onStateChange((state) => {
      const fields = { provider: this.name, state, failures_in_burst: this.failingFor, window: this.breaker.windowStats() };
      if (state === "open") this.log?.warn("llm provider breaker opened: calls are skipped", { ...fields, retry_in_ms: this.breaker.snapshot().retry_in_ms });
      else this.log?.info(state === "closed" ? "llm provider breaker closed: calls resume" : "llm provider breaker half-open: probing", fields);
    });
  }

  /** A degrade-chain step that asks this provider. */
  step(messages: ChatMessage[], options: Omit<ChatOptions, "signal"> = {}): ChainStep {
    return {
      name: this.name,
      path: "llm",
      provider: this.name,
      minBudgetMs: this.shared.min_attempt_ms,
      run: (ctx) => this.call(messages, options, ctx.signal, ctx.remainingMs()),
    };
  }

  status(): ProviderStatus {
    const breaker = this.breaker.snapshot();
    return {
      name: this.name,
      model: this.config.model,
      priority: this.config.priority,
      breaker,
      limit: this.limiter.snapshot(),
      gate: this.gate.snapshot(),
      latency_ms: { first_token: this.firstToken.percentiles(), total: this.total.percentiles() },
      error_rate: breaker.window.failure_rate,
      totals: { ...this.totals },
    };
  }

  private async *call(
    messages: ChatMessage[],
    options: Omit<ChatOptions, "signal">,
    signal: AbortSignal,
    remainingMs: number,
  ): AsyncGenerator<string, void, undefined> {
    const ticket = this.breaker.tryAcquire();
    if (!ticket) {
      this.totals.rejected_open++;
      throw new StepSkipped("breaker_open");
    }
    let permit: Permit;
    try {
      // Wait no longer than leaves the provider its minimum time before the deadline.
      const wait = Math.min(this.shared.queue_timeout_ms, remainingMs - this.shared.min_attempt_ms);
      permit = await this.gate.acquire({ signal, timeoutMs: Math.max(0, wait) });
    } catch (e) {
      ticket.cancel();
      if (e instanceof KefuError && e.code === "llm_busy") {
        this.totals.rejected_busy++;
        throw new StepSkipped((e.details as { reason: string }).reason);
      }
      throw e;
    }

    const startedAt = this.limiter.now();
    this.totals.requests++;
    let firstTokenMs: number | null = null;
    let settled = false;
    const settle = (outcome: "success" | "failure" | "cancel", error?: unknown) => {
      if (settled) return;
      settled = true;
      const totalMs = this.limiter.now() - startedAt;
      if (outcome === "success") {
        ticket.success();
        this.totals.successes++;
        this.failingFor = 0;
        this.total.add(totalMs);
        if (firstTokenMs !== null) this.firstToken.add(firstTokenMs);
      } else if (outcome === "failure") {
        ticket.failure(error);
        this.totals.failures++;
        if (this.failingFor++ === 0) this.log?.warn("llm provider failing", { provider: this.name, model: this.config.model, ...failureFields(error) });
      } else {
        ticket.cancel();
        this.totals.cancelled++;
      }
      if (outcome !== "cancel") for (const fn of this.observers) fn(this.name, outcome, totalMs);
      this.limiter.onSample({
        startedAt,
        latencyMs: firstTokenMs ?? totalMs,
        outcome: outcome === "cancel" ? "ignore" : outcome,
        inFlight: this.gate.inFlight,
      });
    };
    // The chain's deadline cut a call that had not produced a token in time: the provider was too slow.
    // Count it now, not when the aborted fetch unwinds, so the next visitor already sees the breaker's verdict.
    const onAbort = () => {
      if (isDeadlineAbort(signal)) settle("failure", signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      for await (const delta of this.client.stream(messages, { ...options, signal })) {
        firstTokenMs ??= this.limiter.now() - startedAt;
        yield delta;
      }
      settle("success");
    } catch (e) {
      settle(isProviderFault(e) ? "failure" : "cancel", e);
      throw e;
    } finally {
      // Reached without an outcome when the consumer stopped reading: that is a cancel.
      settle("cancel");
      signal.removeEventListener("abort", onAbort);
      // The slot is held until the upstream call has really ended, so in-flight stays truthful.
      permit.release();
    }
  }
}

export interface ChainInput {
  messages: ChatMessage[];
  /** Local small-model step (from the models feature), if available. */
  local?: ChainStep;
  /** Best knowledge-base suggestion step, if there is one for this question. */
  suggestion?: ChainStep;
  options?: Omit<ChatOptions, "signal">;
}

export class LlmRegistry {
  /** Sorted by priority (lower first), ties in config order. */
  readonly providers: ProviderRuntime[];
  readonly deadlineMs: number;
  private readonly order: string[];
  /** Builds the `local` step for a question when the input brings none (the local generator, src/models). */
  localStep?: (messages: ChatMessage[]) => ChainStep | undefined;

  constructor(config: LlmConfig, deps: RegistryDeps = {}) {
    this.deadlineMs = config.answer_deadline_ms;
    const resolved = config.providers.map(resolveProviderConfig);
    const names = new Set<string>();
    for (const p of resolved) {
      if (names.has(p.name)) throw configError(`llm provider name "${p.name}" is used twice`);
      names.add(p.name);
    }
    const reserved = new Set(["providers", "local", "suggestion"]);
    for (const n of names) if (reserved.has(n)) throw configError(`llm provider name "${n}" is reserved`);
    const seen = new Set<string>();
    for (const entry of config.degrade_chain) {
      if (!reserved.has(entry) && !names.has(entry)) {
        throw configError(`llm.degrade_chain entry "${entry}" is neither a provider name nor providers, local or suggestion`);
      }
      if (seen.has(entry)) throw configError(`llm.degrade_chain lists "${entry}" twice`);
      seen.add(entry);
    }
    this.order = config.degrade_chain;

    this.providers = resolved
      .map((cfg, i) => ({ cfg, i }))
      .sort((a, b) => a.cfg.priority - b.cfg.priority || a.i - b.i)
      .map(({ cfg }) => {
        const limiter = new AimdLimit({
          min: cfg.min_concurrency,
          max: cfg.max_concurrency,
          initial: cfg.initial_concurrency,
          slowStart: true,
          latencyThresholdMs: config.limit_latency_ms,
          backoff: config.limit_backoff,
          now: deps.now,
        });
        const breaker = new CircuitBreaker({
          windowMs: config.breaker_window_ms,
          openMs: config.breaker_open_ms,
          halfOpenProbes: config.breaker_half_open_probes,
          strategy:
            deps.strategy?.(cfg) ??
            failureRateStrategy({ failureRate: config.breaker_failure_rate, minRequests: config.breaker_min_requests }),
          now: deps.now,
        });
        // An upstream error may echo the key (in its message): the logger replaces it wherever it appears.
        deps.log?.secret(cfg.api_key ?? (cfg.api_key_env !== undefined ? (deps.env ?? process.env)[cfg.api_key_env] : undefined));
        return new ProviderRuntime(cfg, config, { client: new OpenAiClient(cfg, deps), limiter, breaker, log: deps.log });
      });
  }

  provider(name: string): ProviderRuntime | undefined {
    return this.providers.find((p) => p.name === name);
  }

  /** Steps in `degrade_chain` order; absent local/suggestion steps are left out. */
  /** Whether a step of the chain writes answers from the prompt: a provider, or the local generator. */
  generates(): boolean {
    return this.providers.length > 0 || this.localStep?.([]) !== undefined;
  }

  chain(input: ChainInput): ChainStep[] {
    const named = new Set(this.order);
    const steps: ChainStep[] = [];
    for (const entry of this.order) {
      if (entry === "providers") {
        for (const p of this.providers) if (!named.has(p.name)) steps.push(p.step(input.messages, input.options));
      } else if (entry === "local") {
        const local = input.local ?? this.localStep?.(input.messages);
        if (local) steps.push(local);
      } else if (entry === "suggestion") {
        if (input.suggestion) steps.push(input.suggestion);
      } else {
        steps.push(this.provider(entry)!.step(input.messages, input.options));
      }
    }
    return steps;
  }

  /** Runs the configured chain under `answer_deadline_ms`; see `runDegradeChain` for the event contract. */
  answer(input: ChainInput & { fallback: { text: string; meta?: Record<string, unknown> }; signal?: AbortSignal }): AsyncGenerator<ChainEvent, void, undefined> {
    return runDegradeChain({ steps: this.chain(input), fallback: input.fallback, deadlineMs: this.deadlineMs, signal: input.signal });
  }

  status(): ProviderStatus[] {
    return this.providers.map((p) => p.status());
  }

  /** Calls `fn` after every provider call that succeeded or failed (not cancelled), with its whole time. */
  observe(fn: CallObserver): void {
    for (const p of this.providers) p.observers.push(fn);
  }
}

/** What an operator needs from a provider error, without the request (which holds the visitor's text). */
function failureFields(err: unknown): Record<string, unknown> {
  if (err instanceof KefuError) return { code: err.code, error: err.message, ...(err.details ? { details: err.details } : {}) };
  return { error: err instanceof Error ? err.message : String(err) };
}

function configError(message: string) {
  return new KefuError("config_invalid", 500, message);
}
