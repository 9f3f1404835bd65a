import { expect, test } from "bun:test";
import { LatencyWindow } from "./latency-window";

test("nearest-rank percentiles over the last N samples", () => {
  const w = new LatencyWindow(100);
  expect(w.percentiles()).toEqual({ p50: 0, p95: 0, p99: 0, samples: 0 });
  for (let i = 100; i >= 1; i--) w.add(i);
  expect(w.percentiles()).toEqual({ p50: 50, p95: 95, p99: 99, samples: 100 });
  // 100 more samples of 1000 push every earlier one out of the ring.
  for (let i = 0; i < 100; i++) w.add(1000);
  expect(w.percentiles()).toEqual({ p50: 1000, p95: 1000, p99: 1000, samples: 100 });
});
