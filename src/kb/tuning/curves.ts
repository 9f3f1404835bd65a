/**
 * What a pair of thresholds would do, estimated two ways:
 * - from the knowledge base's own calibration samples (`calibration-job.ts`: its alternative phrasings asked
 *   leave-one-out, its questions asked with their entry left out, generic background questions), scored with
 *   the calibrator in force and weighed as the fit weighs them (answerable and unanswerable questions half each);
 * - from a saved batch run's outcomes (the shop's own questions, at the knowledge-base version of that run).
 * The calibration estimate is made on the samples the calibrator was fitted to, so it leans optimistic.
 */
import { CALIBRATION_FEATURES, type Calibrator, EXACT_CONFIDENCE, predict } from "../calibration.ts";
import { type CollectedSample, weighted } from "../calibration-job.ts";
import type { Thresholds } from "../types.ts";

/** The `direct` values a curve is drawn at: 0.05 to 0.99 in steps of 0.01. */
export const DIRECT_GRID = Array.from({ length: 95 }, (_, i) => Math.round((0.05 + i * 0.01) * 100) / 100);

export interface ScoredSample {
  confidence: number;
  /** The top entry is the right one (an answerable question ranked right). */
  right: boolean;
  /** The knowledge base answers it (its entry is in). */
  inScope: boolean;
  w: number;
}

const EXACT = CALIBRATION_FEATURES.indexOf("exact");
const round = (x: number) => Math.round(x * 10_000) / 10_000;

/** Each sample's confidence under `calibrator` (with the exact-match floor the engine applies), and its weight. */
export function scoreSamples(samples: CollectedSample[], calibrator: Calibrator): ScoredSample[] {
  const w = weighted(samples);
  return samples.map((s, i) => {
    const p = predict(calibrator, s.x);
    return { confidence: s.x[EXACT] === 1 ? Math.max(p, EXACT_CONFIDENCE) : p, right: s.y === 1, inScope: s.inScope, w: w[i]!.w };
  });
}

export interface Estimate {
  /** Of the verbatim answers, the share that is right (null: none at this threshold). */
  precision: number | null;
  /** Share of all questions answered verbatim. */
  coverage: number;
  /** Of the unanswerable questions, the share answered verbatim anyway (null: no such question). */
  false_direct_rate: number | null;
  /** Share offered choices or sent to the LLM (suggest ≤ confidence < direct). */
  suggest_share: number;
  /** Share below suggest (the fallback reply, or the LLM without choices). */
  below_suggest_share: number;
}

/** Weighted estimate at one point; `ScoredSample`s with weight 1 each give plain shares (a batch run). */
export function estimateAt(samples: ScoredSample[], t: Thresholds): Estimate {
  let total = 0;
  let direct = 0;
  let directRight = 0;
  let outTotal = 0;
  let outDirect = 0;
  let band = 0;
  for (const s of samples) {
    total += s.w;
    if (!s.inScope) outTotal += s.w;
    if (s.confidence >= t.direct) {
      direct += s.w;
      if (s.right) directRight += s.w;
      if (!s.inScope) outDirect += s.w;
    } else if (s.confidence >= t.suggest) band += s.w;
  }
  return {
    precision: direct > 0 ? round(directRight / direct) : null,
    coverage: total > 0 ? round(direct / total) : 0,
    false_direct_rate: outTotal > 0 ? round(outDirect / outTotal) : null,
    suggest_share: total > 0 ? round(band / total) : 0,
    below_suggest_share: total > 0 ? round((total - direct - band) / total) : 0,
  };
}

export interface CurvePoint {
  direct: number;
  precision: number | null;
  coverage: number;
  false_direct_rate: number | null;
}

export function curve(samples: ScoredSample[]): CurvePoint[] {
  return DIRECT_GRID.map((direct) => {
    const e = estimateAt(samples, { direct, suggest: 0 });
    return { direct, precision: e.precision, coverage: e.coverage, false_direct_rate: e.false_direct_rate };
  });
}
