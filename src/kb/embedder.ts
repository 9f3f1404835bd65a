/**
 * Embedders turn text into fixed-size vectors for sqlite-vec nearest-neighbour
 * search. The built-in one needs no model files: it hashes the same typed features
 * the scorer uses into a dense vector. An ONNX sentence embedder implements the same
 * interface (src/models/onnx-embedder.ts, in worker threads); the knowledge base records `id` and
 * `dim` and re-indexes when they change.
 */
import { features } from "../text/tokenize.ts";

export interface Embedder {
  /** Stable identifier; vectors built by different ids are never mixed. */
  readonly id: string;
  /** Vector length; must be a multiple of 8 (the sign bits are stored as a bit vector). */
  readonly dim: number;
  /** Vectors of stored texts (entry phrasings, document chunks). */
  embed(texts: string[]): Promise<Float32Array[]>;
  /**
   * Vectors of questions, when the model embeds them differently (E5/BGE-style query prefixes);
   * absent: `embed`. An ONNX embedder runs in worker threads (src/models/onnx-embedder.ts).
   */
  embedQueries?(texts: string[]): Promise<Float32Array[]>;
}

export interface HashEmbedderOptions {
  /** Vector length (default 256). */
  dim?: number;
  /** Buckets each feature is spread over (default 4); more makes sign bits more informative. */
  spread?: number;
  /** Per-kind feature weights (default words 1, trigrams 0.3, CJK chars 1.5, CJK bigrams 1). */
  kindWeights?: Partial<Record<"w" | "g" | "c" | "b", number>>;
}

/** FNV-1a over UTF-16 code units, then a murmur finalizer for better low bits. */
export function hash32(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Feature hashing with signs (an unbiased sketch of the sparse cosine), each
 * feature spread over several buckets so the vector is dense enough for its sign
 * bits to work as a binary pre-filter. Weights are static (no corpus statistics),
 * so vectors never go stale when the knowledge base changes.
 */
export class HashEmbedder implements Embedder {
  readonly id: string;
  readonly dim: number;
  private readonly spread: number;
  private readonly weights: Record<string, number>;

  constructor(options: HashEmbedderOptions = {}) {
    this.dim = options.dim ?? 256;
    if (this.dim % 8 !== 0 || this.dim <= 0) throw new Error("embedder dim must be a positive multiple of 8");
    this.spread = options.spread ?? 4;
    this.weights = { w: 1, g: 0.3, c: 1.5, b: 1, ...options.kindWeights };
    const w = this.weights;
    this.id = `hash-v1:${this.dim}:${this.spread}:${w.w},${w.g},${w.c},${w.b}`;
  }

  embedOne(text: string): Float32Array {
    const v = new Float32Array(this.dim);
    for (const [f, count] of features(text)) {
      const weight = (1 + Math.log(count)) * (this.weights[f[0]!] ?? 1);
      let h = hash32(f);
      for (let k = 0; k < this.spread; k++) {
        v[h % this.dim]! += h & 0x80000000 ? -weight : weight;
        h = hash32(f, h);
      }
    }
    let n = 0;
    for (let i = 0; i < v.length; i++) n += v[i]! * v[i]!;
    if (n > 0) {
      const inv = 1 / Math.sqrt(n);
      for (let i = 0; i < v.length; i++) v[i]! *= inv;
    }
    return v;
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    return texts.map((t) => this.embedOne(t));
  }
}

/** Sign bits of a vector, packed most-significant-bit first (sqlite-vec's bit[] layout). */
export function signBits(v: Float32Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(v.length / 8));
  for (let i = 0; i < v.length; i++) if (v[i]! > 0) out[i >> 3]! |= 0x80 >> (i & 7);
  return out;
}

/**
 * Embeds a query with the embedder `current()` returns, and again if that changed
 * while it waited (a re-index committed): the vector must match the index it is
 * compared with, in dimension and in meaning.
 */
export async function embedQuery(current: () => Embedder, text: string): Promise<Float32Array> {
  for (;;) {
    const embedder = current();
    const [v] = await (embedder.embedQueries ? embedder.embedQueries([text]) : embedder.embed([text]));
    if (current() === embedder) return v!;
  }
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na > 0 && nb > 0 ? d / Math.sqrt(na * nb) : 0;
}
