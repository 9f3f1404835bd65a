/**
 * The last N latency samples, for percentiles in status snapshots. A fixed ring keeps memory bounded;
 * sorting on read is fine because status is read rarely and N is small.
 */

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  /** Samples the percentiles are computed from (at most the window size). */
  samples: number;
}

export class LatencyWindow {
  private readonly ring: Float64Array;
  private count = 0;
  private next = 0;

  /** `size`: samples kept. Default 1024. */
  constructor(size = 1024) {
    this.ring = new Float64Array(Math.max(1, size));
  }

  add(ms: number): void {
    this.ring[this.next] = ms;
    this.next = (this.next + 1) % this.ring.length;
    if (this.count < this.ring.length) this.count++;
  }

  /** Nearest-rank percentiles in whole ms; all 0 with no samples. */
  percentiles(): Percentiles {
    if (this.count === 0) return { p50: 0, p95: 0, p99: 0, samples: 0 };
    const sorted = this.ring.slice(0, this.count).sort();
    const at = (p: number) => Math.round(sorted[Math.min(this.count - 1, Math.ceil((p / 100) * this.count) - 1)]!);
    return { p50: at(50), p95: at(95), p99: at(99), samples: this.count };
  }
}
