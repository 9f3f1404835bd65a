import { KefuError } from "../errors/kefu-error";

/**
 * Degrade chain: tries answer steps in order (providers by priority, a local model, a knowledge-base
 * suggestion) and ends with a fixed busy message, under a hard deadline: the caller gets a first delta
 * or a final answer within `deadlineMs`, whatever the steps do (hang, fail, crawl).
 *
 * A step is committed once it produced its first non-empty delta; from then on its deltas are
 * forwarded as they come. If a committed step fails mid-stream, the chain emits `reset` (the client
 * discards the partial text) and continues with the next step under a fresh deadline.
 */

export type AnswerPath = "llm" | "local" | "suggestion" | "busy";

export interface StepTrace {
  step: string;
  outcome: "answered" | "skipped" | "error" | "deadline" | "failed_mid_stream";
  /** Skip reason (breaker_open, queue_full, queue_timeout, no_time, empty...) or error code. */
  reason?: string;
  /** Time spent on the step. Informational. */
  ms: number;
}

export type ChainEvent =
  | { type: "delta"; text: string }
  /** Discard the deltas received so far: the step that produced them failed; another will answer. */
  | { type: "reset"; reason: string }
  | {
      type: "done";
      /** The full answer (deltas are a preview of it; a non-streaming consumer needs only this). */
      text: string;
      path: AnswerPath;
      step: string;
      provider?: string;
      /** Set by the answering step (sources, offer_human...). */
      meta: Record<string, unknown>;
      trace: StepTrace[];
    };

export interface StepContext {
  /** Aborted when the deadline passes before the first delta, or when the caller aborts. */
  readonly signal: AbortSignal;
  /** Time left before the first delta is due, in ms (negative once committed steps run past it). */
  remainingMs(): number;
  /** Anything the step wants in the final `done` event (e.g. `sources`). */
  readonly meta: Record<string, unknown>;
  /** What the steps before this one did (e.g. a fallback step words its text after why the providers did not answer). */
  readonly trace: readonly StepTrace[];
}

export interface ChainStep {
  readonly name: string;
  readonly path: AnswerPath;
  readonly provider?: string;
  /** Skip the step when less than this remains before the deadline. Default 0. */
  readonly minBudgetMs?: number;
  /**
   * Text deltas. Throw `StepSkipped` (or finish without any text) to pass to the next step. Must stop
   * promptly when `ctx.signal` aborts, or the abandoned attempt keeps its resources.
   */
  run(ctx: StepContext): AsyncIterable<string>;
}

/** Thrown by a step that declines to answer (breaker open, gate full, nothing to suggest). */
export class StepSkipped extends Error {
  constructor(readonly reason: string) {
    super(`step skipped: ${reason}`);
    this.name = "StepSkipped";
  }
}

/** Abort reason the chain uses when the deadline passes, so a step can tell it from a caller abort. */
export const DEADLINE_CODE = "llm_deadline";

export function isDeadlineAbort(signal: AbortSignal): boolean {
  return signal.aborted && signal.reason instanceof KefuError && signal.reason.code === DEADLINE_CODE;
}

export interface RunChainOptions {
  steps: ChainStep[];
  /** Final answer when no step answers (path "busy"): must need no I/O. */
  fallback: { text: string; meta?: Record<string, unknown> };
  /** First delta or final answer within this many ms. */
  deadlineMs: number;
  /** The visitor went away: abort the current step and end without `done`. */
  signal?: AbortSignal;
  /** Kept back from the deadline so the fallback is out in time despite timer lateness. Default 20 ms. */
  reserveMs?: number;
}

type Race<T> = { kind: "value"; result: IteratorResult<T> } | { kind: "error"; error: unknown } | { kind: "deadline" } | { kind: "aborted" };

/**
 * Runs the chain. Ends with exactly one `done` unless `signal` aborts first (then it just ends).
 * Pull-based: a slow consumer slows the upstream read rather than buffering without bound.
 */
export async function* runDegradeChain(opts: RunChainOptions): AsyncGenerator<ChainEvent, void, undefined> {
  const { signal } = opts;
  const reserve = opts.reserveMs ?? 20;
  const trace: StepTrace[] = [];
  let deadlineAt = performance.now() + opts.deadlineMs - reserve;
  const caller = abortPromise(signal);
  try {
    yield* steps();
  } finally {
    caller.dispose();
  }

  async function* steps(): AsyncGenerator<ChainEvent, void, undefined> {
    const callerAborted = caller.promise;
    for (const step of opts.steps) {
      if (signal?.aborted) return;
      const t0 = performance.now();
      const ms = () => Math.round(performance.now() - t0);
      const budget = deadlineAt - t0;
      if (budget <= 0 || budget < (step.minBudgetMs ?? 0)) {
        trace.push({ step: step.name, outcome: "skipped", reason: "no_time", ms: 0 });
        continue;
      }
      const attempt = new AbortController();
      const onCallerAbort = () => attempt.abort(signal?.reason);
      signal?.addEventListener("abort", onCallerAbort, { once: true });
      const ctx: StepContext = { signal: attempt.signal, remainingMs: () => deadlineAt - performance.now(), meta: {}, trace };
      let it: AsyncIterator<string> | null = null;
      let text = "";
      try {
        it = start(step, ctx);
        const deadline = delay(budget);
        let first: Race<string>;
        // Wait for the first non-empty delta, bounded by the deadline.
        for (;;) {
          first = await race(it, deadline.promise, callerAborted);
          if (first.kind !== "value" || first.result.done || first.result.value !== "") break;
        }
        deadline.cancel();
        if (first.kind === "aborted") return;
        if (first.kind === "deadline") {
          attempt.abort(new KefuError(DEADLINE_CODE, 504, `no first token within the answer deadline (${opts.deadlineMs} ms)`));
          trace.push({ step: step.name, outcome: "deadline", ms: ms() });
          continue;
        }
        if (first.kind === "error") {
          if (signal?.aborted) return;
          const skipped = first.error instanceof StepSkipped;
          trace.push({ step: step.name, outcome: skipped ? "skipped" : "error", reason: reasonOf(first.error), ms: ms() });
          continue;
        }
        if (first.result.done) {
          trace.push({ step: step.name, outcome: "skipped", reason: "empty", ms: ms() });
          continue;
        }

        text = first.result.value;
        yield { type: "delta", text };
        let failure: unknown = null;
        for (;;) {
          const next = await race(it, null, callerAborted);
          if (next.kind === "aborted") return;
          if (next.kind === "error") {
            if (signal?.aborted) return;
            failure = next.error;
            break;
          }
          if (next.kind !== "value" || next.result.done) break;
          if (next.result.value === "") continue;
          text += next.result.value;
          yield { type: "delta", text: next.result.value };
        }
        if (failure === null) {
          trace.push({ step: step.name, outcome: "answered", ms: ms() });
          yield {
            type: "done",
            text,
            path: step.path,
            step: step.name,
            ...(step.provider ? { provider: step.provider } : {}),
            meta: ctx.meta,
            trace,
          };
          return;
        }
        const reason = reasonOf(failure);
        trace.push({ step: step.name, outcome: "failed_mid_stream", reason, ms: ms() });
        yield { type: "reset", reason };
        deadlineAt = performance.now() + opts.deadlineMs - reserve;
      } finally {
        signal?.removeEventListener("abort", onCallerAbort);
        // Reached on every exit, including the consumer stopping early: stop whatever the step still does.
        if (!attempt.signal.aborted) attempt.abort(new KefuError("llm_aborted", 499, "answer no longer needed"));
        if (it?.return) it.return().catch(() => {});
      }
    }
    if (signal?.aborted) return;
    yield { type: "done", text: opts.fallback.text, path: "busy", step: "fallback", meta: opts.fallback.meta ?? {}, trace };
  }
}

/** A step that answers with one piece of text, or skips when `produce` returns null (e.g. no suggestion). */
export function textStep(
  name: string,
  path: AnswerPath,
  produce: (ctx: StepContext) => { text: string; meta?: Record<string, unknown> } | null | Promise<{ text: string; meta?: Record<string, unknown> } | null>,
): ChainStep {
  return {
    name,
    path,
    async *run(ctx) {
      const out = await produce(ctx);
      if (!out || out.text === "") throw new StepSkipped("empty");
      Object.assign(ctx.meta, out.meta);
      yield out.text;
    },
  };
}

/** A step that throws instead of returning an iterator fails like one whose first `next` rejects. */
function start(step: ChainStep, ctx: StepContext): AsyncIterator<string> {
  try {
    return step.run(ctx)[Symbol.asyncIterator]();
  } catch (error) {
    return { next: () => Promise.reject(error) };
  }
}

function race<T>(it: AsyncIterator<T>, deadline: Promise<void> | null, aborted: Promise<void>): Promise<Race<T>> {
  let pending: Promise<IteratorResult<T>>;
  try {
    pending = it.next();
  } catch (error) {
    pending = Promise.reject(error);
  }
  const next = pending.then(
    (result): Race<T> => ({ kind: "value", result }),
    (error): Race<T> => ({ kind: "error", error }),
  );
  const racers: Promise<Race<T>>[] = [next, aborted.then((): Race<T> => ({ kind: "aborted" }))];
  if (deadline) racers.push(deadline.then((): Race<T> => ({ kind: "deadline" })));
  return Promise.race(racers);
}

function delay(ms: number): { promise: Promise<void>; cancel(): void } {
  let timer: Timer | undefined;
  const promise = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, ms));
  });
  return { promise, cancel: () => clearTimeout(timer) };
}

/** Resolves when the signal aborts. `dispose` detaches the listener: one signal may serve a whole connection. */
function abortPromise(signal: AbortSignal | undefined): { promise: Promise<void>; dispose(): void } {
  if (!signal) return { promise: new Promise(() => {}), dispose() {} };
  if (signal.aborted) return { promise: Promise.resolve(), dispose() {} };
  let onAbort = () => {};
  const promise = new Promise<void>((resolve) => {
    onAbort = () => resolve();
    signal.addEventListener("abort", onAbort, { once: true });
  });
  return { promise, dispose: () => signal.removeEventListener("abort", onAbort) };
}

function reasonOf(e: unknown): string {
  if (e instanceof StepSkipped) return e.reason;
  if (e instanceof KefuError) return e.code;
  return e instanceof Error ? e.message : String(e);
}
