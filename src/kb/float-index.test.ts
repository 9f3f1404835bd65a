import { describe, expect, test } from "bun:test";
import { HashEmbedder } from "./embedder.ts";
import { FloatIndex } from "./float-index.ts";
import { memoryDb } from "./test/helpers.ts";
import { VectorIndex } from "./vector-index.ts";

const e = new HashEmbedder({ dim: 64 });
const words = "order refund invoice parcel account password coupon phone laptop warranty delivery address payment 退货 发票 快递 密码 会员 积分".split(" ");
let seed = 7;
const rand = () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 2 ** 32;
};
const text = () => Array.from({ length: 1 + Math.floor(rand() * 4) }, () => words[Math.floor(rand() * words.length)]).join(" ");

describe("in-memory exact vector search", () => {
  test("gives sqlite-vec's neighbours, distances and order of ties, through inserts, replacements and deletes", () => {
    const db = memoryDb();
    const vec0 = new VectorIndex(db, "t_sql", 64);
    const mem = new VectorIndex(db, "t_mem", 64, { memoryRows: 1024 });
    const live = new Set<number>();
    for (let step = 0; step < 600; step++) {
      const rowid = 1 + Math.floor(rand() * 150);
      if (rand() < 0.2 && live.has(rowid)) {
        vec0.delete(rowid);
        mem.delete(rowid);
        live.delete(rowid);
      } else {
        // Few distinct texts: many identical vectors, so ties in distance are common.
        const v = e.embedOne(text());
        vec0.put(rowid, v);
        mem.put(rowid, v);
        live.add(rowid);
      }
      if (step % 5 === 0) {
        const q = e.embedOne(text());
        for (const k of [1, 5, 20, 200]) expect(mem.nearest(q, k)).toEqual(vec0.nearest(q, k));
      }
      // Reloaded from the tables now and then, as after a reset.
      if (step % 97 === 0) mem.resetMemory();
    }
  });

  test("a zero query or a zero row is left to sqlite-vec", () => {
    const f = new FloatIndex(4);
    f.set(1, new Float32Array([1, 0, 0, 0]), 0);
    expect(f.nearest(new Float32Array(4), 3)).toBeNull();
    expect(f.nearest(new Float32Array([0, 1, 0, 0]), 3)).toEqual([[1, 0]]);
    f.set(2, new Float32Array(4), 1);
    expect(f.nearest(new Float32Array([1, 0, 0, 0]), 3)).toBeNull();
    f.set(2, new Float32Array([0, 0, 1, 0]), 1);
    expect(f.nearest(new Float32Array([1, 0, 0, 0]), 3)).toEqual([[1, 1], [2, 0]]);
    f.set(3, new Float32Array(4), 2);
    f.delete(1);
    expect(f.nearest(new Float32Array([1, 0, 0, 0]), 3)).toBeNull();
    f.delete(3);
    expect(f.nearest(new Float32Array([0, 0, 1, 0]), 3)).toEqual([[2, 1]]);
    const db = memoryDb();
    const mem = new VectorIndex(db, "t", 8, { memoryRows: 10 });
    mem.put(1, new Float32Array([1, 0, 0, 0, 0, 0, 0, 0]));
    mem.put(2, new Float32Array([0, 1, 0, 0, 0, 0, 0, 0]));
    expect(mem.nearest(new Float32Array(8), 2)).toHaveLength(2);
  });

  test("beyond its size the copy gives way to sqlite-vec, with the same answers", () => {
    const db = memoryDb();
    const vec0 = new VectorIndex(db, "a", 64);
    const mem = new VectorIndex(db, "b", 64, { memoryRows: 8 });
    for (let i = 1; i <= 12; i++) {
      const v = e.embedOne(text());
      vec0.put(i, v);
      mem.put(i, v);
      const q = e.embedOne(text());
      expect(mem.nearest(q, 5)).toEqual(vec0.nearest(q, 5));
    }
  });
});
