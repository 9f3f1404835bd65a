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
   * Confidence = sigmoid(scale · logit + bias) × softmax share of the logit at `temperature`
   * × (1 − unknown share of the query)^unknownPower (see `confidences`).
   */
  confidence: { scale: number; bias: number; temperature: number; unknownPower: number };
}

export const DEFAULT_MODEL: RankerModel = {
  match: {
    bias: -4.4583,
    weights: [0, 5.6678, 0.6402, 0, 0.7449, 0.3456, 0, -1.4355, 0, 0, 0, 0, 8.2008, 26.0231, 0, 0, 0],
  },
  confidence: { scale: 0.5, bias: 2.5, temperature: 0.75, unknownPower: 0.5 },
};
