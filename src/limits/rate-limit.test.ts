import { expect, test } from "bun:test";
import { createRateLimiter } from "./rate-limit";

test("a burst is allowed, then one message per refill interval, per key", () => {
  let now = 0;
  const limiter = createRateLimiter({ burst: 3, perSecond: 2, now: () => now });
  expect([1, 2, 3, 4].map(() => limiter.take("a"))).toEqual([true, true, true, false]);
  expect(limiter.take("b")).toBe(true);
  now += 499;
  expect(limiter.take("a")).toBe(false);
  now += 1;
  expect(limiter.take("a")).toBe(true);
  now += 60_000;
  expect([1, 2, 3, 4].map(() => limiter.take("a"))).toEqual([true, true, true, false]);
});

test("memory is bounded: forgotten keys start with a full bucket", () => {
  const limiter = createRateLimiter({ burst: 1, perSecond: 0.001, maxKeys: 2, now: () => 0 });
  expect(limiter.take("a")).toBe(true);
  expect(limiter.take("a")).toBe(false);
  limiter.take("b");
  limiter.take("c");
  expect(limiter.take("a")).toBe(true);
});
