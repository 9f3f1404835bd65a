import { expect, test } from "bun:test";
import { createAnswerQueue, TURN_BUDGET_MS } from "./answer-queue";

const turn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * The queue's clock moves only by what the answers "cost", so the turn budget is spent by the answers alone:
 * a GC pause or a busy CI core cannot end a turn early (this test once failed that way on CI).
 */
function queue(cost: number) {
  const started: string[] = [];
  let clock = 0;
  const q = createAnswerQueue({
    maxInFlight: 2,
    maxWaitMs: 60_000,
    now: () => clock,
    start: async (id, _waited, release) => {
      started.push(id);
      clock += cost;
      await Promise.resolve();
      release();
    },
    shed: () => {},
  });
  for (let i = 0; i < 20; i++) q.enqueue(`c${i}`);
  return { q, started };
}

test("cheap answers (cache hits) go on in the same event-loop turn, two at a time, until the turn's budget is spent", async () => {
  const { q, started } = queue(0);
  await turn();
  expect(started.length).toBe(20);
  expect(q.stats().peak_in_flight).toBe(2);
  q.stop();
});

test("costly answers leave the rest of the queue to later turns, so frames and acks are served between them", async () => {
  const { q, started } = queue(TURN_BUDGET_MS + 1);
  await turn();
  expect(started.length).toBe(2);
  await turn();
  expect(started.length).toBe(4);
  q.stop();
});
