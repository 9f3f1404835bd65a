import { describe, expect, test } from "bun:test";
import { type BreakerOptions, type BreakerState, type BreakerStrategy, CircuitBreaker } from "./breaker";

function setup(over: BreakerOptions = {}) {
  let t = 1_000_000;
  const clock = { now: () => t, advance: (ms: number) => (t += ms) };
  const breaker = new CircuitBreaker({ windowMs: 10_000, openMs: 5_000, halfOpenProbes: 2, now: clock.now, ...over });
  const fail = (n: number) => {
    for (let i = 0; i < n; i++) breaker.tryAcquire()?.failure(new Error("down"));
  };
  const succeed = (n: number) => {
    for (let i = 0; i < n; i++) breaker.tryAcquire()?.success();
  };
  return { breaker, clock, fail, succeed };
}

describe("CircuitBreaker", () => {
  test("stays closed below the minimum request count, opens when reached at the failure rate", () => {
    const { breaker, fail } = setup();
    fail(4);
    expect(breaker.state).toBe("closed");
    fail(1);
    expect(breaker.state).toBe("open");
    expect(breaker.tryAcquire()).toBeNull();
    expect(breaker.snapshot()).toMatchObject({ opens: 1, rejected: 1, retry_in_ms: 5000 });
  });

  test("a failure rate under the threshold keeps it closed", () => {
    const { breaker, fail, succeed } = setup();
    succeed(6);
    fail(5);
    expect(breaker.state).toBe("closed");
    fail(1);
    expect(breaker.state).toBe("open");
  });

  test("the window slides: old failures stop counting", () => {
    const { breaker, clock, fail } = setup();
    fail(4);
    clock.advance(11_000);
    fail(1);
    expect(breaker.state).toBe("closed");
    expect(breaker.windowStats()).toMatchObject({ requests: 1, failures: 1, failure_rate: 1 });
  });

  test("after the open time, probes go through; all succeeding closes it with a fresh window", () => {
    const { breaker, clock, fail } = setup();
    fail(5);
    clock.advance(4_999);
    expect(breaker.state).toBe("open");
    clock.advance(1);
    expect(breaker.state).toBe("half_open");
    const p1 = breaker.tryAcquire()!;
    const p2 = breaker.tryAcquire()!;
    expect(breaker.tryAcquire()).toBeNull(); // only two probes
    p1.success();
    expect(breaker.state).toBe("half_open");
    p2.success();
    expect(breaker.state).toBe("closed");
    expect(breaker.windowStats().requests).toBe(0);
  });

  test("a failing probe reopens it", () => {
    const { breaker, clock, fail } = setup();
    fail(5);
    clock.advance(5_000);
    breaker.tryAcquire()!.failure();
    expect(breaker.state).toBe("open");
    expect(breaker.snapshot()).toMatchObject({ opens: 2, consecutive_opens: 2 });
  });

  test("a cancelled probe frees its slot without deciding anything", () => {
    const { breaker, clock, fail } = setup({ halfOpenProbes: 1 });
    fail(5);
    clock.advance(5_000);
    breaker.tryAcquire()!.cancel();
    expect(breaker.state).toBe("half_open");
    breaker.tryAcquire()!.success();
    expect(breaker.state).toBe("closed");
  });

  test("a ticket counts once, and calls from the closed period do not decide half-open", () => {
    const { breaker, clock, fail } = setup({ halfOpenProbes: 1 });
    const late = breaker.tryAcquire()!;
    fail(5);
    clock.advance(5_000);
    expect(breaker.state).toBe("half_open");
    late.failure();
    late.success();
    expect(breaker.state).toBe("half_open");
  });

  test("reports state changes and accepts a custom strategy", () => {
    const consecutive: BreakerStrategy = (() => {
      let run = 0;
      return {
        name: "consecutive_3",
        shouldOpen: (_w, o) => (o.ok ? ((run = 0), false) : ++run >= 3),
        openDurationMs: (n, base) => base * 2 ** (n - 1),
        onClose: () => {
          run = 0;
        },
      };
    })();
    const { breaker, clock, fail, succeed } = setup({ strategy: consecutive, halfOpenProbes: 1 });
    const states: BreakerState[] = [];
    breaker.onStateChange((s) => states.push(s));
    fail(2);
    succeed(1);
    fail(2);
    expect(breaker.state).toBe("closed");
    fail(1);
    expect(breaker.snapshot()).toMatchObject({ state: "open", strategy: "consecutive_3", retry_in_ms: 5000 });
    clock.advance(5_000);
    breaker.tryAcquire()!.failure();
    expect(breaker.snapshot().retry_in_ms).toBe(10_000);
    clock.advance(10_000);
    breaker.tryAcquire()!.success();
    expect(states).toEqual(["open", "half_open", "open", "half_open", "closed"]);
  });
});
