/**
 * 64-bit SimHash over the matching features, for reporting near-duplicate
 * questions (a few differing bits = nearly the same wording). Kept as two 32-bit
 * halves to stay in fast integer arithmetic.
 */
import { hash32 } from "../kb/embedder.ts";
import { features } from "./tokenize.ts";

export interface SimHash {
  hi: number;
  lo: number;
}

export function simhash(text: string): SimHash {
  const acc = new Float64Array(64);
  for (const [f, count] of features(text)) {
    // Trigrams add typo tolerance but would swamp short questions.
    const w = f[0] === "g" ? 0.3 * count : count;
    const h1 = hash32(f, 0x9e3779b1);
    const h2 = hash32(f, 0x7f4a7c15);
    for (let i = 0; i < 32; i++) {
      acc[i]! += (h1 >>> i) & 1 ? w : -w;
      acc[32 + i]! += (h2 >>> i) & 1 ? w : -w;
    }
  }
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < 32; i++) {
    if (acc[i]! > 0) hi |= 1 << i;
    if (acc[32 + i]! > 0) lo |= 1 << i;
  }
  return { hi: hi >>> 0, lo: lo >>> 0 };
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

export function hamming(a: SimHash, b: SimHash): number {
  return popcount((a.hi ^ b.hi) >>> 0) + popcount((a.lo ^ b.lo) >>> 0);
}

/** Bounds of `nearDuplicatePairs`: pairs returned, and pairs looked at (each band match costs one). */
export interface PairLimits {
  maxPairs?: number;
  maxComparisons?: number;
}

/**
 * Pairs within `maxDistance` bits among `items`, where at least one side is in
 * `focus` (indexes). Banding (4 bands of 16 bits) finds every pair within 3 bits
 * without comparing all pairs; larger distances are found only when a band agrees.
 * Questions written from one template ("How much is the red shirt, size 12?") share
 * bands by the thousand, and every pair of a band is looked at: `limits` stops after
 * so many pairs found or looked at (the first of `focus` in its order), or the work
 * is quadratic — 65 s for 20,000 such questions.
 */
export function nearDuplicatePairs(hashes: SimHash[], focus: Set<number>, maxDistance = 3, limits: PairLimits = {}): [number, number, number][] {
  const maxPairs = limits.maxPairs ?? Number.POSITIVE_INFINITY;
  const maxComparisons = limits.maxComparisons ?? Number.POSITIVE_INFINITY;
  const bands = new Map<string, number[]>();
  const bandKey = (h: SimHash, b: number) => `${b}:${b < 2 ? (h.hi >>> (16 * b)) & 0xffff : (h.lo >>> (16 * (b - 2))) & 0xffff}`;
  hashes.forEach((h, i) => {
    for (let b = 0; b < 4; b++) {
      const k = bandKey(h, b);
      const list = bands.get(k);
      if (list) list.push(i);
      else bands.set(k, [i]);
    }
  });
  const n = hashes.length;
  const seen = new Set<number>();
  const out: [number, number, number][] = [];
  let compared = 0;
  for (const i of focus) {
    for (let b = 0; b < 4; b++) {
      for (const j of bands.get(bandKey(hashes[i]!, b)) ?? []) {
        if (j === i) continue;
        if (++compared > maxComparisons) return out;
        const key = i < j ? i * n + j : j * n + i;
        if (seen.has(key)) continue;
        seen.add(key);
        const d = hamming(hashes[i]!, hashes[j]!);
        if (d <= maxDistance && out.push([Math.min(i, j), Math.max(i, j), d]) >= maxPairs) return out;
      }
    }
  }
  return out;
}
