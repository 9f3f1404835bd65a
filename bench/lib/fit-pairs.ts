/**
 * Fits the pair model in src/kb/pair-model.ts on a pairs.tsv development set and
 * prints per-feature AUC, in-sample AUC and k-fold cross-validated AUC (weights
 * fitted on the other folds; corpus statistics from the whole file, as at scoring
 * time, since they use no labels), then the stricter held-out simulation where
 * each split also gets statistics from its own texts only (STRICT=0 skips it). Run: `bun bench/lib/fit-pairs.ts [evalDir] [set]`.
 * Env: FEATURES=name,name (subset; default every feature but "engine"), FOLDS=5, L2=1e-3,
 * ERRORS=1 (worst cross-validated mistakes). Paste the printed model into src/kb/pair-model.ts.
 */
import { resolve } from "node:path";
import { HashEmbedder, cosine } from "../../src/kb/embedder.ts";
import { memoryTermStats, parsePairs, rocAuc } from "../../src/kb/eval.ts";
import { PAIR_FEATURES, PairCorpusStats, pairFeatures } from "../../src/kb/pair-scorer.ts";

const evalDir = resolve(process.argv[2] ?? `${import.meta.dir}/../../../shared/eval`);
const set = process.argv[3] ?? "pairs-bq-dev";
const pairs = parsePairs(await Bun.file(`${evalDir}/${set}/pairs.tsv`).text());
const emb = new HashEmbedder();
/** Feature rows of some pairs, with corpus statistics from those pairs' texts only. */
async function featureRows(ps: { a: string; b: string }[]): Promise<number[][]> {
  const texts = new Set(ps.flatMap((p) => [p.a, p.b]));
  const ctx = { stats: new PairCorpusStats(texts), termStats: memoryTermStats(texts) };
  const out: number[][] = [];
  for (const p of ps) {
    const [va, vb] = await emb.embed([p.a, p.b]);
    out.push(pairFeatures(p.a, p.b, ctx, cosine(va!, vb!)));
  }
  return out;
}
const X = await featureRows(pairs);
const y = pairs.map((p) => p.label);
const names = [...PAIR_FEATURES];
const chosen = (process.env.FEATURES ? process.env.FEATURES.split(",") : names.filter((n) => n !== "engine")).map((n) => names.indexOf(n as never));
if (chosen.some((i) => i < 0)) throw new Error(`unknown feature; known: ${names.join(",")}`);

for (const [i, n] of names.entries()) {
  const auc = rocAuc(X.map((x) => x[i]!), y);
  console.log(`${n.padEnd(12)} AUC ${Math.max(auc, 1 - auc).toFixed(4)}${auc < 0.5 ? " (inverse)" : ""}`);
}

const sig = (z: number) => 1 / (1 + Math.exp(-z));

/** L2-regularized logistic regression on standardized features (Newton-free: Adam, full batch). */
export function fitLogistic(rows: number[][], labels: number[], l2: number, iters = 600, signs?: number[]) {
  const d = rows[0]!.length;
  const mean = new Float64Array(d);
  const std = new Float64Array(d);
  for (const x of rows) for (let i = 0; i < d; i++) mean[i]! += x[i]! / rows.length;
  for (const x of rows) for (let i = 0; i < d; i++) std[i]! += (x[i]! - mean[i]!) ** 2 / rows.length;
  for (let i = 0; i < d; i++) std[i] = Math.sqrt(std[i]!) || 1;
  const Z = rows.map((x) => x.map((v, i) => (v - mean[i]!) / std[i]!));
  const th = new Float64Array(d + 1);
  const m1 = new Float64Array(d + 1);
  const m2 = new Float64Array(d + 1);
  for (let it = 1; it <= iters; it++) {
    const g = new Float64Array(d + 1);
    for (let k = 0; k < Z.length; k++) {
      const z = Z[k]!;
      let s = th[d]!;
      for (let i = 0; i < d; i++) s += th[i]! * z[i]!;
      const e = (sig(s) - labels[k]!) / Z.length;
      for (let i = 0; i < d; i++) g[i]! += e * z[i]!;
      g[d]! += e;
    }
    for (let i = 0; i <= d; i++) {
      const gi = g[i]! + (i < d ? l2 * th[i]! : 0);
      m1[i] = 0.9 * m1[i]! + 0.1 * gi;
      m2[i] = 0.999 * m2[i]! + 0.001 * gi * gi;
      th[i]! -= (0.05 * (m1[i]! / (1 - 0.9 ** it))) / (Math.sqrt(m2[i]! / (1 - 0.999 ** it)) + 1e-8);
      const sg = i < d ? (signs?.[i] ?? 0) : 0;
      if (sg > 0) th[i] = Math.max(th[i]!, 0);
      else if (sg < 0) th[i] = Math.min(th[i]!, 0);
    }
  }
  const w = [...th.slice(0, d)].map((v, i) => v / std[i]!);
  const b = th[d]! - w.reduce((s, v, i) => s + v * mean[i]!, 0);
  return { w, b };
}

const pick = (x: number[]) => chosen.map((i) => x[i]!);
const rows = X.map(pick);
const l2 = Number(process.env.L2 ?? 1e-3);
/** SIGNS=1: more similarity may never lower the score, more difference never raise it (as FEATURE_SIGNS in scorer.ts). */
const NEGATIVE = new Set(["lenGap", "restCountMin", "negMismatch"]);
const signs = process.env.SIGNS === "1" ? chosen.map((i) => (NEGATIVE.has(names[i]!) ? -1 : 1)) : undefined;
const folds = Number(process.env.FOLDS ?? 5);
const score = (m: { w: number[]; b: number }, x: number[]) => x.reduce((s, v, i) => s + v * m.w[i]!, m.b);
// Folds by a fixed shuffle of pair indices (the file may be ordered).
const order = pairs.map((_, i) => i).sort((a, b) => ((a * 2654435761) % 4294967296) - ((b * 2654435761) % 4294967296));
const fold = new Int32Array(pairs.length);
order.forEach((idx, r) => (fold[idx] = r % folds));
const cvScores = new Array<number>(pairs.length).fill(0);
const foldAucs: number[] = [];
for (let f = 0; f < folds; f++) {
  const tr = rows.map((_, i) => i).filter((i) => fold[i] !== f);
  const te = rows.map((_, i) => i).filter((i) => fold[i] === f);
  const m = fitLogistic(tr.map((i) => rows[i]!), tr.map((i) => y[i]!), l2, 600, signs);
  for (const i of te) cvScores[i] = score(m, rows[i]!);
  foldAucs.push(rocAuc(te.map((i) => cvScores[i]!), te.map((i) => y[i]!)));
}
const full = fitLogistic(rows, y, l2, 600, signs);
const inSample = rocAuc(rows.map((x) => score(full, x)), y);
console.log(`features: ${chosen.map((i) => names[i]).join(",")}`);
console.log(`in-sample AUC ${inSample.toFixed(4)}; ${folds}-fold CV AUC (pooled) ${rocAuc(cvScores, y).toFixed(4)}, per fold ${foldAucs.map((a) => a.toFixed(4)).join(" ")}`);
const round = (v: number) => Math.round(v * 1e4) / 1e4;
if (process.env.STRICT !== "0") {
  const strict: number[] = [];
  for (let f = 0; f < folds; f++) {
    const tr = pairs.map((_, i) => i).filter((i) => fold[i] !== f);
    const te = pairs.map((_, i) => i).filter((i) => fold[i] === f);
    const m = fitLogistic((await featureRows(tr.map((i) => pairs[i]!))).map(pick), tr.map((i) => y[i]!), l2, 600, signs);
    const xs = (await featureRows(te.map((i) => pairs[i]!))).map(pick);
    strict.push(rocAuc(xs.map((x) => score(m, x)), te.map((i) => y[i]!)));
  }
  console.log(`${folds}-fold CV, each split with its own statistics: ${strict.map((a) => a.toFixed(4)).join(" ")}, mean ${(strict.reduce((s, a) => s + a, 0) / folds).toFixed(4)}`);
}
const weights = Object.fromEntries(chosen.map((i, k) => [names[i]!, round(full.w[k]!)]));
console.log(`mean per-fold AUC ${(foldAucs.reduce((s, a) => s + a, 0) / folds).toFixed(4)}`);
console.log(JSON.stringify({ bias: round(full.b), weights }));
if (process.env.ERRORS) {
  const ranked = pairs.map((p, i) => ({ p, s: cvScores[i]! })).sort((a, b) => a.s - b.s);
  console.log("--- lowest-scored positives");
  for (const r of ranked.filter((r) => r.p.label === 1).slice(0, 25)) console.log(r.s.toFixed(2), r.p.a, "|", r.p.b);
  console.log("--- highest-scored negatives");
  for (const r of ranked.filter((r) => r.p.label === 0).slice(-25)) console.log(r.s.toFixed(2), r.p.a, "|", r.p.b);
}
