/**
 * Fits the weights in src/kb/ranker-model.ts on the development sets and prints
 * them. Run: `bun bench/lib/fit-ranker.ts [evalDir]` (default ../shared/eval).
 *
 * Match model: shared weights trained with a listwise loss (softmax over each
 * query's candidates, so ranking is what is optimized) plus a pointwise logistic
 * loss on question pairs and on candidates (which fixes the scale: `match` is a
 * probability). Confidence model: logistic regression on (match logit, lead over
 * best rival) of the top results, where out-of-scope queries are all negatives.
 * 5-fold cross-validation by query reports figures for weights that did not see
 * the query.
 */
import { resolve } from "node:path";
import { cosine, HashEmbedder } from "../../src/kb/embedder.ts";
import { loadKbCsv, memoryTermStats, openTempKb, parsePairs, parseQueries } from "../../src/kb/eval.ts";
import { DEFAULT_MODEL } from "../../src/kb/ranker-model.ts";
import {
  DEFAULT_SCORER,
  FEATURE_SIGNS,
  featureVector,
  type MatchSignals,
  prepareQuery,
  RANK_SIGNS,
  rankFeatures,
  signalsFor,
  vectorize,
} from "../../src/kb/scorer.ts";

const evalDir = resolve(process.argv[2] ?? `${import.meta.dir}/../../../shared/eval`);

interface Group {
  set: string;
  /** Candidate feature vectors; label index of the right one, -1 when none (out of scope / not retrieved). */
  xs: number[][];
  signals: MatchSignals[];
  right: number;
  oos: boolean;
}

async function collectQueries(set: string): Promise<Group[]> {
  // The classifier (second stage) runs only when its weight is non-zero: a negligible one makes the search
  // compute it for the fit without changing the order it is collected in.
  const w = DEFAULT_MODEL.rank.weights.slice(0, RANK_SIGNS.length - 1);
  const model = { ...DEFAULT_MODEL, rank: { bias: 0, weights: [...w, ...Array(RANK_SIGNS.length - 1 - w.length).fill(0), 1e-9] } };
  const kb = await openTempKb({ kb: { model } });
  await loadKbCsv(kb, await Bun.file(`${evalDir}/${set}/kb.csv`).text());
  const queries = parseQueries(await Bun.file(`${evalDir}/${set}/queries.jsonl`).text());
  const groups: Group[] = [];
  for (const q of queries) {
    const res = await kb.search(q.query, { k: 1000 });
    groups.push({
      set,
      xs: res.matches.map((m) => featureVector(m.signals)),
      signals: res.matches.map((m) => m.signals),
      right: q.expected === null ? -1 : res.matches.findIndex((m) => m.id === q.expected),
      oos: q.expected === null,
    });
  }
  kb.db.close();
  return groups;
}

async function collectPairs(set: string): Promise<{ x: number[]; y: number }[]> {
  const pairs = parsePairs(await Bun.file(`${evalDir}/${set}/pairs.tsv`).text());
  const stats = memoryTermStats(new Set(pairs.flatMap((p) => [p.a, p.b])));
  const emb = new HashEmbedder();
  const out: { x: number[]; y: number }[] = [];
  for (const p of pairs) {
    const [va, vb] = await emb.embed([p.a, p.b]);
    const q = prepareQuery(p.a, stats);
    const { signals } = signalsFor(q, [vectorize(p.b, stats, DEFAULT_SCORER)], [p.b], cosine(va!, vb!));
    out.push({ x: featureVector(signals), y: p.label });
  }
  return out;
}

const sig = (z: number) => 1 / (1 + Math.exp(-z));

function fitMatch(groups: Group[], pairs: { x: number[]; y: number }[], dim: number, opts = { iters: 300, lr: 0.05, l2: 1e-4 }) {
  // Standardize so one learning rate suits every feature; weights are mapped back at the end.
  const rows = [...groups.flatMap((g) => g.xs), ...pairs.map((p) => p.x)];
  const mean = new Float64Array(dim);
  const std = new Float64Array(dim);
  for (const x of rows) for (let i = 0; i < dim; i++) mean[i]! += x[i]! / rows.length;
  for (const x of rows) for (let i = 0; i < dim; i++) std[i]! += (x[i]! - mean[i]!) ** 2 / rows.length;
  for (let i = 0; i < dim; i++) std[i] = Math.sqrt(std[i]!) || 1;
  const z = (x: number[]) => x.map((v, i) => (v - mean[i]!) / std[i]!);
  const G = groups.filter((g) => g.xs.length).map((g) => ({ ...g, xs: g.xs.map(z) }));
  const P = pairs.map((p) => ({ x: z(p.x), y: p.y }));
  const setWeight = new Map<string, number>();
  for (const g of G) setWeight.set(g.set, (setWeight.get(g.set) ?? 0) + 1);
  const nSets = setWeight.size + (P.length ? 1 : 0);
  const theta = new Float64Array(dim + 1); // last = bias
  const m1 = new Float64Array(dim + 1);
  const m2 = new Float64Array(dim + 1);
  for (let it = 1; it <= opts.iters; it++) {
    const g = new Float64Array(dim + 1);
    const lin = (x: number[]) => x.reduce((s, v, i) => s + v * theta[i]!, theta[dim]!);
    for (const q of G) {
      const sw = 1 / setWeight.get(q.set)! / nSets;
      const zs = q.xs.map(lin);
      if (q.right >= 0) {
        const m = Math.max(...zs);
        const es = zs.map((v) => Math.exp(v - m));
        const s = es.reduce((a, c) => a + c, 0);
        q.xs.forEach((x, k) => {
          const d = (es[k]! / s - (k === q.right ? 1 : 0)) * sw;
          for (let i = 0; i < dim; i++) g[i]! += d * x[i]!;
        });
      }
      // Pointwise on the top few: fixes the probability scale and teaches "none of these".
      const order = zs.map((_, k) => k).sort((a, c) => zs[c]! - zs[a]!).slice(0, 3);
      for (const k of order) {
        const d = (sig(zs[k]!) - (k === q.right ? 1 : 0)) * sw * 0.5;
        for (let i = 0; i < dim; i++) g[i]! += d * q.xs[k]![i]!;
        g[dim]! += d;
      }
    }
    for (const p of P) {
      const d = (sig(lin(p.x)) - p.y) / P.length / nSets;
      for (let i = 0; i < dim; i++) g[i]! += d * p.x[i]!;
      g[dim]! += d;
    }
    for (let i = 0; i <= dim; i++) {
      const gi = g[i]! + (i < dim ? opts.l2 * theta[i]! : 0);
      m1[i] = 0.9 * m1[i]! + 0.1 * gi;
      m2[i] = 0.999 * m2[i]! + 0.001 * gi * gi;
      theta[i]! -= (opts.lr * (m1[i]! / (1 - 0.9 ** it))) / (Math.sqrt(m2[i]! / (1 - 0.999 ** it)) + 1e-8);
      if (i < dim) theta[i] = project(theta[i]!, FEATURE_SIGNS[i] ?? 0);
    }
  }
  const w = [...theta.slice(0, dim)].map((v, i) => v / std[i]!);
  const b = theta[dim]! - w.reduce((s, v, i) => s + v * mean[i]!, 0);
  return { w, b };
}

/**
 * Ranking model: listwise loss only (softmax over each query's candidates, the
 * data sets weighted equally), sign-constrained by `RANK_SIGNS`. Shift-invariant,
 * so the bias is 0 and the confidence model fixes the probability scale.
 */
function fitRank(groups: Group[], opts = { iters: 300, lr: 0.05, l2: 1e-4 }) {
  const G0 = groups.filter((g) => g.right >= 0).map((g) => ({ set: g.set, right: g.right, xs: g.signals.map(rankFeatures) }));
  const dim = G0[0]!.xs[0]!.length;
  const rows = G0.flatMap((g) => g.xs);
  const mean = new Float64Array(dim);
  const std = new Float64Array(dim);
  for (const x of rows) for (let i = 0; i < dim; i++) mean[i]! += x[i]! / rows.length;
  for (const x of rows) for (let i = 0; i < dim; i++) std[i]! += (x[i]! - mean[i]!) ** 2 / rows.length;
  for (let i = 0; i < dim; i++) std[i] = Math.sqrt(std[i]!) || 1;
  const G = G0.map((g) => ({ ...g, xs: g.xs.map((x) => x.map((v, i) => (v - mean[i]!) / std[i]!)) }));
  const setWeight = new Map<string, number>();
  for (const g of G) setWeight.set(g.set, (setWeight.get(g.set) ?? 0) + 1);
  const theta = new Float64Array(dim);
  const m1 = new Float64Array(dim);
  const m2 = new Float64Array(dim);
  for (let it = 1; it <= opts.iters; it++) {
    const g = new Float64Array(dim);
    for (const q of G) {
      const sw = 1 / setWeight.get(q.set)! / setWeight.size;
      const zs = q.xs.map((x) => x.reduce((s, v, i) => s + v * theta[i]!, 0));
      const m = Math.max(...zs);
      const es = zs.map((v) => Math.exp(v - m));
      const sum = es.reduce((a, c) => a + c, 0);
      q.xs.forEach((x, k) => {
        const d = (es[k]! / sum - (k === q.right ? 1 : 0)) * sw;
        for (let i = 0; i < dim; i++) g[i]! += d * x[i]!;
      });
    }
    for (let i = 0; i < dim; i++) {
      const gi = g[i]! + opts.l2 * theta[i]!;
      m1[i] = 0.9 * m1[i]! + 0.1 * gi;
      m2[i] = 0.999 * m2[i]! + 0.001 * gi * gi;
      theta[i]! -= (opts.lr * (m1[i]! / (1 - 0.9 ** it))) / (Math.sqrt(m2[i]! / (1 - 0.999 ** it)) + 1e-8);
      theta[i] = project(theta[i]!, RANK_SIGNS[i] ?? 0);
    }
  }
  // Standardized weights mapped back; the shift (mean) is a per-query constant and is dropped.
  return { w: [...theta].map((v, i) => v / std[i]!), b: 0 };
}

function project(w: number, sign: number): number {
  return sign > 0 ? Math.max(w, 0) : sign < 0 ? Math.min(w, 0) : w;
}

/** Grid search of the confidence parameters for the best log-likelihood on the top results. */
function fitConfidence(groups: Group[], match: { w: number[]; b: number }) {
  const data = groups
    .filter((g) => g.xs.length)
    .map((g) => {
      const zs = g.signals.map((sg) => rankFeatures(sg).reduce((s, v, i) => s + v * match.w[i]!, match.b));
      const order = zs.map((_, k) => k).sort((a, c) => zs[c]! - zs[a]!);
      return { zs: order.map((k) => zs[k]!), right: order.indexOf(g.right) };
    });
  let best = { scale: 1, bias: 0, temperature: 1, ll: -Infinity };
  for (const scale of [0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.35, 0.5, 0.75, 1, 1.25, 1.5, 2])
    for (let bias = -6; bias <= 6; bias += 0.5)
      for (const temperature of [0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4]) {
        let ll = 0;
        for (const d of data) {
          const top = d.zs[0]!;
          let sum = 0;
          for (const z of d.zs) sum += Math.exp((z - top) / temperature);
          for (let k = 0; k < Math.min(3, d.zs.length); k++) {
            const c = Math.min(Math.max(sig(scale * d.zs[k]! + bias) * (Math.exp((d.zs[k]! - top) / temperature) / sum), 1e-6), 1 - 1e-6);
            ll += k === d.right ? Math.log(c) : Math.log(1 - c);
          }
        }
        if (ll > best.ll) best = { scale, bias, temperature, ll };
      }
  return { scale: best.scale, bias: best.bias, temperature: best.temperature, unknownPower: 0.5 };
}

function topAccuracy(groups: Group[], match: { w: number[]; b: number }, feats: (s: MatchSignals) => number[] = rankFeatures): Map<string, { top1: number; n: number }> {
  const out = new Map<string, { top1: number; n: number }>();
  for (const g of groups) {
    if (g.oos) continue;
    const zs = g.signals.map((sg) => feats(sg).reduce((s, v, i) => s + v * (match.w[i] ?? 0), match.b));
    let best = -1;
    let bz = -Infinity;
    zs.forEach((z, k) => {
      if (z > bz) {
        bz = z;
        best = k;
      }
    });
    const r = out.get(g.set) ?? { top1: 0, n: 0 };
    r.n++;
    if (best === g.right && best >= 0) r.top1++;
    out.set(g.set, r);
  }
  return out;
}

const sets = ["clinc150-val", "lcqmc-dev"];
const groups = (await Promise.all(sets.map(collectQueries))).flat();
const pairs = await collectPairs("pairs-bq-dev");
const dim = groups.find((g) => g.xs.length)!.xs[0]!.length;
for (const s of sets) {
  const gs = groups.filter((g) => g.set === s && !g.oos);
  console.log(`${s}: candidate recall ${(gs.filter((g) => g.right >= 0).length / gs.length).toFixed(4)}, mean candidates ${(gs.reduce((a, g) => a + g.xs.length, 0) / gs.length).toFixed(1)}`);
}

// Cross-validation by query: the ranking model fitted on the other folds.
for (const folds of process.env.CV === "0" ? [] : [2, 5]) {
  const cv = new Map<string, { top1: number; n: number }>();
  for (let f = 0; f < folds; f++) {
    const m = fitRank(groups.filter((_, i) => i % folds !== f));
    for (const [s, r] of topAccuracy(groups.filter((_, i) => i % folds === f), m)) {
      const c = cv.get(s) ?? { top1: 0, n: 0 };
      c.top1 += r.top1;
      c.n += r.n;
      cv.set(s, c);
    }
  }
  for (const [s, r] of cv) console.log(`CV${folds} rank top1 ${s}: ${(r.top1 / r.n).toFixed(4)}`);
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;
if (process.env.MATCH === "1") {
  // The pair model (question-pair scoring); printed only on request.
  const match = fitMatch(groups, pairs, dim);
  for (const [s, r] of topAccuracy(groups, match, featureVector)) console.log(`match-model top1 ${s}: ${(r.top1 / r.n).toFixed(4)}`);
  console.log(JSON.stringify({ match: { bias: round(match.b), weights: match.w.map(round) } }));
}
for (const [s, r] of topAccuracy(groups, { w: DEFAULT_MODEL.rank.weights, b: DEFAULT_MODEL.rank.bias })) console.log(`current rank model top1 ${s}: ${(r.top1 / r.n).toFixed(4)}`);
const rank = fitRank(groups);
for (const [s, r] of topAccuracy(groups, rank)) console.log(`fit rank top1 ${s}: ${(r.top1 / r.n).toFixed(4)}`);
const confidence = fitConfidence(groups, rank);
console.log(JSON.stringify({ rank: { bias: 0, weights: rank.w.map(round) }, confidence }));
