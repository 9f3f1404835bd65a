import { describe, expect, test } from "bun:test";
import { AimdLimit } from "./adaptive-limit";

function limiter(over: Partial<ConstructorParameters<typeof AimdLimit>[0]> = {}) {
  let t = 0;
  const clock = { now: () => t, advance: (ms: number) => (t += ms) };
  const lim = new AimdLimit({ min: 2, max: 10, latencyThresholdMs: 1000, backoff: 0.5, now: clock.now, ...over });
  return { lim, clock };
}

describe("AimdLimit", () => {
  test("starts at max and halves on a failure, never below min", () => {
    const { lim, clock } = limiter();
    expect(lim.limit).toBe(10);
    for (const expected of [5, 2, 2]) {
      clock.advance(10);
      lim.onSample({ startedAt: clock.now(), latencyMs: 10, outcome: "failure", inFlight: 1 });
      expect(lim.limit).toBe(expected);
    }
  });

  test("a slow success counts as congestion", () => {
    const { lim } = limiter();
    lim.onSample({ startedAt: 0, latencyMs: 1500, outcome: "success", inFlight: 5 });
    expect(lim.limit).toBe(5);
  });

  test("a burst of failures from calls started before the cut shrinks the limit once", () => {
    const { lim, clock } = limiter();
    clock.advance(100);
    for (let i = 0; i < 8; i++) lim.onSample({ startedAt: 50, latencyMs: 10, outcome: "failure", inFlight: 8 });
    expect(lim.limit).toBe(5);
    expect(lim.snapshot().decreases).toBe(1);
  });

  test("grows by one per `limit` good samples, only when the limit is being used", () => {
    const { lim } = limiter({ initial: 4 });
    for (let i = 0; i < 20; i++) lim.onSample({ startedAt: 0, latencyMs: 10, outcome: "success", inFlight: 1 });
    expect(lim.limit).toBe(4);
    for (let i = 0; i < 4; i++) lim.onSample({ startedAt: 0, latencyMs: 10, outcome: "success", inFlight: 4 });
    expect(lim.limit).toBe(5);
    for (let i = 0; i < 200; i++) lim.onSample({ startedAt: 0, latencyMs: 10, outcome: "success", inFlight: 10 });
    expect(lim.limit).toBe(10);
  });

  test("ignored samples change nothing; listeners hear integer changes only", () => {
    const { lim } = limiter({ initial: 4 });
    const heard: number[] = [];
    lim.onChange((n) => heard.push(n));
    lim.onSample({ startedAt: 0, latencyMs: 99_999, outcome: "ignore", inFlight: 4 });
    for (let i = 0; i < 4; i++) lim.onSample({ startedAt: 0, latencyMs: 10, outcome: "success", inFlight: 4 });
    expect(heard).toEqual([5]);
  });

  test("slow start: one slot per good sample while the limit is in use, until the first congestion; additive after it", () => {
    const { lim, clock } = limiter({ initial: 2, max: 100, slowStart: true });
    for (let i = 0; i < 6; i++) lim.onSample({ startedAt: 0, latencyMs: 10, outcome: "success", inFlight: lim.limit });
    expect(lim.limit).toBe(8);
    // Idle samples still say nothing.
    for (let i = 0; i < 6; i++) lim.onSample({ startedAt: 0, latencyMs: 10, outcome: "success", inFlight: 1 });
    expect(lim.limit).toBe(8);
    clock.advance(10);
    lim.onSample({ startedAt: clock.now(), latencyMs: 1500, outcome: "success", inFlight: 8 });
    expect(lim.limit).toBe(4);
    for (let i = 0; i < 4; i++) lim.onSample({ startedAt: clock.now(), latencyMs: 10, outcome: "success", inFlight: 4 });
    expect(lim.limit).toBe(5);
  });
});
