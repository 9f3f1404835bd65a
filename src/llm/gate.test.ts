import { describe, expect, test } from "bun:test";
import { KefuError } from "../errors/kefu-error";
import { Gate } from "./gate";

async function rejection(p: Promise<unknown>): Promise<KefuError> {
  try {
    await p;
  } catch (e) {
    return e as KefuError;
  }
  throw new Error("expected a rejection");
}

describe("Gate", () => {
  test("grants up to the limit, then tryAcquire refuses", () => {
    const gate = new Gate({ limit: 2 });
    const a = gate.tryAcquire();
    const b = gate.tryAcquire();
    expect(a && b).toBeTruthy();
    expect(gate.tryAcquire()).toBeNull();
    a!.release();
    a!.release(); // idempotent: must not free a second slot
    expect(gate.inFlight).toBe(1);
    expect(gate.tryAcquire()).not.toBeNull();
    expect(gate.tryAcquire()).toBeNull();
  });

  test("a waiter gets the slot released by another caller, in FIFO order", async () => {
    const gate = new Gate({ limit: 1, queueTimeoutMs: 10_000 });
    const first = gate.tryAcquire()!;
    const order: string[] = [];
    const w1 = gate.acquire().then((p) => (order.push("w1"), p));
    const w2 = gate.acquire().then((p) => (order.push("w2"), p));
    expect(gate.waiting).toBe(2);
    first.release();
    (await w1).release();
    (await w2).release();
    expect(order).toEqual(["w1", "w2"]);
    expect(gate.snapshot()).toMatchObject({ in_flight: 0, waiting: 0, granted: 3 });
  });

  test("a full queue refuses at once with llm_busy", async () => {
    const gate = new Gate({ limit: 1, maxQueue: 1, queueTimeoutMs: 10_000 });
    gate.tryAcquire();
    const waiting = gate.acquire();
    const err = await rejection(gate.acquire());
    expect(err.code).toBe("llm_busy");
    expect(err.details).toMatchObject({ reason: "queue_full" });
    expect(gate.waiting).toBe(1);
    waiting.catch(() => {});
  });

  test("timeout 0 never waits", async () => {
    const gate = new Gate({ limit: 1 });
    gate.tryAcquire();
    expect((await rejection(gate.acquire({ timeoutMs: 0 }))).details).toMatchObject({ reason: "queue_full" });
  });

  test("a waiter that times out leaves the queue and is counted", async () => {
    const gate = new Gate({ limit: 1 });
    gate.tryAcquire();
    const err = await rejection(gate.acquire({ timeoutMs: 20 }));
    expect(err.details).toMatchObject({ reason: "queue_timeout" });
    expect(gate.snapshot()).toMatchObject({ waiting: 0, rejected_timeout: 1 });
  });

  test("abort stops waiting", async () => {
    const gate = new Gate({ limit: 1, queueTimeoutMs: 10_000 });
    gate.tryAcquire();
    const ac = new AbortController();
    const p = gate.acquire({ signal: ac.signal });
    ac.abort();
    expect((await rejection(p)).code).toBe("llm_aborted");
    expect(gate.waiting).toBe(0);
  });

  test("raising the limit admits waiters; lowering it holds new callers until below", async () => {
    const gate = new Gate({ limit: 1, queueTimeoutMs: 10_000 });
    const a = gate.tryAcquire()!;
    const w = gate.acquire();
    gate.setLimit(2);
    const b = await w;
    gate.setLimit(1);
    a.release();
    expect(gate.tryAcquire()).toBeNull();
    b.release();
    expect(gate.tryAcquire()).not.toBeNull();
  });

  test("tryAcquire does not jump the queue", async () => {
    const gate = new Gate({ limit: 1, queueTimeoutMs: 10_000 });
    const a = gate.tryAcquire()!;
    const w = gate.acquire();
    a.release();
    // The slot went to the waiter synchronously on release.
    expect(gate.tryAcquire()).toBeNull();
    (await w).release();
  });
});
