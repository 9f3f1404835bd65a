import { KefuError } from "../errors/kefu-error";
import { type ChainStep, StepSkipped } from "../llm/degrade-chain";
import { Gate, type Permit } from "../llm/gate";
import type { GeneratorModelConfig } from "./config";
import type { ModelPool } from "./pool";

/**
 * The degrade chain's `local` step: a small instruct model (text-generation pipeline, chat template
 * from its tokenizer config) in its own worker(s), streaming tokens. Like a provider it has its own
 * concurrency gate (busy → the step is skipped at once) and a whole-answer deadline; a failed or
 * still-loading model makes the step skip, so the chain goes on to its next step.
 */
export class LocalGenerator {
  readonly gate: Gate;
  readonly stats = { answers: 0, tokens: 0, failures: 0, skipped: 0 };

  constructor(
    readonly pool: ModelPool,
    private readonly cfg: GeneratorModelConfig,
  ) {
    this.gate = new Gate({ limit: cfg.concurrency, maxQueue: cfg.max_queue, queueTimeoutMs: 1000 });
  }

  step(messages: { role: string; content: string }[]): ChainStep {
    return { name: "local", path: "local", run: (ctx) => this.stream(messages, ctx.signal, ctx.remainingMs()) };
  }

  /** Streams the answer's text pieces; ends early (without error) at the whole-answer deadline. */
  async *stream(messages: { role: string; content: string }[], signal: AbortSignal, remainingMs = 1000): AsyncGenerator<string, void, undefined> {
    if (this.pool.state !== "ready") {
      this.stats.skipped++;
      throw new StepSkipped(this.pool.state === "starting" ? "model_loading" : "model_unavailable");
    }
    let permit: Permit;
    try {
      permit = await this.gate.acquire({ signal, timeoutMs: Math.max(0, remainingMs - 50) });
    } catch (e) {
      this.stats.skipped++;
      if (e instanceof KefuError && e.code === "llm_busy") throw new StepSkipped((e.details as { reason: string }).reason);
      throw e;
    }
    const stop = new AbortController();
    const onAbort = () => stop.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    const cut = setTimeout(() => stop.abort(new KefuError("local_deadline", 504, "local generation reached its deadline")), this.cfg.deadline_ms);
    const pieces: string[] = [];
    let wake: (() => void) | null = null;
    let finished = false;
    let failure: unknown = null;
    const done = this.pool
      .request({ type: "generate", messages, maxNewTokens: this.cfg.max_new_tokens, maxPromptTokens: this.cfg.max_prompt_tokens }, {
        signal: stop.signal,
        onToken: (t) => {
          pieces.push(t);
          wake?.();
        },
      })
      .then(
        () => {
          this.stats.answers++;
        },
        (e) => {
          // Cut at the whole-answer deadline: what was streamed is the answer.
          if (!(stop.signal.aborted && stop.signal.reason instanceof KefuError && stop.signal.reason.code === "local_deadline")) failure = e;
        },
      )
      .finally(() => {
        finished = true;
        wake?.();
      });
    try {
      for (;;) {
        while (pieces.length) {
          this.stats.tokens++;
          yield pieces.shift()!;
        }
        if (finished) break;
        await new Promise<void>((r) => (wake = r));
        wake = null;
      }
      await done;
      if (failure) {
        this.stats.failures++;
        throw failure;
      }
    } finally {
      clearTimeout(cut);
      signal.removeEventListener("abort", onAbort);
      if (!finished) stop.abort(new KefuError("llm_aborted", 499, "the consumer stopped reading"));
      permit.release();
    }
  }
}
