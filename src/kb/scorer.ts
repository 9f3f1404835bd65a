/**
 * Pure re-scoring of retrieval candidates: sparse TF-IDF vectors over typed
 * features, per-phrasing and per-entry (centroid) similarity, coverage and order
 * features, combined by a logistic model into a match probability and then into a
 * confidence for each result. No I/O: the caller supplies term statistics.
 */
import { backgroundShare } from "../text/background.ts";
import { features } from "../text/tokenize.ts";
import { normalizeForMatch } from "../text/normalize.ts";
import { popcount } from "./sketch-index.ts";
import { classifierScores, DEFAULT_CLASSIFIER } from "./classifier.ts";
import { DEFAULT_MODEL, type RankerModel } from "./ranker-model.ts";

export type SparseVec = Map<string, number>;

/** Entry-level document frequencies: how many enabled entries contain a feature. */
export interface TermStats {
  entries: number;
  df(feature: string): number;
  /**
   * Optional memo of each feature's IDF factor per scorer config, for statistics that
   * stay fixed while many texts are vectorized (a knowledge-base version): weighting
   * a text's features then costs a map look-up each instead of two look-ups, a log
   * and a power. Must be dropped when the statistics change.
   */
  memo?: WeakMap<ScorerConfig, Map<string, number>>;
  /**
   * Changes whenever the statistics do (a knowledge-base version): candidates that a
   * caller caches across calls are weighed again when it differs from theirs.
   */
  generation?: number;
}

export interface ScorerConfig {
  /** Per-kind weights: Latin words, Latin char trigrams, CJK chars, CJK bigrams. */
  kindWeights: Record<"w" | "g" | "c" | "b", number>;
  /**
   * IDF exponent (default 0.5). Full IDF over-trusts rare words such as product or
   * place names that vary between phrasings of the same question; measured best
   * between 0.45 and 0.7 on the English and Chinese dev sets.
   */
  idfPower: number;
}

export const DEFAULT_SCORER: ScorerConfig = {
  kindWeights: { w: 1, g: 0.2, c: 1.5, b: 1 },
  idfPower: 0.5,
};

/** Weight of the background prior, in pseudo-entries (see src/text/background.ts). */
export const BACKGROUND_ENTRIES = 40;

export function idf(stats: TermStats, feature: string): number {
  const prior = BACKGROUND_ENTRIES;
  return Math.log((stats.entries + 1 + prior) / (stats.df(feature) + 0.5 + prior * backgroundShare(feature)));
}

const MEMO_MAX = 500_000;

/** L2-normalized, sublinear-tf, IDF-weighted vector of a text. */
export function vectorize(text: string, stats: TermStats, config: ScorerConfig = DEFAULT_SCORER): SparseVec {
  return weigh(bagOf(text), stats, config);
}

/** A text's features with their counts (`features`), packed: what a cache keeps, since it does not depend on statistics. */
export interface FeatureBag {
  keys: string[];
  counts: Uint32Array;
}

/**
 * The features of a text as a `FeatureBag`. With `intern`, equal feature strings
 * of different texts become one string (a cache of thousands of entries holds a
 * few thousand distinct features, not one copy per text).
 */
export function bagOf(text: string, intern?: Map<string, string>): FeatureBag {
  const bag = features(text);
  const keys = new Array<string>(bag.size);
  const counts = new Uint32Array(bag.size);
  let i = 0;
  for (const [f, c] of bag) {
    let k = f;
    if (intern) {
      const known = intern.get(f);
      if (known === undefined) intern.set(f, f);
      else k = known;
    }
    keys[i] = k;
    counts[i++] = c;
  }
  return { keys, counts };
}

/** `vectorize` from a text's `FeatureBag`: a cache keeps the bags across writes and only re-weighs. */
export function weigh(bag: FeatureBag, stats: TermStats, config: ScorerConfig = DEFAULT_SCORER): SparseVec {
  const v: SparseVec = new Map();
  let memo = stats.memo?.get(config);
  if (stats.memo && !memo) stats.memo.set(config, (memo = new Map()));
  let norm = 0;
  for (let i = 0; i < bag.keys.length; i++) {
    const f = bag.keys[i]!;
    const count = bag.counts[i]!;
    const kind = f[0] as keyof ScorerConfig["kindWeights"];
    let w = memo?.get(f);
    if (w === undefined) {
      w = Math.pow(Math.max(idf(stats, f), 0), config.idfPower);
      if (memo) {
        // Queries bring features no entry has: bound what visitors can make it hold.
        if (memo.size >= MEMO_MAX) memo.clear();
        memo.set(f, w);
      }
    }
    const x = (1 + Math.log(count)) * config.kindWeights[kind] * w;
    if (x > 0) {
      v.set(f, x);
      norm += x * x;
    }
  }
  if (norm > 0) {
    const inv = 1 / Math.sqrt(norm);
    for (const [f, x] of v) v.set(f, x * inv);
  }
  return v;
}

/**
 * A vector's entries as arrays, in its order: iterating them is cheaper than iterating the map. `ids` are the
 * features' interned numbers (`featureIds`; -1 for a query feature no phrasing has), so the dot products of a
 * query with many phrasings index arrays instead of hashing strings.
 */
export interface VecEntries {
  keys: string[];
  values: Float64Array;
  ids: Int32Array;
  /** `featureStamp` when the ids were given or looked up: any other value means they are out of date. */
  stamp: number;
}

/**
 * A number per feature of the phrasings scored from cached entries. Only phrasings add to it
 * (`phrasingEntriesOf`), never a visitor's query (`queryEntriesOf` only looks up). It keeps what the knowledge
 * bases of this process ever contained (an edit does not take numbers back), so at FEATURE_IDS_MAX it starts over:
 * entries numbered before are then out of date and numbered again when next used.
 */
const featureIds = new Map<string, number>();
const FEATURE_IDS_MAX = 200_000;
/** Moves whenever a number is given and when the numbering starts over, never back to an earlier value. */
let featureStamp = 0;
/** `featureStamp` when the numbering last started over: phrasing entries older than it are out of date. */
let numberingSince = 0;

function entriesWith(v: SparseVec, id: (f: string) => number): VecEntries {
  const keys = new Array<string>(v.size);
  const values = new Float64Array(v.size);
  const ids = new Int32Array(v.size);
  let i = 0;
  for (const [f, x] of v) {
    keys[i] = f;
    ids[i] = id(f);
    values[i++] = x;
  }
  return { keys, values, ids, stamp: featureStamp };
}

/** A phrasing vector's entries; its features get numbers. */
export function phrasingEntriesOf(v: SparseVec): VecEntries {
  if (featureIds.size + v.size > FEATURE_IDS_MAX) {
    featureIds.clear();
    numberingSince = ++featureStamp;
  }
  return entriesWith(v, (f) => {
    let id = featureIds.get(f);
    if (id === undefined) {
      featureIds.set(f, (id = featureIds.size));
      featureStamp++;
    }
    return id;
  });
}

/** Whether phrasing entries' numbers are still those of the current numbering. */
const numbered = (entries: VecEntries[]) => entries.every((e) => e.stamp >= numberingSince);

/** A query vector's entries; a feature no phrasing has is -1. */
export function queryEntriesOf(v: SparseVec): VecEntries {
  return entriesWith(v, (f) => featureIds.get(f) ?? -1);
}

/**
 * Dense scratch, by feature id: the query's values while `signalsFor` scores its phrasings (`loadQuery`), and one
 * phrasing's at a time inside `dotIds`. All zero between uses (weights are > 0, so 0 means absent).
 */
let queryValues = new Float64Array(1024);
let phrasingValues = new Float64Array(1024);
function reserve(n: number) {
  if (n <= queryValues.length) return;
  const size = Math.max(n, 2 * queryValues.length);
  queryValues = new Float64Array(size);
  phrasingValues = new Float64Array(size);
}
function loadQuery(qe: VecEntries) {
  reserve(featureIds.size);
  for (let i = 0; i < qe.ids.length; i++) if (qe.ids[i]! >= 0) queryValues[qe.ids[i]!] = qe.values[i]!;
}
function unloadQuery(qe: VecEntries) {
  for (let i = 0; i < qe.ids.length; i++) if (qe.ids[i]! >= 0) queryValues[qe.ids[i]!] = 0;
}

/**
 * `dot(query, phrasing)` from their entries, with the query loaded (`loadQuery`), summing the same products in
 * the same order as `dot`: the smaller vector's order, the query's when they are the same size.
 */
function dotIds(qe: VecEntries, pe: VecEntries): number {
  let s = 0;
  if (qe.ids.length > pe.ids.length) {
    const { ids, values } = pe;
    for (let i = 0; i < ids.length; i++) {
      const y = queryValues[ids[i]!]!;
      if (y !== 0) s += values[i]! * y;
    }
    return s;
  }
  const { ids, values } = qe;
  for (let i = 0; i < pe.ids.length; i++) phrasingValues[pe.ids[i]!] = pe.values[i]!;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (id < 0) continue;
    const y = phrasingValues[id]!;
    if (y !== 0) s += values[i]! * y;
  }
  for (let i = 0; i < pe.ids.length; i++) phrasingValues[pe.ids[i]!] = 0;
  return s;
}

export function dot(a: SparseVec, b: SparseVec): number {
  if (a.size > b.size) [a, b] = [b, a];
  let s = 0;
  for (const [f, x] of a) {
    const y = b.get(f);
    if (y !== undefined) s += x * y;
  }
  return s;
}

/** Normalized mean of phrasing vectors: terms shared by many phrasings dominate. */
export function centroid(vectors: SparseVec[]): SparseVec {
  const c: SparseVec = new Map();
  for (const v of vectors) for (const [f, x] of v) c.set(f, (c.get(f) ?? 0) + x);
  let n = 0;
  for (const x of c.values()) n += x * x;
  if (n > 0) {
    const inv = 1 / Math.sqrt(n);
    for (const [f, x] of c) c.set(f, x * inv);
  }
  return c;
}

const NON_WORD = /[^\p{L}\p{N}]+/gu;
const LCS_MAX = 160;

/** Characters compared for order similarity: letters and digits of the normalized text. */
export function compactChars(text: string): string[] {
  return Array.from(normalizeForMatch(text).replace(NON_WORD, "")).slice(0, LCS_MAX);
}

/** Code points of `compactChars` (one per character): cheaper to compare. */
export const codesOf = (chars: string[]) => Int32Array.from(chars, (c) => c.codePointAt(0)!);

/** 2·LCS / (|a| + |b|): rewards the same words in the same order, 1 for identical text. */
export function lcsRatio<T>(a: ArrayLike<T>, b: ArrayLike<T>): number {
  if (a.length === 0 || b.length === 0) return 0;
  if (lcsRows[0].length < b.length + 1) lcsRows = [new Uint32Array(b.length + 1), new Uint32Array(b.length + 1)];
  let [prev, cur] = lcsRows;
  prev.fill(0, 0, b.length + 1);
  cur[0] = 0;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      cur[j] = a[i - 1] === b[j - 1] ? prev[j - 1]! + 1 : Math.max(prev[j]!, cur[j - 1]!);
    }
    [prev, cur] = [cur, prev];
  }
  return (2 * prev[b.length]!) / (a.length + b.length);
}

/**
 * Per-character position masks of a sequence (bit j of a character's mask: b[j] is that character), for
 * `lcsRatioWith`. Independent of the other sequence: a phrasing's is kept across queries.
 */
export interface LcsMasks {
  length: number;
  words: number;
  masks: Map<number, Uint32Array>;
}

export function lcsMasks(b: ArrayLike<number>): LcsMasks {
  const words = Math.max(1, Math.ceil(b.length / 32));
  const masks = new Map<number, Uint32Array>();
  for (let j = 0; j < b.length; j++) {
    let m = masks.get(b[j]!);
    if (!m) masks.set(b[j]!, (m = new Uint32Array(words)));
    m[j >>> 5]! |= 1 << (j & 31);
  }
  return { length: b.length, words, masks };
}

let lcsV = new Uint32Array(8);

/**
 * `lcsRatio(a, b)` from b's masks: the LCS length by the bit-parallel recurrence of Crochemore et al. (2001),
 * V ← (V + U) | (V − U) with U = V & mask(aᵢ), over ⌈|b|/32⌉ words instead of |a|·|b| cells (an integer, so
 * exactly the same ratio). U ⊆ V, so V − U = V & ~U: only the addition carries from word to word.
 */
export function lcsRatioWith(a: ArrayLike<number>, b: LcsMasks): number {
  const n = b.length;
  if (a.length === 0 || n === 0) return 0;
  const W = b.words;
  if (lcsV.length < W) lcsV = new Uint32Array(W);
  const V = lcsV;
  V.fill(0xffffffff, 0, W);
  for (let i = 0; i < a.length; i++) {
    const m = b.masks.get(a[i]!);
    if (!m) continue;
    let carry = 0;
    for (let w = 0; w < W; w++) {
      const v = V[w]!;
      const u = (v & m[w]!) >>> 0;
      const sum = v + u + carry;
      carry = sum > 0xffffffff ? 1 : 0;
      V[w] = (sum | (v & ~u)) >>> 0;
    }
  }
  // The LCS length is the number of zero bits among the first n.
  let zeros = 0;
  for (let w = 0; w < W; w++) {
    const bits = Math.min(32, n - 32 * w);
    let x = ~V[w]! >>> 0;
    if (bits < 32) x &= (1 << bits) - 1;
    zeros += popcount(x);
  }
  return (2 * zeros) / (a.length + n);
}

/** Rows reused by `lcsRatio` (one call at a time: nothing in it waits). */
let lcsRows: [Uint32Array, Uint32Array] = [new Uint32Array(LCS_MAX + 1), new Uint32Array(LCS_MAX + 1)];

export interface PreparedQuery {
  text: string;
  vec: SparseVec;
  chars: string[];
  /** `codesOf(chars)`. */
  codes?: Int32Array;
  /** `lcsMasks(codes)`: the order overlap with each phrasing scans the phrasing's characters against these. */
  lcs?: LcsMasks;
  /** `queryEntriesOf(vec)`: looked up again when features were numbered since. */
  entries?: VecEntries;
  /** Share of the query's weight on features no entry contains (a sign of an off-topic question). */
  unknown: number;
}

export function prepareQuery(text: string, stats: TermStats, config: ScorerConfig = DEFAULT_SCORER): PreparedQuery {
  const vec = vectorize(text, stats, config);
  let unknown = 0;
  for (const [f, x] of vec) if (stats.df(f) === 0) unknown += x * x;
  const chars = compactChars(text);
  return { text, vec, chars, codes: codesOf(chars), entries: queryEntriesOf(vec), unknown };
}

export interface CandidateEntry {
  key: number;
  /** Main question first, then alternatives. */
  phrasings: string[];
  /** Cosine between query and entry embeddings, when the vector index produced it. */
  dense?: number;
  /** Phrasing features, independent of term statistics; filled on first use (a caller may fill them interned). */
  bags?: FeatureBag[];
  /** Phrasing vectors; filled on first use so a caller caching candidates skips re-vectorizing. */
  vectors?: SparseVec[];
  /** `TermStats.generation` that `vectors` and `centroid` were weighed with; another one → weighed again. */
  weighedAt?: number;
  /** Centroid of `vectors` (entries with several phrasings), cached the same way. */
  centroid?: SparseVec;
  /** `codesOf(compactChars)` of each phrasing (independent of statistics), filled as a phrasing is first the best. */
  chars?: (Int32Array | undefined)[];
  /**
   * `phrasingEntriesOf` each of `vectors`, dropped with them; filled when the vectors are used a second time (on a big
   * knowledge base most candidates are seen once: building arrays for one use costs more than it saves).
   */
  entries?: VecEntries[];
  /** Times `vectors` were scored since they were weighed. */
  uses?: number;
}

/** Per-signal scores of one candidate entry; also the hit-test explanation. */
export interface MatchSignals {
  /** Best cosine between the query and one phrasing. */
  phrasing: number;
  /** Cosine between the query and the entry centroid (all phrasings). */
  entry: number;
  /** Share of the query's weight found in the best phrasing. */
  queryCoverage: number;
  /** Share of the best phrasing's weight found in the query. */
  phrasingCoverage: number;
  /** Order-aware character overlap with the best phrasing. */
  order: number;
  /** Embedding cosine (dense vectors). */
  dense: number;
  /** Share of the query's weight on features unknown to the knowledge base. */
  unknown: number;
  /** Number of phrasings of the entry. */
  phrasings: number;
  /** Parts of the best-phrasing cosine from CJK characters, CJK bigrams, Latin words, Latin trigrams. */
  cjkChars: number;
  cjkBigrams: number;
  words: number;
  trigrams: number;
  /** Heaviest query feature missing from the best phrasing, and the reverse. */
  missingInPhrasing: number;
  missingInQuery: number;
  /** |log(length ratio)| of the compared character sequences. */
  lengthGap: number;
  /**
   * Score of the entry from a softmax classifier trained on the phrasings of the
   * best-ranked candidates with alternatives (`classifier.ts`), centred on their
   * mean; 0 (neutral) for other candidates and for entries with one phrasing.
   */
  classifier: number;
}

/**
 * Feature kinds, by their first character, for the cosine split by kind in `signalsFor` (the parts sum to the
 * cosine). Unlike a cosine per kind, a part stays small when its kind is a small share of the text, so one shared
 * English word in a Chinese question cannot look like a perfect match.
 */
const [KIND_C, KIND_B, KIND_W, KIND_G] = ["c", "b", "w", "g"].map((k) => k.charCodeAt(0));

export interface ScoredCandidate {
  key: number;
  /** Index into `phrasings` of the best-matching one. */
  bestPhrasing: number;
  signals: MatchSignals;
  /** Ranking score (logit of the ranking model, fitted listwise on retrieval); candidates are sorted by it. */
  logit: number;
  /**
   * The ranking logit without the classifier term: evidence that the query matches
   * this entry at all. The classifier only says which of the top entries fits best
   * (it is trained among them), so it must not make an off-topic query look answerable.
   */
  evidence: number;
  /** Probability that this entry answers the query, ignoring the other candidates. */
  match: number;
}

export function signalsFor(
  q: PreparedQuery,
  phrasingVecs: SparseVec[],
  phrasings: string[],
  dense: number | undefined,
  entryCentroid?: SparseVec,
  phrasingChars?: (Int32Array | undefined)[],
  phrasingEntries?: VecEntries[],
): { best: number; signals: MatchSignals } {
  let best = 0;
  let bestCos = -1;
  // Features numbered since the query's ids were looked up (phrasings scored for the first time) may be the query's.
  if (q.entries && q.entries.stamp !== featureStamp) q.entries = undefined;
  const qe = (q.entries ??= queryEntriesOf(q.vec));
  const pe = phrasingEntries && numbered(phrasingEntries) ? phrasingEntries : undefined;
  if (pe) loadQuery(qe);
  try {
    for (let i = 0; i < phrasingVecs.length; i++) {
      const c = pe ? dotIds(qe, pe[i]!) : dot(q.vec, phrasingVecs[i]!);
      if (c > bestCos) {
        bestCos = c;
        best = i;
      }
    }
  } finally {
    if (pe) unloadQuery(qe);
  }
  const p = phrasingVecs[best]!;
  let qcov = 0;
  let pcov = 0;
  let missP = 0;
  let missQ = 0;
  // The cosine split by feature kind (`kindParts`), in the same pass.
  let kc = 0;
  let kb = 0;
  let kw = 0;
  let kg = 0;
  for (let i = 0; i < qe.keys.length; i++) {
    const f = qe.keys[i]!;
    const x = qe.values[i]!;
    const y = p.get(f);
    if (y !== undefined) {
      qcov += x * x;
      pcov += y * y;
      const kind = f.charCodeAt(0);
      if (kind === KIND_C) kc += x * y;
      else if (kind === KIND_B) kb += x * y;
      else if (kind === KIND_W) kw += x * y;
      else if (kind === KIND_G) kg += x * y;
    } else if (x > missP) missP = x;
  }
  if (pe) {
    const { keys: pk, values: pv } = pe[best]!;
    for (let i = 0; i < pk.length; i++) if (pv[i]! > missQ && !q.vec.has(pk[i]!)) missQ = pv[i]!;
  } else for (const [f, y] of p) if (y > missQ && !q.vec.has(f)) missQ = y;
  let pChars = phrasingChars?.[best];
  if (!pChars) {
    pChars = codesOf(compactChars(phrasings[best]!));
    if (phrasingChars) phrasingChars[best] = pChars;
  }
  const entry = phrasingVecs.length > 1 ? dot(q.vec, entryCentroid ?? centroid(phrasingVecs)) : bestCos;
  return {
    best,
    signals: {
      phrasing: Math.max(bestCos, 0),
      entry: Math.max(entry, 0),
      queryCoverage: qcov,
      phrasingCoverage: pcov,
      order: lcsRatioWith(pChars, (q.lcs ??= lcsMasks((q.codes ??= codesOf(q.chars))))),
      dense: dense ?? 0,
      unknown: q.unknown,
      phrasings: phrasingVecs.length,
      cjkChars: kc,
      cjkBigrams: kb,
      words: kw,
      trigrams: kg,
      missingInPhrasing: missP,
      missingInQuery: missQ,
      lengthGap: Math.abs(Math.log((q.chars.length + 1) / (pChars.length + 1))),
      classifier: 0,
    },
  };
}

/**
 * Sign each weight of `featureVector` is constrained to when fitting: more
 * similarity can never lower a match, more missing content can never raise it.
 * Without this, correlated features get offsetting weights that behave badly on
 * inputs unlike the training data (an exact match scoring low).
 */
export const FEATURE_SIGNS = [1, 1, 1, 1, 1, 1, -1, 0, 1, 1, 1, 1, 1, 1, -1, -1, -1];

export function featureVector(s: MatchSignals): number[] {
  return [
    s.phrasing,
    s.entry,
    s.queryCoverage,
    s.phrasingCoverage,
    s.order,
    s.dense,
    s.unknown,
    Math.log(s.phrasings),
    s.phrasing * s.phrasing,
    Math.min(s.queryCoverage, s.phrasingCoverage),
    s.cjkChars,
    s.cjkBigrams,
    s.words,
    s.trigrams,
    s.missingInPhrasing,
    s.missingInQuery,
    s.lengthGap,
  ];
}

/**
 * Features of the ranking model: the match features, plus the same features again
 * multiplied by "the entry has several phrasings". An entry with alternatives is a
 * labelled class (its centroid and coverage mean something different from one
 * question's), so the ranking model gets separate corrections for it; for
 * single-question entries the extra half is zero.
 */
export function rankFeatures(s: MatchSignals): number[] {
  const x = featureVector(s);
  const multi = s.phrasings > 1 ? 1 : 0;
  return x.concat(x.map((v) => v * multi), [s.classifier]);
}

/** Index of the classifier score in `rankFeatures` (last). */
const CLASSIFIER_FEATURE = FEATURE_SIGNS.length * 2;

/**
 * Signs of `rankFeatures` weights: the base half as `FEATURE_SIGNS`, the
 * multi-phrasing corrections free, the classifier score non-negative.
 */
export const RANK_SIGNS = FEATURE_SIGNS.concat(FEATURE_SIGNS.map(() => 0), [1]);

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

export function rankLogit(s: MatchSignals, model: RankerModel = DEFAULT_MODEL): number {
  return rankLogitOf(featureVector(s), s, model);
}

/** `rankLogit` from the signals' `featureVector` (summed in the order of `rankFeatures`, without building it). */
function rankLogitOf(x: number[], s: MatchSignals, model: RankerModel): number {
  const w = model.rank.weights;
  const n = x.length;
  const multi = s.phrasings > 1 ? 1 : 0;
  let z = model.rank.bias;
  for (let i = 0; i < n; i++) z += w[i]! * x[i]!;
  for (let i = 0; i < n; i++) z += w[n + i]! * (x[i]! * multi);
  return z + w[2 * n]! * s.classifier;
}

export function matchLogit(s: MatchSignals, model: RankerModel = DEFAULT_MODEL): number {
  return matchLogitOf(featureVector(s), model);
}

function matchLogitOf(x: number[], model: RankerModel): number {
  let z = model.match.bias;
  for (let i = 0; i < x.length; i++) z += model.match.weights[i]! * x[i]!;
  return z;
}

/**
 * Scores candidates and sorts them by the ranking model, best first. `match` (the
 * pair model, also used for question-pair scoring) is reported alongside.
 */
export function scoreCandidates(
  q: PreparedQuery,
  candidates: CandidateEntry[],
  stats: TermStats,
  config: ScorerConfig = DEFAULT_SCORER,
  model: RankerModel = DEFAULT_MODEL,
): ScoredCandidate[] {
  const out: ScoredCandidate[] = [];
  const vectorsByKey = new Map<number, SparseVec[]>();
  for (const c of candidates) {
    if (c.weighedAt !== stats.generation) {
      c.vectors = undefined;
      c.entries = undefined;
      c.centroid = undefined;
      c.weighedAt = stats.generation;
    }
    if (!c.vectors) {
      c.vectors = (c.bags ??= c.phrasings.map((p) => bagOf(p))).map((b) => weigh(b, stats, config));
      c.entries = undefined;
      c.uses = 0;
    }
    const vecs = c.vectors;
    if (c.entries && !numbered(c.entries)) c.entries = undefined;
    if (!c.entries && (c.uses = (c.uses ?? 0) + 1) > 1) c.entries = vecs.map(phrasingEntriesOf);
    vectorsByKey.set(c.key, vecs);
    const cen = vecs.length > 1 ? (c.centroid ??= centroid(vecs)) : undefined;
    const chars = (c.chars ??= new Array<Int32Array | undefined>(c.phrasings.length));
    const { best, signals } = signalsFor(q, vecs, c.phrasings, c.dense, cen, chars, c.entries);
    const x = featureVector(signals);
    const logit = rankLogitOf(x, signals, model);
    out.push({ key: c.key, bestPhrasing: best, signals, logit, evidence: logit, match: sigmoid(matchLogitOf(x, model)) });
  }
  out.sort((a, b) => b.logit - a.logit);
  // Second stage: the classifier over the best candidates that have alternatives.
  const wClf = model.rank.weights[CLASSIFIER_FEATURE] ?? 0;
  if (wClf === 0) return out;
  const top = out.slice(0, DEFAULT_CLASSIFIER.candidates).filter((r) => r.signals.phrasings > 1);
  if (top.length < 2) return out;
  const scores = classifierScores(q.vec, top.map((r) => vectorsByKey.get(r.key)!));
  top.forEach((r, i) => {
    r.signals.classifier = scores[i]!;
    r.logit += wClf * scores[i]!;
  });
  return out.sort((a, b) => b.logit - a.logit);
}

/**
 * Calibrated confidence of each ranked candidate: the probability that it is a
 * match at all (from `evidence`), times its share among the candidates (softmax of ranking logits at
 * a fitted temperature). A strong, unrivalled match is trusted; two near-equal
 * candidates split the confidence, which is what "did you mean" is for; an
 * off-topic question has no strong match, however far ahead its best candidate is.
 * The share of the question's weight that no entry contains scales everything
 * down (power `unknownPower`): nothing in the knowledge base vouches for it.
 */
export function confidences(ranked: ScoredCandidate[], model: RankerModel = DEFAULT_MODEL): number[] {
  if (ranked.length === 0) return [];
  const { scale, bias, temperature, unknownPower } = model.confidence;
  const top = ranked[0]!.logit;
  let sum = 0;
  for (const r of ranked) sum += Math.exp((r.logit - top) / temperature);
  // The absolute term uses the evidence (logit without the classifier): the classifier reorders the top
  // entries, it does not vouch for a match (with it, the demo shop KB answered 10/18 off-topic questions, vs 7).
  return ranked.map(
    (r) => sigmoid(scale * r.evidence + bias) * (Math.exp((r.logit - top) / temperature) / sum) * Math.pow(1 - Math.min(r.signals.unknown, 1), unknownPower),
  );
}
