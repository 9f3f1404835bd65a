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
  /** Confidence of a ranked result from its match logit and its lead over the best rival. */
  confidence: { bias: number; wMatch: number; wLead: number; soloLead: number };
}

export const DEFAULT_MODEL: RankerModel = {
  match: { bias: -6, weights: [4, 4, 1, 1, 2, 0, -2, 0, 0, 0] },
  confidence: { bias: 0, wMatch: 1, wLead: 1, soloLead: 4 },
};
