import { describe, expect, test } from "bun:test";
import { type ChainEvent, type ChainStep, isDeadlineAbort, runDegradeChain, StepSkipped, textStep } from "./degrade-chain";
import { collect, done } from "./test-helpers";

const fallback = { text: "We are busy, one moment.", meta: { offer_human: true } };


/** A step that streams `parts` with `gapMs` between them and records how it ended. */
function scripted(name: string, parts: (string | Error)[], opts: { firstMs?: number; gapMs?: number } = {}) {
  const log = { aborted: false, deadline: false, finished: false };
  const step: ChainStep = {
    name,
    path: "llm",
    provider: name,
    async *run(ctx) {
      ctx.signal.addEventListener("abort", () => {
        log.aborted = true;
        log.deadline = isDeadlineAbort(ctx.signal);
      });
      try {
        for (let i = 0; i < parts.length; i++) {
          await sleep(i === 0 ? (opts.firstMs ?? 0) : (opts.gapMs ?? 0), ctx.signal);
          const p = parts[i]!;
          if (p instanceof Error) throw p;
          yield p;
        }
        log.finished = true;
      } finally {
        ctx.meta.sources = ["kb:1"];
      }
    },
  };
  return { step, log };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      reject(signal.reason);
    });
  });
}

describe("runDegradeChain", () => {
  test("streams the first step's deltas then done with path, provider, meta and trace", async () => {
    const { step } = scripted("primary", ["Hel", "", "lo"]);
    const events = await collect(runDegradeChain({ steps: [step], fallback, deadlineMs: 1000 }));
    expect(events.slice(0, 2)).toEqual([
      { type: "delta", text: "Hel" },
      { type: "delta", text: "lo" },
    ]);
    expect(done(events)).toMatchObject({ text: "Hello", path: "llm", provider: "primary", meta: { sources: ["kb:1"] } });
    expect(done(events).trace).toEqual([{ step: "primary", outcome: "answered", ms: expect.any(Number) }]);
  });

  test("skips failing and skipping steps, in order", async () => {
    const broken = scripted("a", [new Error("boom")]).step;
    const skipping: ChainStep = {
      name: "b",
      path: "llm",
      run: () => {
        throw new StepSkipped("breaker_open");
      },
    };
    const suggestion = textStep("kb", "suggestion", () => ({ text: "Did you mean: opening hours?", meta: { entry: 7 } }));
    const events = await collect(runDegradeChain({ steps: [broken, skipping, suggestion], fallback, deadlineMs: 1000 }));
    expect(done(events)).toMatchObject({ text: "Did you mean: opening hours?", path: "suggestion", meta: { entry: 7 } });
    expect(done(events).trace.map((t) => [t.step, t.outcome, t.reason])).toEqual([
      ["a", "error", "boom"],
      ["b", "skipped", "breaker_open"],
      ["kb", "answered", undefined],
    ]);
  });

  test("a step that hangs is cut at the deadline, told why, and the fallback answers", async () => {
    const hang = scripted("slow", ["late"], { firstMs: 60_000 });
    const events = await collect(runDegradeChain({ steps: [hang.step], fallback, deadlineMs: 100 }));
    expect(events).toHaveLength(1);
    expect(done(events)).toMatchObject({ path: "busy", step: "fallback", text: fallback.text, meta: { offer_human: true } });
    expect(done(events).trace[0]).toMatchObject({ step: "slow", outcome: "deadline" });
    expect(hang.log).toMatchObject({ aborted: true, deadline: true, finished: false });
  });

  test("once committed, a slow stream is not cut by the deadline", async () => {
    const { step } = scripted("p", ["a", "b", "c"], { gapMs: 80 });
    const events = await collect(runDegradeChain({ steps: [step], fallback, deadlineMs: 100 }));
    expect(done(events)).toMatchObject({ text: "abc", path: "llm" });
  });

  test("a step is skipped when less than its minimum budget remains", async () => {
    const { step } = scripted("p", ["x"]);
    const events = await collect(runDegradeChain({ steps: [{ ...step, minBudgetMs: 500 }], fallback, deadlineMs: 300 }));
    expect(done(events).trace[0]).toMatchObject({ outcome: "skipped", reason: "no_time" });
  });

  test("a mid-stream failure emits reset and the next step answers", async () => {
    const first = scripted("a", ["par", new Error("connection reset")]).step;
    const second = scripted("b", ["full answer"]).step;
    const events = await collect(runDegradeChain({ steps: [first, second], fallback, deadlineMs: 1000 }));
    expect(events.map((e) => e.type)).toEqual(["delta", "reset", "delta", "done"]);
    expect(events[1]).toEqual({ type: "reset", reason: "connection reset" });
    expect(done(events)).toMatchObject({ text: "full answer", provider: "b" });
  });

  test("an empty answer counts as a skip", async () => {
    const empty = scripted("a", []).step;
    const events = await collect(runDegradeChain({ steps: [empty], fallback, deadlineMs: 1000 }));
    expect(done(events).trace[0]).toMatchObject({ outcome: "skipped", reason: "empty" });
  });

  test("caller abort before the first delta ends the run without done and aborts the step", async () => {
    const ac = new AbortController();
    const hang = scripted("slow", ["late"], { firstMs: 60_000 });
    setTimeout(() => ac.abort(), 20);
    const events = await collect(runDegradeChain({ steps: [hang.step], fallback, deadlineMs: 10_000, signal: ac.signal }));
    expect(events).toEqual([]);
    expect(hang.log).toMatchObject({ aborted: true, deadline: false });
  });

  test("caller abort mid-stream ends the run and aborts the step", async () => {
    const ac = new AbortController();
    const slow = scripted("p", ["a", "b", "c", "d"], { gapMs: 30 });
    const events: ChainEvent[] = [];
    for await (const e of runDegradeChain({ steps: [slow.step], fallback, deadlineMs: 1000, signal: ac.signal })) {
      events.push(e);
      ac.abort();
    }
    expect(events).toEqual([{ type: "delta", text: "a" }]);
    expect(slow.log).toMatchObject({ aborted: true, finished: false });
  });

  test("a consumer that stops reading aborts the step", async () => {
    const slow = scripted("p", ["a", "b", "c"], { gapMs: 30 });
    for await (const _ of runDegradeChain({ steps: [slow.step], fallback, deadlineMs: 1000 })) break;
    expect(slow.log.aborted).toBe(true);
  });

  test("no steps: the fallback answers at once", async () => {
    const events = await collect(runDegradeChain({ steps: [], fallback, deadlineMs: 1000 }));
    expect(events).toEqual([{ type: "done", text: fallback.text, path: "busy", step: "fallback", meta: fallback.meta, trace: [] }]);
  });
});
