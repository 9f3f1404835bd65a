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
import { DEFAULT_SCORER, lcsRatio, matchLogit, prepareQuery, scoreCandidates, type ScorerConfig, type TermStats } from "./scorer.ts";
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
  readonly df = new Map<string, number>();
  n = 0;
  constructor(texts: Iterable<string>) {
    for (const t of texts) {
      this.n++;
      const cs = canonicalChars(t);
      this.texts.push(cs);
      for (let k = 1; k <= 3; k++) for (const g of grams(cs, k).keys()) this.df.set(`${k}${g}`, (this.df.get(`${k}${g}`) ?? 0) + 1);
    }
  }
  /** PPMI context vectors of characters (neighbours within ±window), L2-normalized; built on first use. */
  private ctx?: Map<string, Map<string, number>>;
  private texts: string[][] = [];
  private simCache = new Map<string, number>();
  /** Distributional similarity of two characters in this corpus (cosine of PPMI context vectors), 1 if equal. */
  charSim(a: string, b: string, window = 3): number {
    if (a === b) return 1;
    const key = a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
    let s = this.simCache.get(key);
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
      this.simCache.set(key, s);
    }
    return s;
  }
  idf(n: number, g: string): number {
    return Math.log((this.n + 1) / ((this.df.get(`${n}${g}`) ?? 0) + 0.5));
  }
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

/** IDF-weighted share of a's distinct characters matched in b, each by its most similar character there. */
function softCoverage(a: string[], b: string[], stats: PairCorpusStats): number {
  const bs = new Set(b);
  let tot = 0;
  let hit = 0;
  for (const c of new Set(a)) {
    const w = Math.max(stats.idf(1, c), 0);
    let m = 0;
    if (bs.has(c)) m = 1;
    else for (const d of bs) m = Math.max(m, stats.charSim(c, d));
    tot += w;
    hit += w * m;
  }
  return tot > 0 ? hit / tot : 0;
}

/** Like `softCoverage` over bigrams; a bigram matches another by the product of its characters' similarities. */
function softBigramCoverage(a: string[], b: string[], stats: PairCorpusStats): number {
  const bb = new Set<string>();
  for (let i = 0; i + 1 < b.length; i++) bb.add(b[i]! + b[i + 1]!);
  const seen = new Set<string>();
  let tot = 0;
  let hit = 0;
  for (let i = 0; i + 1 < a.length; i++) {
    const g = a[i]! + a[i + 1]!;
    if (seen.has(g)) continue;
    seen.add(g);
    const w = Math.max(stats.idf(2, g), 0);
    let m = 0;
    if (bb.has(g)) m = 1;
    else for (const h of bb) {
      const [x1, x2] = Array.from(g);
      const [y1, y2] = Array.from(h);
      m = Math.max(m, stats.charSim(x1!, y1!) * stats.charSim(x2!, y2!));
    }
    tot += w;
    hit += w * m;
  }
  return tot > 0 ? hit / tot : 0;
}

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

/** Longest common substring length. */
function longestCommonSubstring(a: string[], b: string[]): number {
  let best = 0;
  const prev = new Uint16Array(b.length + 1);
  const cur = new Uint16Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      cur[j] = a[i - 1] === b[j - 1] ? prev[j - 1]! + 1 : 0;
      if (cur[j]! > best) best = cur[j]!;
    }
    prev.set(cur);
  }
  return best;
}

function editDistance(a: string[], b: string[]): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
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

/** Feature values of one pair, in the order of `PAIR_FEATURES`. `dense` is the embedding cosine, if any. */
export function pairFeatures(a: string, b: string, ctx: PairFeatureContext, dense?: number): number[] {
  const scorer = ctx.scorer ?? DEFAULT_SCORER;
  const engine = (x: string, y: string) =>
    // The pair model was fitted on the engine's match (pair) logit, not on its ranking score.
    matchLogit(scoreCandidates(prepareQuery(x, ctx.termStats, scorer), [{ key: 0, phrasings: [y], dense }], ctx.termStats, scorer, ctx.model)[0]!.signals, ctx.model);
  const ca = canonicalChars(a);
  const cb = canonicalChars(b);
  const [ua, ub] = [weighted(ca, 1, ctx.stats), weighted(cb, 1, ctx.stats)];
  const [ba, bb] = [weighted(ca, 2, ctx.stats), weighted(cb, 2, ctx.stats)];
  const c1 = coverage(ua, ub).cov;
  const c2 = coverage(ub, ua).cov;
  const s1 = softCoverage(ca, cb, ctx.stats);
  const s2 = softCoverage(cb, ca, ctx.stats);
  const t1 = softBigramCoverage(ca, cb, ctx.stats);
  const t2 = softBigramCoverage(cb, ca, ctx.stats);
  const minLen = Math.min(ca.length, cb.length);
  const maxLen = Math.max(ca.length, cb.length);
  const negA = NEGATION.test(a);
  const negB = NEGATION.test(b);
  const f: Record<PairFeature, number> = {
    engine: engine(a, b),
    engineCanon: engine(canonicalizeQuestion(a), canonicalizeQuestion(b)),
    dense: dense ?? 0,
    cos1: cos(ua, ub),
    cos2: cos(ba, bb),
    cos2sqrt: cos(weightedPow(ca, 2, ctx.stats, 0.5), weightedPow(cb, 2, ctx.stats, 0.5)),
    jac1: jaccard(ua, ub),
    covMin: Math.min(c1, c2),
    covMax: Math.max(c1, c2),
    cov2Min: Math.min(coverage(ba, bb).cov, coverage(bb, ba).cov),
    lcs: lcsRatio(ca, cb),
    substr: minLen > 0 ? longestCommonSubstring(ca, cb) / minLen : 0,
    edit: maxLen > 0 ? 1 - editDistance(ca, cb) / maxLen : 0,
    lenGap: Math.abs(Math.log((ca.length + 1) / (cb.length + 1))),
    restCountMin: Math.min(restCount(ua, ub), restCount(ub, ua)),
    negMismatch: negA !== negB ? 1 : 0,
    softMin: Math.min(s1, s2),
    softMax: Math.max(s1, s2),
    soft2Min: Math.min(t1, t2),
    soft2Max: Math.max(t1, t2),
  };
  return PAIR_FEATURES.map((k) => f[k]);
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
