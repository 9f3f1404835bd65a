/**
 * Per-query discriminative classifier over the phrasings of the top retrieval
 * candidates. An entry's question and alternatives are labelled examples of how
 * visitors ask for it; a softmax (multinomial logistic) classifier trained on the
 * phrasings of the few entries that compete for a query learns which terms tell
 * them apart and which they share, which a similarity to the best phrasing or to
 * the centroid cannot. Trained at query time on the candidates only, so it keeps
 * no index-time state, follows every write immediately and costs the same at 100
 * or 100,000 entries (≈ 0.3–0.6 ms for 10 entries × 10 phrasings).
 */
import type { SparseVec } from "./scorer.ts";

export interface ClassifierConfig {
  /** How many of the best-ranked candidates (with alternatives) become classes. */
  candidates: number;
  /** Phrasings used per class (the question first, then alternatives in order). */
  maxPhrasings: number;
  /** Full-batch gradient steps (deterministic: no sampling). */
  iters: number;
  /** Step size. Examples are weighted 1 / (phrasings × classes), so the loss is a mean and steps are large. */
  lr: number;
  /** L2 penalty. */
  l2: number;
  /** Heavy-ball momentum (0 = plain gradient descent). */
  momentum: number;
  /** Feature kinds left out (Latin char trigrams: as accurate without, 2× cheaper). */
  skipKinds: string;
}

export const DEFAULT_CLASSIFIER: ClassifierConfig = { candidates: 6, maxPhrasings: 16, iters: 10, lr: 30, l2: 0.001, momentum: 0.8, skipKinds: "g" };

/** A classifier trained on some classes' phrasings (`trainClassifier`), for scoring queries (`classifierScoresOf`). */
export interface TrainedClassifier {
  classes: number;
  vocab: Map<string, number>;
  /** Class-major weights: class c's weight for vocabulary id v at c · vocab.size + v. */
  weights: Float64Array;
}

/**
 * Scores of the query for each class (one entry's phrasing vectors each), centred
 * on their mean: W_c · q − mean over classes, W fitted by softmax regression on the
 * phrasings. Fewer than two classes → all zeros (nothing to discriminate).
 */
export function classifierScores(q: SparseVec, classes: SparseVec[][], config: ClassifierConfig = DEFAULT_CLASSIFIER): number[] {
  if (classes.length < 2) return new Array<number>(classes.length).fill(0);
  return classifierScoresOf(trainClassifier(classes, config), q);
}

/** A phrasing vector's features without the skipped kinds, in its order; kept per vector (vectors are never changed). */
const examples = new WeakMap<SparseVec, { skip: string; keys: string[]; values: Float64Array }>();
function exampleOf(v: SparseVec, skip: string) {
  let ex = examples.get(v);
  if (ex?.skip !== skip) {
    const keys: string[] = [];
    const values: number[] = [];
    for (const [f, x] of v) {
      if (skip.includes(f[0]!)) continue;
      keys.push(f);
      values.push(x);
    }
    examples.set(v, (ex = { skip, keys, values: Float64Array.from(values) }));
  }
  return ex;
}

/** The softmax regression of `classifierScores`, which depends on the classes only (not on the query). */
export function trainClassifier(classes: SparseVec[][], config: ClassifierConfig = DEFAULT_CLASSIFIER): TrainedClassifier {
  const C = classes.length;
  // Local dense vocabulary of the classes' features; the examples' (id, value) pairs one after another.
  const vocab = new Map<string, number>();
  let idx = new Int32Array(512);
  let val = new Float64Array(512);
  let nnz = 0;
  const exEnd: number[] = [];
  const exY: number[] = [];
  const exW: number[] = [];
  for (let c = 0; c < C; c++) {
    const vs = classes[c]!.slice(0, config.maxPhrasings);
    for (const v of vs) {
      const ex = exampleOf(v, config.skipKinds);
      if (nnz + ex.keys.length > idx.length) {
        const n = 2 * (nnz + ex.keys.length);
        const [i2, v2] = [new Int32Array(n), new Float64Array(n)];
        i2.set(idx);
        v2.set(val);
        [idx, val] = [i2, v2];
      }
      for (let k = 0; k < ex.keys.length; k++) {
        const f = ex.keys[k]!;
        let id = vocab.get(f);
        if (id === undefined) vocab.set(f, (id = vocab.size));
        idx[nnz] = id;
        val[nnz++] = ex.values[k]!;
      }
      exEnd.push(nnz);
      exY.push(c);
      exW.push(1 / vs.length / C);
    }
  }
  const V = vocab.size;
  const W = new Float64Array(C * V);
  const G = new Float64Array(C * V);
  const M = new Float64Array(C * V);
  const z = new Float64Array(C);
  const { iters, lr, l2, momentum } = config;
  for (let it = 0; it < iters; it++) {
    // G is all 0 here: new, then cleared by the previous step's update.
    for (let e = 0, start = 0; e < exEnd.length; start = exEnd[e++]!) {
      const end = exEnd[e]!;
      let m = -Infinity;
      for (let c = 0; c < C; c++) {
        let s = 0;
        const off = c * V;
        // W starts at 0: the first step's scores are all 0.
        if (it > 0) for (let k = start; k < end; k++) s += W[off + idx[k]!]! * val[k]!;
        z[c] = s;
        if (s > m) m = s;
      }
      let sum = 0;
      for (let c = 0; c < C; c++) sum += z[c] = Math.exp(z[c]! - m);
      const w = exW[e]!;
      const y = exY[e]!;
      for (let c = 0; c < C; c++) {
        const d = (z[c]! / sum - (c === y ? 1 : 0)) * w;
        const off = c * V;
        for (let k = start; k < end; k++) G[off + idx[k]!]! += d * val[k]!;
      }
    }
    for (let i = 0; i < W.length; i++) {
      M[i] = momentum * M[i]! + G[i]! + l2 * W[i]!;
      W[i]! -= lr * M[i]!;
      G[i] = 0;
    }
  }
  return { classes: C, vocab, weights: W };
}

export function classifierScoresOf(model: TrainedClassifier, q: SparseVec): number[] {
  const { classes: C, vocab, weights: W } = model;
  const V = vocab.size;
  const out = new Array<number>(C).fill(0);
  let mean = 0;
  for (let c = 0; c < C; c++) {
    let s = 0;
    const off = c * V;
    for (const [f, x] of q) {
      const id = vocab.get(f);
      if (id !== undefined) s += W[off + id]! * x;
    }
    out[c] = s;
    mean += s / C;
  }
  for (let c = 0; c < C; c++) out[c]! -= mean;
  return out;
}
