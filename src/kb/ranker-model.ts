/**
 * Weights of the two logistic models behind every score. Fitted by
 * `bun bench/lib/fit-ranker.ts` on the development sets (English FAQ with
 * out-of-scope queries, Chinese paraphrase retrieval, Chinese question pairs) and
 * checked by cross-validation; the features are language- and data-set-agnostic
 * (see `featureVector` in scorer.ts).
 */
export interface RankerModel {
  /** Match probability of one (query, entry) pair from its signals. */
  match: { bias: number; weights: number[] };
  /** Confidence of a ranked result from `confidenceInputs` (match logit, lead over the best rival, ...). */
  confidence: { bias: number; weights: number[]; soloLead: number };
}

export const DEFAULT_MODEL: RankerModel = {
  match: {
    bias: -4.3958,
    weights: [0, 6.0126, 0.5822, 0, 0.7251, 0, 0, -1.4474, 0, 0, 0, 0, 8.2965, 25.7373, 0, 0, 0],
  },
  confidence: { bias: -0.893, weights: [0.1179, 0.9465, -0.1288, 0.5147], soloLead: 4 },
};
