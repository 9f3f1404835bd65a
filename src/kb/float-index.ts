/**
 * Exact cosine nearest neighbours over float vectors held in memory, giving what sqlite-vec's vec0 KNN gives for a
 * table that fits one chunk — the same distances to the bit and the same order — without its cost: vec0 reads the
 * whole chunk blob (1,024 slots, 1 MiB at 256 dimensions) through SQLite on every query, ~0.1 ms however few rows
 * it holds.
 *
 * Bit-identical because it computes as sqlite-vec's `distance_cosine_float` does (checked against it in
 * `float-index.test.ts`): dot product and squared norms accumulated in float32, the quotient in double,
 * `1 - quotient` rounded to float32. Ties in distance come out as vec0 orders them within a chunk: the later slot
 * (`chunk_offset`) first. Rows or queries of norm 0 give NaN distances, whose order vec0 leaves to its scan:
 * `nearest` returns null then and the caller asks vec0.
 */
import { resized, RowSlots } from "./row-slots.ts";

const f32 = Math.fround;

export class FloatIndex {
  private vectors: Float32Array;
  private norms: Float64Array;
  private offsets: Int32Array;
  private readonly rows: RowSlots;
  private zeroNorms = 0;
  private dist = new Float64Array(0);

  constructor(
    readonly dim: number,
    capacity = 64,
  ) {
    this.vectors = new Float32Array(capacity * dim);
    this.norms = new Float64Array(capacity);
    this.offsets = new Int32Array(capacity);
    this.rows = new RowSlots(capacity);
  }

  get size(): number {
    return this.rows.size;
  }

  has(rowid: number): boolean {
    return this.rows.has(rowid);
  }

  /** Stores (or replaces) a row's vector with its slot in the vec0 chunk. */
  set(rowid: number, v: Float32Array, chunkOffset: number): void {
    const old = this.rows.slotOf(rowid);
    if (old !== undefined && this.norms[old] === 0) this.zeroNorms--;
    const slot = this.rows.add(rowid, (capacity) => {
      this.vectors = resized(this.vectors, capacity * this.dim);
      this.norms = resized(this.norms, capacity);
      this.offsets = resized(this.offsets, capacity);
    });
    this.vectors.set(v.subarray(0, this.dim), slot * this.dim);
    const n = squaredNorm(this.vectors, slot * this.dim, this.dim);
    if (n === 0) this.zeroNorms++;
    this.norms[slot] = n;
    this.offsets[slot] = chunkOffset;
  }

  delete(rowid: number): void {
    const slot = this.rows.slotOf(rowid);
    if (slot === undefined) return;
    if (this.norms[slot] === 0) this.zeroNorms--;
    const d = this.dim;
    this.rows.delete(rowid, (from, to) => {
      this.vectors.copyWithin(to * d, from * d, from * d + d);
      this.norms[to] = this.norms[from]!;
      this.offsets[to] = this.offsets[from]!;
    });
  }

  /** The `k` nearest rows as [rowid, 1 − cosine distance], nearest first, as vec0 returns them; null when it cannot tell. */
  nearest(q: Float32Array, k: number): [number, number][] | null {
    const n = this.rows.size;
    if (k <= 0 || n === 0) return [];
    const qn = squaredNorm(q, 0, this.dim);
    if (qn === 0 || this.zeroNorms > 0) return null;
    const rowids = this.rows.rowids;
    if (this.dist.length < n) this.dist = new Float64Array(rowids.length);
    const dist = this.dist;
    const vs = this.vectors;
    const d = this.dim;
    const sq = Math.sqrt(qn);
    for (let i = 0, o = 0; i < n; i++, o += d) {
      let dot = 0;
      for (let j = 0; j < d; j++) dot = f32(dot + f32(q[j]! * vs[o + j]!));
      dist[i] = f32(1 - dot / (sq * Math.sqrt(this.norms[i]!)));
    }
    // The k best by (distance, later slot first), kept sorted by insertion: k is small next to n.
    const offsets = this.offsets;
    const before = (a: number, b: number) => dist[a]! < dist[b]! || (dist[a] === dist[b] && offsets[a]! > offsets[b]!);
    const top: number[] = [];
    for (let i = 0; i < n; i++) {
      if (top.length === k && !before(i, top[k - 1]!)) continue;
      let p = top.length < k ? top.length : k - 1;
      top[p] = i;
      while (p > 0 && before(i, top[p - 1]!)) {
        top[p] = top[p - 1]!;
        top[--p] = i;
      }
    }
    return top.map((i) => [rowids[i]!, 1 - dist[i]!]);
  }
}

/** Σ v[i]², accumulated in float32 as sqlite-vec does. */
function squaredNorm(v: Float32Array, offset: number, dim: number): number {
  let s = 0;
  for (let j = 0; j < dim; j++) s = f32(s + f32(v[offset + j]! * v[offset + j]!));
  return s;
}
