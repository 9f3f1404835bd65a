/**
 * Weights of the two models behind every score. Fitted by
 * `bun bench/lib/fit-ranker.ts` on the development sets (English FAQ with
 * out-of-scope queries, Chinese paraphrase retrieval, Chinese question pairs);
 * the features are language- and data-set-agnostic (see `featureVector` in
 * scorer.ts) and sign-constrained (`FEATURE_SIGNS`).
 */
export interface RankerModel {
  /** Match probability of one (query, entry) pair from its signals: sigmoid(bias + weights · featureVector). */
  match: { bias: number; weights: number[] };
  /**
   * Ranking of a query's candidates: bias + weights · rankFeatures, fitted listwise
   * (softmax over each query's candidates) on retrieval only, so it optimizes the
   * order rather than pair probabilities; confidence is calibrated on it.
   */
  rank: { bias: number; weights: number[] };
  /**
   * Confidence = sigmoid(scale · rank logit without the classifier term + bias) × softmax share of the logit at `temperature`
   * × (1 − unknown share of the query)^unknownPower (see `confidences`).
   */
  confidence: { scale: number; bias: number; temperature: number; unknownPower: number };
}

export const DEFAULT_MODEL: RankerModel = {
  match: {
    bias: -4.4583,
    weights: [0, 5.6678, 0.6402, 0, 0.7449, 0.3456, 0, -1.4355, 0, 0, 0, 0, 8.2008, 26.0231, 0, 0, 0],
  },
  rank: {
    bias: 0,
    weights: [0.537,0.2356,5.4083,0,0.3859,2.6426,0,0,0,0,10.2886,0,3.1324,21.2793,0,0,-3.7406,2.1648,1.483,1.5655,1.5464,1.1452,-0.1569,0,0,-13.4093,1.5451,0,0,2.761,-3.6323,3.2511,0.3191,3.1517,0.8513],
  },
  // Set, not grid-fitted: the log-likelihood fit on the big dev KBs drives scale to 0, which lets a tiny KB answer
  // off-topic questions directly; 0.5 / -3.5 costs nothing on clinc (see src/kb/README.md, "Thresholds").
  confidence: { scale: 0.5, bias: -3.5, temperature: 1, unknownPower: 1 },
};
