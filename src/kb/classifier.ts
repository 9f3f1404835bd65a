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

/**
 * Scores of the query for each class (one entry's phrasing vectors each), centred
 * on their mean: W_c · q − mean over classes, W fitted by softmax regression on the
 * phrasings. Fewer than two classes → all zeros (nothing to discriminate).
 */
export function classifierScores(q: SparseVec, classes: SparseVec[][], config: ClassifierConfig = DEFAULT_CLASSIFIER): number[] {
  const C = classes.length;
  const out = new Array<number>(C).fill(0);
  if (C < 2) return out;
  // Local dense vocabulary of the classes' features.
  const vocab = new Map<string, number>();
  const exIdx: Int32Array[] = [];
  const exVal: Float64Array[] = [];
  const exY: number[] = [];
  const exW: number[] = [];
  for (let c = 0; c < C; c++) {
    const vs = classes[c]!.slice(0, config.maxPhrasings);
    for (const v of vs) {
      const idx = new Int32Array(v.size);
      const val = new Float64Array(v.size);
      let k = 0;
      for (const [f, x] of v) {
        if (config.skipKinds.includes(f[0]!)) continue;
        let id = vocab.get(f);
        if (id === undefined) vocab.set(f, (id = vocab.size));
        idx[k] = id;
        val[k++] = x;
      }
      exIdx.push(idx.subarray(0, k));
      exVal.push(val.subarray(0, k));
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
    G.fill(0);
    for (let e = 0; e < exIdx.length; e++) {
      const idx = exIdx[e]!;
      const val = exVal[e]!;
      let m = -Infinity;
      for (let c = 0; c < C; c++) {
        let s = 0;
        const off = c * V;
        for (let k = 0; k < idx.length; k++) s += W[off + idx[k]!]! * val[k]!;
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
        for (let k = 0; k < idx.length; k++) G[off + idx[k]!]! += d * val[k]!;
      }
    }
    for (let i = 0; i < W.length; i++) {
      M[i] = momentum * M[i]! + G[i]! + l2 * W[i]!;
      W[i]! -= lr * M[i]!;
    }
  }
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
