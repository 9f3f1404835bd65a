/**
 * Scoring of question pairs ("do these two questions mean the same?"), used by
 * `evalPairs` / `scorePairs`. Starts from the engine's own match model (the
 * same similarity the chat uses) and adds generic lexical similarities over
 * canonicalized text (question words and particles folded, `canonical.ts`):
 * IDF-weighted character n-gram cosines, weighted coverage both ways, the
 * heaviest unmatched n-gram, order (LCS) and edit-distance ratios, length gap,
 * number and negation mismatch. IDF comes from the pair corpus itself (every
 * distinct text of both sides), an unsupervised statistic. The combination is
 * a small logistic model (`PAIR_MODEL`) fitted by `bun bench/lib/fit-pairs.ts`.
 */
import { canonicalizeQuestion } from "../text/canonical.ts";
import { cosine, type Embedder } from "./embedder.ts";
import { type PairModel, PAIR_MODEL } from "./pair-model.ts";
import { type CandidateEntry, DEFAULT_SCORER, lcsRatio, matchLogit, prepareQuery, scoreCandidates, type ScorerConfig, type TermStats } from "./scorer.ts";
import type { RankerModel } from "./ranker-model.ts";

const NON_WORD = /[^\p{L}\p{N}]+/gu;
const MAX_CHARS = 160;

/** Letters and digits of the canonical form, as characters. */
export function canonicalChars(text: string): string[] {
  return Array.from(canonicalizeQuestion(text).replace(NON_WORD, "")).slice(0, MAX_CHARS);
}

function grams(chars: string[], n: number): Map<string, number> {
  const out = new Map<string, number>();
  for (let i = 0; i + n <= chars.length; i++) {
    const g = n === 1 ? chars[i]! : chars.slice(i, i + n).join("");
    out.set(g, (out.get(g) ?? 0) + 1);
  }
  return out;
}

/** Document frequencies of canonical character 1–3-grams over a corpus of texts. */
export class PairCorpusStats {
  /** Document frequency of each n-gram, by n (index 0 unused). */
  private readonly df = [0, 1, 2, 3].map(() => new Map<string, number>());
  n = 0;
  constructor(texts: Iterable<string>) {
    for (const t of texts) {
      this.n++;
      const cs = canonicalChars(t);
      this.texts.push(cs);
      for (let k = 1; k <= 3; k++) {
        const df = this.df[k]!;
        for (const g of grams(cs, k).keys()) df.set(g, (df.get(g) ?? 0) + 1);
      }
    }
  }
  /** PPMI context vectors of characters (neighbours within ±window), L2-normalized; built on first use. */
  private ctx?: Map<string, Map<string, number>>;
  private texts: string[][] = [];
  /** charSim by first and second character; a value is stored under both orders when first computed. */
  private simCache = new Map<string, Map<string, number>>();
  private simCount = 0;
  /** `sideOf` for the texts one side of many pairs keeps coming back with (a knowledge base's phrasings). */
  private sides = new Map<string, PairSide>();
  /** Distributional similarity of two characters in this corpus (cosine of PPMI context vectors), 1 if equal. */
  charSim(a: string, b: string, window = 3): number {
    if (a === b) return 1;
    let s = this.simCache.get(a)?.get(b);
    if (s === undefined) {
      this.ctx ??= contextVectors(this.texts, window);
      const va = this.ctx.get(a);
      const vb = this.ctx.get(b);
      s = 0;
      if (va && vb) {
        for (const [k, x] of va.size < vb.size ? va : vb) {
          const y = (va.size < vb.size ? vb : va).get(k);
          if (y !== undefined) s += x * y;
        }
      }
      // Bounded: visitors' questions bring characters no phrasing has. (Cleared whole; a value computed again is the same.)
      if (this.simCount >= SIM_CACHE_MAX) {
        this.simCache.clear();
        this.simCount = 0;
      }
      for (const [x, y] of [
        [a, b],
        [b, a],
      ] as const) {
        let m = this.simCache.get(x);
        if (!m) this.simCache.set(x, (m = new Map()));
        m.set(y, s);
      }
      this.simCount += 2;
    }
    return s;
  }
  idf(n: number, g: string): number {
    return Math.log((this.n + 1) / ((this.df[n]?.get(g) ?? 0) + 0.5));
  }
  /** `pairSide(text, this)`, kept for the next pair with the same text (bounded). */
  side(text: string): PairSide {
    let s = this.sides.get(text);
    if (!s) {
      if (this.sides.size >= SIDE_CACHE_MAX) this.sides.clear();
      this.sides.set(text, (s = pairSide(text, this)));
    }
    return s;
  }
}

const SIM_CACHE_MAX = 1_000_000;
const SIDE_CACHE_MAX = 4_096;

/**
 * What the pair features need of one text, independent of the other: canonical form and characters, IDF-weighted
 * character 1- and 2-grams, distinct characters and bigrams with their IDF weights, negation.
 */
export interface PairSide {
  text: string;
  canon: string;
  chars: string[];
  uni: Map<string, number>;
  bi: Map<string, number>;
  biSqrt: Map<string, number>;
  /** Distinct characters in order of appearance, with max(idf, 0). */
  distinct: string[];
  distinctIdf: Float64Array;
  /** Distinct bigrams in order of appearance (as character index pairs into `distinct`), with max(idf, 0). */
  bigrams: string[];
  bigramChars: Int32Array;
  bigramIdf: Float64Array;
  negation: boolean;
  /**
   * `canon` as the engine's candidate, with what it caches (vectors, per statistics generation), for the term
   * statistics it was scored with (filled on first use by `engineCanon`).
   */
  engine?: { termStats: TermStats; candidate: CandidateEntry };
}

export function pairSide(text: string, stats: PairCorpusStats): PairSide {
  const canon = canonicalizeQuestion(text);
  const chars = Array.from(canon.replace(NON_WORD, "")).slice(0, MAX_CHARS);
  const index = new Map<string, number>();
  for (const c of chars) if (!index.has(c)) index.set(c, index.size);
  const distinct = [...index.keys()];
  const bigrams: string[] = [];
  const pairs: number[] = [];
  const seen = new Set<string>();
  for (let i = 0; i + 1 < chars.length; i++) {
    const g = chars[i]! + chars[i + 1]!;
    if (seen.has(g)) continue;
    seen.add(g);
    bigrams.push(g);
    pairs.push(index.get(chars[i]!)!, index.get(chars[i + 1]!)!);
  }
  return {
    text,
    canon,
    chars,
    uni: weighted(chars, 1, stats),
    bi: weighted(chars, 2, stats),
    biSqrt: weightedPow(chars, 2, stats, 0.5),
    distinct,
    distinctIdf: Float64Array.from(distinct, (c) => Math.max(stats.idf(1, c), 0)),
    bigrams,
    bigramChars: Int32Array.from(pairs),
    bigramIdf: Float64Array.from(bigrams, (g) => Math.max(stats.idf(2, g), 0)),
    negation: NEGATION.test(text),
  };
}

function contextVectors(texts: string[][], window: number): Map<string, Map<string, number>> {
  const counts = new Map<string, Map<string, number>>();
  const ctxTotal = new Map<string, number>();
  let total = 0;
  for (const cs of texts) {
    for (let i = 0; i < cs.length; i++) {
      let m = counts.get(cs[i]!);
      if (!m) counts.set(cs[i]!, (m = new Map()));
      for (let k = -window; k <= window; k++) {
        const j = i + k;
        if (k === 0 || j < -1 || j > cs.length) continue;
        const key = `${k}${j < 0 ? "^" : j >= cs.length ? "$" : cs[j]}`;
        m.set(key, (m.get(key) ?? 0) + 1);
        ctxTotal.set(key, (ctxTotal.get(key) ?? 0) + 1);
        total++;
      }
    }
  }
  const out = new Map<string, Map<string, number>>();
  for (const [w, m] of counts) {
    let rowTotal = 0;
    for (const v of m.values()) rowTotal += v;
    const vec = new Map<string, number>();
    let norm = 0;
    for (const [k, v] of m) {
      const pmi = Math.log((v * total) / (rowTotal * ctxTotal.get(k)!));
      if (pmi > 0) {
        vec.set(k, pmi);
        norm += pmi * pmi;
      }
    }
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (const [k, v] of vec) vec.set(k, v * inv);
    out.set(w, vec);
  }
  return out;
}

/**
 * Character similarities between the two sides of one pair, looked up in the corpus statistics once per pair of
 * distinct characters (the soft coverages ask for each many times). A lookup asks the statistics with the
 * characters in the order it was given, as a direct call would.
 */
class PairSims {
  private readonly m: Float64Array;
  constructor(
    private readonly a: PairSide,
    private readonly b: PairSide,
    private readonly stats: PairCorpusStats,
  ) {
    this.m = new Float64Array(a.distinct.length * b.distinct.length).fill(NaN);
  }
  /** Similarity of a's i-th and b's j-th distinct character; `aFirst`: asked as charSim(a's, b's). */
  get(i: number, j: number, aFirst: boolean): number {
    const k = i * this.b.distinct.length + j;
    let s = this.m[k]!;
    if (Number.isNaN(s)) {
      const x = this.a.distinct[i]!;
      const y = this.b.distinct[j]!;
      this.m[k] = s = aFirst ? this.stats.charSim(x, y) : this.stats.charSim(y, x);
    }
    return s;
  }
}

/**
 * IDF-weighted share of a's distinct characters matched in b, each by its most similar character there.
 * `reverse`: from the sims' b side to its a side.
 */
function softCoverage(sims: PairSims, a: PairSide, b: PairSide, reverse: boolean): number {
  const bIndex = indexOf(b);
  let tot = 0;
  let hit = 0;
  for (let i = 0; i < a.distinct.length; i++) {
    const w = a.distinctIdf[i]!;
    let m = 0;
    if (bIndex.has(a.distinct[i]!)) m = 1;
    else for (let j = 0; j < b.distinct.length; j++) m = Math.max(m, reverse ? sims.get(j, i, false) : sims.get(i, j, true));
    tot += w;
    hit += w * m;
  }
  return tot > 0 ? hit / tot : 0;
}

/** Like `softCoverage` over bigrams; a bigram matches another by the product of its characters' similarities. */
function softBigramCoverage(sims: PairSims, a: PairSide, b: PairSide, reverse: boolean): number {
  const bb = bigramSet(b);
  let tot = 0;
  let hit = 0;
  const sim = (i: number, j: number) => (reverse ? sims.get(j, i, false) : sims.get(i, j, true));
  for (let g = 0; g < a.bigrams.length; g++) {
    const w = a.bigramIdf[g]!;
    let m = 0;
    if (bb.has(a.bigrams[g]!)) m = 1;
    else {
      const x1 = a.bigramChars[2 * g]!;
      const x2 = a.bigramChars[2 * g + 1]!;
      for (let h = 0; h < b.bigrams.length; h++) m = Math.max(m, sim(x1, b.bigramChars[2 * h]!) * sim(x2, b.bigramChars[2 * h + 1]!));
    }
    tot += w;
    hit += w * m;
  }
  return tot > 0 ? hit / tot : 0;
}

const indexSets = new WeakMap<PairSide, Set<string>>();
const indexOf = (s: PairSide) => {
  let x = indexSets.get(s);
  if (!x) indexSets.set(s, (x = new Set(s.distinct)));
  return x;
};
const bigramSets = new WeakMap<PairSide, Set<string>>();
const bigramSet = (s: PairSide) => {
  let x = bigramSets.get(s);
  if (!x) bigramSets.set(s, (x = new Set(s.bigrams)));
  return x;
};

function weighted(chars: string[], n: number, stats: PairCorpusStats): Map<string, number> {
  const v = new Map<string, number>();
  for (const [g, c] of grams(chars, n)) v.set(g, (1 + Math.log(c)) * Math.max(stats.idf(n, g), 0));
  return v;
}

function cos(a: Map<string, number>, b: Map<string, number>): number {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (const [g, x] of a) {
    na += x * x;
    const y = b.get(g);
    if (y !== undefined) d += x * y;
  }
  for (const y of b.values()) nb += y * y;
  return na > 0 && nb > 0 ? d / Math.sqrt(na * nb) : 0;
}

/** Share of a's weight present in b, and a's heaviest weight absent from b. */
function coverage(a: Map<string, number>, b: Map<string, number>): { cov: number; miss: number } {
  let tot = 0;
  let hit = 0;
  let miss = 0;
  for (const [g, x] of a) {
    tot += x;
    if (b.has(g)) hit += x;
    else if (x > miss) miss = x;
  }
  return { cov: tot > 0 ? hit / tot : 0, miss };
}

function jaccard(a: Map<string, number>, b: Map<string, number>): number {
  let inter = 0;
  for (const g of a.keys()) if (b.has(g)) inter++;
  const union = a.size + b.size - inter;
  return union > 0 ? inter / union : 0;
}

let rowA = new Int32Array(MAX_CHARS + 1);
let rowB = new Int32Array(MAX_CHARS + 1);
const rows = (n: number) => {
  if (rowA.length < n) [rowA, rowB] = [new Int32Array(n), new Int32Array(n)];
  return [rowA, rowB] as const;
};

/** Longest common substring length. */
export function longestCommonSubstring(a: string[], b: string[]): number {
  let best = 0;
  let [prev, cur] = rows(b.length + 1);
  prev.fill(0, 0, b.length + 1);
  cur[0] = 0;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      cur[j] = a[i - 1] === b[j - 1] ? prev[j - 1]! + 1 : 0;
      if (cur[j]! > best) best = cur[j]!;
    }
    [prev, cur] = [cur, prev];
  }
  return best;
}

export function editDistance(a: string[], b: string[]): number {
  let [prev, cur] = rows(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    [prev, cur] = [cur, prev];
  }
  return prev[b.length]!;
}

/** Negation characters (不/没/未/无/别/非): a pair where only one side negates rarely means the same. */
const NEGATION = /[不没未无别非]/;

/**
 * Pair features, by name. `engine` is the engine's match logit on the raw texts
 * (what `scorePairs` returned before the pair model; kept for reference, weight 0),
 * `engineCanon` the same on canonicalized texts. Min/max pairs make every feature
 * symmetric in (a, b).
 */
export const PAIR_FEATURES = [
  "engine",
  "engineCanon",
  "dense",
  "cos1",
  "cos2",
  "cos2sqrt",
  "jac1",
  "covMin",
  "covMax",
  "cov2Min",
  "lcs",
  "substr",
  "edit",
  "lenGap",
  "restCountMin",
  "negMismatch",
  "softMin",
  "softMax",
  "soft2Min",
  "soft2Max",
] as const;
export type PairFeature = (typeof PAIR_FEATURES)[number];

/** Number of a's distinct n-grams absent from b. */
function restCount(a: Map<string, number>, b: Map<string, number>): number {
  let n = 0;
  for (const g of a.keys()) if (!b.has(g)) n++;
  return n;
}

function weightedPow(chars: string[], n: number, stats: PairCorpusStats, p: number): Map<string, number> {
  const v = new Map<string, number>();
  for (const [g, c] of grams(chars, n)) v.set(g, (1 + Math.log(c)) * Math.pow(Math.max(stats.idf(n, g), 0), p));
  return v;
}

export interface PairFeatureContext {
  stats: PairCorpusStats;
  termStats: TermStats;
  scorer?: ScorerConfig;
  model?: RankerModel;
}

/**
 * The features of a pair of sides, computed when first asked for (what is shared between features — coverages,
 * soft coverages — once): `pairScore` asks only for those its model weighs.
 */
function pairFeatureReader(a: PairSide, b: PairSide, ctx: PairFeatureContext, dense: number | undefined): (f: PairFeature) => number {
  const scorer = ctx.scorer ?? DEFAULT_SCORER;
  // The pair model was fitted on the engine's match (pair) logit, not on its ranking score.
  const engine = (x: string, candidate: CandidateEntry) => {
    candidate.dense = dense;
    return matchLogit(scoreCandidates(prepareQuery(x, ctx.termStats, scorer), [candidate], ctx.termStats, scorer, ctx.model)[0]!.signals, ctx.model);
  };
  const canonCandidate = () => {
    if (b.engine?.termStats !== ctx.termStats) b.engine = { termStats: ctx.termStats, candidate: { key: 0, phrasings: [b.canon] } };
    return b.engine.candidate;
  };
  const ca = a.chars;
  const cb = b.chars;
  const lazy = <T>(fn: () => T) => {
    let v: T | undefined;
    let done = false;
    return () => {
      if (!done) [v, done] = [fn(), true];
      return v as T;
    };
  };
  const sims = lazy(() => new PairSims(a, b, ctx.stats));
  const c1 = lazy(() => coverage(a.uni, b.uni).cov);
  const c2 = lazy(() => coverage(b.uni, a.uni).cov);
  // In this order, as the statistics' character similarities are first computed by the first coverage asking.
  const soft = lazy(() => [softCoverage(sims(), a, b, false), softCoverage(sims(), b, a, true)] as const);
  const soft2 = lazy(() => {
    soft();
    return [softBigramCoverage(sims(), a, b, false), softBigramCoverage(sims(), b, a, true)] as const;
  });
  const minLen = Math.min(ca.length, cb.length);
  const maxLen = Math.max(ca.length, cb.length);
  const f: Record<PairFeature, () => number> = {
    engine: () => engine(a.text, { key: 0, phrasings: [b.text] }),
    engineCanon: () => engine(a.canon, canonCandidate()),
    dense: () => dense ?? 0,
    cos1: () => cos(a.uni, b.uni),
    cos2: () => cos(a.bi, b.bi),
    cos2sqrt: () => cos(a.biSqrt, b.biSqrt),
    jac1: () => jaccard(a.uni, b.uni),
    covMin: () => Math.min(c1(), c2()),
    covMax: () => Math.max(c1(), c2()),
    cov2Min: () => Math.min(coverage(a.bi, b.bi).cov, coverage(b.bi, a.bi).cov),
    lcs: () => lcsRatio(ca, cb),
    substr: () => (minLen > 0 ? longestCommonSubstring(ca, cb) / minLen : 0),
    edit: () => (maxLen > 0 ? 1 - editDistance(ca, cb) / maxLen : 0),
    lenGap: () => Math.abs(Math.log((ca.length + 1) / (cb.length + 1))),
    restCountMin: () => Math.min(restCount(a.uni, b.uni), restCount(b.uni, a.uni)),
    negMismatch: () => (a.negation !== b.negation ? 1 : 0),
    softMin: () => Math.min(...soft()),
    softMax: () => Math.max(...soft()),
    soft2Min: () => Math.min(...soft2()),
    soft2Max: () => Math.max(...soft2()),
  };
  return (k) => f[k]();
}

/** Feature values of one pair, in the order of `PAIR_FEATURES`. `dense` is the embedding cosine, if any. */
export function pairFeatures(a: string, b: string, ctx: PairFeatureContext, dense?: number): number[] {
  const read = pairFeatureReader(pairSide(a, ctx.stats), pairSide(b, ctx.stats), ctx, dense);
  return PAIR_FEATURES.map(read);
}

/**
 * `pairLogit(pairFeatures(a, b, ...))`, computing only the features the model weighs (a feature of weight 0 adds
 * nothing) and keeping b's side for the next pair with the same b (`PairCorpusStats.side`: a knowledge base's
 * phrasing meets many questions).
 */
export function pairScore(a: string, b: string, ctx: PairFeatureContext, dense?: number, model: PairModel = PAIR_MODEL): number {
  const read = pairFeatureReader(pairSide(a, ctx.stats), ctx.stats.side(b), ctx, dense);
  let z = model.bias;
  for (const k of PAIR_FEATURES) {
    const w = model.weights[k] ?? 0;
    if (w !== 0) z += w * read(k);
  }
  return z;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

export function pairLogit(x: number[], model: PairModel = PAIR_MODEL): number {
  let z = model.bias;
  PAIR_FEATURES.forEach((k, i) => (z += (model.weights[k] ?? 0) * x[i]!));
  return z;
}

/**
 * Probability that a and b ask the same thing, for each pair. Corpus statistics
 * (IDF, character contexts) come from every distinct text of the list unless given.
 */
export async function scorePairList(
  pairs: { a: string; b: string }[],
  ctx: Omit<PairFeatureContext, "stats"> & { stats?: PairCorpusStats; embedder?: Embedder; pairModel?: PairModel },
): Promise<number[]> {
  const stats = ctx.stats ?? new PairCorpusStats(new Set(pairs.flatMap((p) => [p.a, p.b])));
  const out: number[] = [];
  for (const p of pairs) {
    let dense: number | undefined;
    if (ctx.embedder) {
      const [va, vb] = await ctx.embedder.embed([p.a, p.b]);
      dense = cosine(va!, vb!);
    }
    out.push(sigmoid(pairLogit(pairFeatures(p.a, p.b, { ...ctx, stats }, dense), ctx.pairModel)));
  }
  return out;
}
