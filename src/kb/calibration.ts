/**
 * Confidence as a probability: a logistic model over what the ranking says about
 * the top entry (how strong, how far ahead of the runner-up, how much of the
 * question it covers, how much of the question the knowledge base has never seen)
 * estimates the probability that the top entry is the right answer. Fitted per
 * knowledge base (`calibration-job.ts`) around a shipped prior (`PRIOR_CALIBRATOR`).
 * Pure: no I/O.
 */
import type { ScoredCandidate } from "./scorer.ts";

export interface Calibrator {
  bias: number;
  /** One weight per `calibrationFeatures` entry. */
  weights: number[];
}

/** Names of `calibrationFeatures`, in order (for docs, fitting output and tests). */
export const CALIBRATION_FEATURES = [
  "evidence",
  "margin",
  "share",
  "query_coverage",
  "phrasing_coverage",
  "order",
  "length_gap",
  "unknown",
  "match",
  "dense",
  "multi_phrasing",
  "classifier",
  "pair",
  "exact",
] as const;

/**
 * Sign of each weight when fitting (0: free): more evidence, margin, coverage or agreement can never lower
 * the confidence, more unknown words or a larger length gap never raise it. Without this, correlated
 * features get offsetting weights, and an exact match could score lower than a loose one.
 */
export const CALIBRATION_SIGNS = [1, 1, 1, 1, 1, 1, -1, -1, 1, 1, 0, 1, 1, 1];

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const logit = (p: number) => Math.log(clamp(p, 1e-6, 1 - 1e-6) / (1 - clamp(p, 1e-6, 1 - 1e-6)));

/** Softmax share of each ranked candidate's ranking logit (temperature 1). */
export function shares(ranked: ScoredCandidate[]): number[] {
  if (ranked.length === 0) return [];
  const top = ranked[0]!.logit;
  const e = ranked.map((r) => Math.exp(r.logit - top));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

/**
 * What the calibrator sees of a ranking (sorted best first, at least one entry).
 * Scaled to roughly unit ranges so one prior strength fits every weight.
 */
export function calibrationFeatures(ranked: ScoredCandidate[], pairLogit: number): number[] {
  const top = ranked[0]!;
  const s = top.signals;
  const second = ranked[1];
  return [
    clamp(top.evidence / 10, -3, 4),
    second ? clamp(top.logit - second.logit, 0, 20) / 10 : 2,
    shares(ranked)[0]!,
    s.queryCoverage,
    s.phrasingCoverage,
    s.order,
    Math.min(s.lengthGap, 3),
    Math.min(s.unknown, 1),
    logit(top.match) / 10,
    s.dense,
    s.phrasings > 1 ? 1 : 0,
    clamp(s.classifier, -2, 2),
    clamp(pairLogit, -20, 20) / 10,
    // The question is one of the entry's phrasings, letter for letter (punctuation and case aside).
    s.order >= EXACT_ORDER ? 1 : 0,
  ];
}

export function predict(cal: Calibrator, x: number[]): number {
  let z = cal.bias;
  for (let i = 0; i < x.length; i++) z += (cal.weights[i] ?? 0) * x[i]!;
  return sigmoid(z);
}

/**
 * Confidence of every ranked candidate: the top's is the calibrated probability that
 * it is the right answer; a runner-up's is that probability scaled by its softmax
 * share relative to the top's (how much of the ranking's belief it holds).
 */
export function calibratedConfidences(ranked: ScoredCandidate[], pairLogit: number, cal: Calibrator): number[] {
  if (ranked.length === 0) return [];
  const x = calibrationFeatures(ranked, pairLogit);
  const sh = shares(ranked);
  // A question typed exactly as the top entry phrases it, and as no other entry does, is that entry's question:
  // the shop wrote it. (The fitted model alone cannot promise this: on the Chinese dev sets identical text is
  // often filed under another id, so "exact" earns no weight there.)
  const exact = x[EXACT_FEATURE] === 1 && !(ranked[1] && ranked[1].signals.order >= EXACT_ORDER);
  const p = exact ? Math.max(predict(cal, x), EXACT_CONFIDENCE) : predict(cal, x);
  return sh.map((s, i) => (i === 0 ? p : Math.min(p, p * (s / sh[0]!))));
}

/**
 * The pair logit at which `calibratedConfidences` is highest under `cal` (the feature is clamped to ±20): with it,
 * every confidence is at least the exact one, since each is non-decreasing in the pair term's contribution.
 */
export function maximizingPair(cal: Calibrator): number {
  return (cal.weights[PAIR_FEATURE] ?? 0) >= 0 ? 20 : -20;
}

const EXACT_ORDER = 0.999;
const PAIR_FEATURE = CALIBRATION_FEATURES.indexOf("pair");
const EXACT_FEATURE = CALIBRATION_FEATURES.indexOf("exact");
/** Confidence of an exact, unrivalled phrasing match. */
export const EXACT_CONFIDENCE = 0.99;

export interface Sample {
  x: number[];
  /** 1: the top entry was the right answer. */
  y: 0 | 1;
  /** Weight in the likelihood (classes are balanced by the caller). */
  w: number;
}

/**
 * Maximum a posteriori logistic regression: weighted log-likelihood of `samples`
 * plus a Gaussian prior centred on `prior` (precision `strength` per weight, a
 * tenth of it on the bias). Newton's method: a dozen features, converges in a few
 * steps, deterministic. With no samples the prior comes back unchanged.
 */
export function fitCalibrator(samples: Sample[], prior: Calibrator, strength: number, iterations = 40): Calibrator {
  const d = prior.weights.length + 1;
  const signs = [0, ...CALIBRATION_SIGNS];
  const mean = [prior.bias, ...prior.weights];
  const precision = mean.map((_, i) => (i === 0 ? strength / 10 : strength));
  const beta = mean.map((b, i) => project(b, signs[i]!));
  for (let it = 0; it < iterations; it++) {
    const grad = beta.map((b, i) => precision[i]! * (b - mean[i]!));
    const hess = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? precision[i]! : 0)));
    for (const s of samples) {
      const x = [1, ...s.x];
      let z = 0;
      for (let i = 0; i < d; i++) z += beta[i]! * x[i]!;
      const p = sigmoid(z);
      const g = s.w * (p - s.y);
      const h = s.w * Math.max(p * (1 - p), 1e-9);
      for (let i = 0; i < d; i++) {
        grad[i]! += g * x[i]!;
        const hi = hess[i]!;
        for (let j = 0; j <= i; j++) hi[j]! += h * x[i]! * x[j]!;
      }
    }
    for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) hess[j]![i] = hess[i]![j]!;
    // Projected Newton: weights held at 0 by their sign (the gradient pushes them across) stay out of the step.
    const free = beta.map((b, i) => !(signs[i] !== 0 && b === 0 && signs[i]! * grad[i]! > 0));
    const idx = free.flatMap((f, i) => (f ? [i] : []));
    const step = solve(idx.map((i) => idx.map((j) => hess[i]![j]!)), idx.map((i) => grad[i]!));
    // Backtracking: a full Newton step from a poor start can overshoot into the flat part of the sigmoid and run
    // away (a one-entry knowledge base whose few heavy in-scope samples look like background questions fitted a
    // bias of +199: every question became a verbatim answer). Halve the step until the objective does not rise.
    const before = objective(samples, beta, mean, precision);
    let trial = beta;
    for (let t = 1, tries = 0; tries < 40; t /= 2, tries++) {
      trial = beta.slice();
      idx.forEach((i, k) => {
        trial[i] = project(beta[i]! - t * step[k]!, signs[i]!);
      });
      if (objective(samples, trial, mean, precision) <= before) break;
    }
    let size = 0;
    for (let i = 0; i < d; i++) size = Math.max(size, Math.abs(trial[i]! - beta[i]!));
    beta.splice(0, d, ...trial);
    if (size < 1e-6) break;
  }
  return { bias: round(beta[0]!), weights: beta.slice(1).map(round) };
}

/** Negative log posterior (up to a constant) of the weights `beta` (bias first). */
function objective(samples: Sample[], beta: number[], mean: number[], precision: number[]): number {
  let f = 0;
  for (let i = 0; i < beta.length; i++) f += 0.5 * precision[i]! * (beta[i]! - mean[i]!) ** 2;
  for (const s of samples) {
    let z = beta[0]!;
    for (let i = 0; i < s.x.length; i++) z += beta[i + 1]! * s.x[i]!;
    // -log p(y | z), computed without overflow: softplus(-z) for y = 1, softplus(z) for y = 0.
    const m = s.y ? -z : z;
    f += s.w * (m > 0 ? m + Math.log1p(Math.exp(-m)) : Math.log1p(Math.exp(m)));
  }
  return f;
}

const project = (w: number, sign: number) => (sign > 0 ? Math.max(0, w) : sign < 0 ? Math.min(0, w) : w);

const round = (x: number) => Math.round(x * 1e4) / 1e4;

/** Gaussian elimination with partial pivoting (the Hessian is positive definite: the prior adds to its diagonal). */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[piv]![c]!)) piv = r;
    [m[c], m[piv]] = [m[piv]!, m[c]!];
    const pc = m[c]![c]!;
    for (let r = c + 1; r < n; r++) {
      const f = m[r]![c]! / pc;
      if (f === 0) continue;
      for (let k = c; k <= n; k++) m[r]![k]! -= f * m[c]![k]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = m[r]![n]!;
    for (let k = r + 1; k < n; k++) s -= m[r]![k]! * x[k]!;
    x[r] = s / m[r]![r]!;
  }
  return x;
}

/**
 * Shipped prior: fitted by `bun bench/lib/fit-calibration.ts` on the development
 * sets (English and Chinese, small and large knowledge bases): each set's own
 * knowledge-base samples and its labelled queries, weighted equally per set. A
 * knowledge base starts from it and moves away only as far as its own samples
 * show (`CalibrationOptions.strength`).
 */
export const PRIOR_CALIBRATOR: Calibrator = {
  bias: -1.5497,
  weights: [0, 1.7201, 1.6463, 0, 0, 0.4952, 0, -0.5764, 2.3849, 0, -1.0084, 0.2328, 0.8938, 0],
};
