import { describe, expect, test } from "bun:test";
import { signBits } from "./embedder.ts";
import { SketchIndex } from "./sketch-index.ts";

let seed = 7;
const rand = () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 2 ** 32 - 0.5;
};
const vec = (dim: number) => Float32Array.from({ length: dim }, rand);
const hamming = (a: Uint8Array, b: Uint8Array) => {
  let d = 0;
  for (let i = 0; i < a.length; i++) for (let x = a[i]! ^ b[i]!; x; x &= x - 1) d++;
  return d;
};
/** Reference: sort every row by (distance, rowid). */
const bruteForce = (rows: Map<number, Uint8Array>, q: Uint8Array, k: number) =>
  [...rows]
    .map(([rowid, bits]) => ({ rowid, d: hamming(bits, q) }))
    .sort((a, b) => a.d - b.d || a.rowid - b.rowid)
    .slice(0, k)
    .map((r) => r.rowid);

describe("SketchIndex", () => {
  test("finds the same nearest rows as a brute-force Hamming scan, through growth, updates and deletes", () => {
    const dim = 72; // not a multiple of 32: the last word is partly used
    const index = new SketchIndex(Math.ceil(dim / 32), 4);
    const rows = new Map<number, Uint8Array>();
    for (let r = 1; r <= 300; r++) {
      const bits = signBits(vec(dim));
      index.set(r * 3, bits);
      rows.set(r * 3, bits);
    }
    for (let r = 1; r <= 300; r += 7) {
      index.delete(r * 3);
      rows.delete(r * 3);
    }
    for (let r = 2; r <= 300; r += 11) {
      const bits = signBits(vec(dim));
      index.set(r * 3, bits);
      rows.set(r * 3, bits);
    }
    index.delete(999_999); // unknown rowid: no effect
    expect(index.size).toBe(rows.size);
    for (let i = 0; i < 20; i++) {
      const q = signBits(vec(dim));
      expect(index.nearest(q, 10)).toEqual(bruteForce(rows, q, 10));
    }
  });

  test("an identical sketch comes first; k larger than the index returns every row", () => {
    const index = new SketchIndex(8);
    const a = signBits(vec(256));
    const b = signBits(vec(256));
    index.set(10, a);
    index.set(20, b);
    expect(index.nearest(b, 1)).toEqual([20]);
    expect(index.nearest(a, 5).sort()).toEqual([10, 20]);
    expect(index.nearest(a, 0)).toEqual([]);
    expect(new SketchIndex(8).nearest(a, 3)).toEqual([]);
  });
});
