/**
 * Weights of the pair model (`pair-scorer.ts`): sigmoid(bias + Σ weights[f] · feature f),
 * features named as in `PAIR_FEATURES`; a missing weight is 0. Fitted by
 * `bun bench/lib/fit-pairs.ts` (logistic regression, L2 1e-3, on pairs-bq-dev; the
 * cross-validated AUC it prints is the figure to trust, see src/kb/README.md).
 */
export interface PairModel {
  bias: number;
  weights: Record<string, number>;
}

/**
 * Fitted on pairs-bq-dev (4,000 pairs): in-sample AUC 0.8053, 5-fold CV 0.8013 (pooled; folds
 * 0.786–0.822), 2-fold CV 0.8017. Negative weights on exact-overlap features next to large positive
 * ones on the soft (distributional) coverages encode "similar characters count, not only identical
 * ones"; identical texts still score ≈ 1 (tested). `engine` (the old score) gets 0.
 */
export const PAIR_MODEL: PairModel = {
  bias: 0.1872,
  weights: {
    engineCanon: 0.4154,
    dense: -0.8457,
    cos1: -1.4042,
    cos2: 0.7843,
    cos2sqrt: -4.0292,
    jac1: -0.312,
    covMin: -1.0665,
    covMax: -1.0031,
    cov2Min: -2.4063,
    lcs: 0.8057,
    substr: -1.7733,
    edit: 1.1013,
    lenGap: -0.06,
    restCountMin: -0.0642,
    negMismatch: -0.5219,
    softMin: 3.7447,
    softMax: 2.6581,
    soft2Min: 5.5101,
    soft2Max: 1.5421,
  },
};
