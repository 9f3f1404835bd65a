/**
 * Sign-bit sketches of vectors held in memory, searched by Hamming distance.
 *
 * The pre-filter for large knowledge bases: sqlite-vec's bit KNN over 100k rows
 * took ~9 ms here (it reads the chunk blobs through SQLite on every query); the
 * same scan over one packed Uint32Array takes ~2 ms and costs 4 bytes per 32
 * dimensions per row (3.2 MB at 100k entries of 256 dimensions). One typed array,
 * so the garbage collector has nothing to walk.
 */

import { resized, RowSlots } from "./row-slots.ts";

/** Bits set in a 32-bit word. */
export function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

export class SketchIndex {
  private words: Uint32Array;
  private readonly rows: RowSlots;
  private distances = new Uint16Array(0);

  /** `wordsPerRow`: 32-bit words per sketch (dimensions / 32, rounded up). */
  constructor(readonly wordsPerRow: number, capacity = 1024) {
    this.words = new Uint32Array(capacity * wordsPerRow);
    this.rows = new RowSlots(capacity);
  }

  get size(): number {
    return this.rows.size;
  }

  /** Packs sign bits (as `signBits` writes them, 8 per byte) into this index's words. */
  pack(bits: Uint8Array): Uint32Array {
    const out = new Uint32Array(this.wordsPerRow);
    for (let i = 0; i < bits.length && i >> 2 < out.length; i++) out[i >> 2]! |= bits[i]! << ((i & 3) * 8);
    return out;
  }

  set(rowid: number, bits: Uint8Array): void {
    const slot = this.rows.add(rowid, (capacity) => (this.words = resized(this.words, capacity * this.wordsPerRow)));
    this.words.set(this.pack(bits), slot * this.wordsPerRow);
  }

  delete(rowid: number): void {
    // The last row moves into the hole: slots stay dense, order does not matter.
    const w = this.wordsPerRow;
    this.rows.delete(rowid, (from, to) => this.words.copyWithin(to * w, from * w, from * w + w));
  }

  /** The `k` rows nearest to `bits` by Hamming distance, nearest first (ties by rowid). */
  nearest(bits: Uint8Array, k: number): number[] {
    const n = this.rows.size;
    if (k <= 0 || n === 0) return [];
    const q = this.pack(bits);
    const w = this.wordsPerRow;
    const rowids = this.rows.rowids;
    if (this.distances.length < n) this.distances = new Uint16Array(rowids.length);
    const dist = this.distances;
    const hist = new Uint32Array(w * 32 + 1);
    const words = this.words;
    for (let i = 0, o = 0; i < n; i++, o += w) {
      let d = 0;
      for (let j = 0; j < w; j++) d += popcount(words[o + j]! ^ q[j]!);
      dist[i] = d;
      hist[d]!++;
    }
    // Smallest distance that admits k rows; only rows within it are sorted.
    let limit = 0;
    for (let seen = hist[0]!; seen < k && limit < hist.length - 1; ) seen += hist[++limit]!;
    const hits: number[] = [];
    for (let i = 0; i < n; i++) if (dist[i]! <= limit) hits.push(i);
    hits.sort((a, b) => dist[a]! - dist[b]! || rowids[a]! - rowids[b]!);
    return hits.slice(0, k).map((i) => rowids[i]!);
  }
}
