/**
 * Fits the shipped calibrator prior (`PRIOR_CALIBRATOR` in src/kb/calibration.ts) and
 * shows what the per-knowledge-base fit does on the development sets.
 *   bun bench/lib/fit-calibration.ts [evalDir]
 * For each set: the knowledge base's own samples (what `kefu serve` fits on) and the
 * labelled queries, cached in /tmp/kefu-calibration/. The prior is fitted on the sets'
 * own samples plus their labelled queries; each set is also scored with a prior fitted
 * without it (leave-one-set-out: how a held-out set of its kind fares).
 */
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { CalibrationJob, type CollectedSample, weighted } from "../../src/kb/calibration-job.ts";
import { type Calibrator, fitCalibrator, PRIOR_CALIBRATOR, predict, type Sample } from "../../src/kb/calibration.ts";
import { coverageAtPrecision, loadKbCsv, openTempKb, parseQueries, type QueryOutcome } from "../../src/kb/eval.ts";

const evalDir = resolve(process.argv[2] ?? `${import.meta.dir}/../../../shared/eval`);
const SETS = (process.env.SETS ?? "small-clinc30-dev,small-bq40-dev,clinc150-val,lcqmc-dev").split(",");
const cacheDir = "/tmp/kefu-calibration";
const STRENGTH = Number(process.env.STRENGTH ?? 20);
const PRIOR_STRENGTH = Number(process.env.PRIOR_STRENGTH ?? 1);
/** Weight of the labelled queries against the knowledge-base samples when fitting the prior. */
const QUERY_WEIGHT = Number(process.env.QUERY_WEIGHT ?? 1);

interface SetData {
  kbSamples: CollectedSample[];
  queries: { x: number[]; ok: 0 | 1; expected: string | null; top: string }[];
}

async function load(set: string): Promise<SetData> {
  const file = `${cacheDir}/${set}.json`;
  if (!process.env.FRESH && (await Bun.file(file).exists())) return Bun.file(file).json();
  const kb = await openTempKb();
  await loadKbCsv(kb, await Bun.file(`${evalDir}/${set}/kb.csv`).text());
  const t0 = performance.now();
  const kbSamples = await new CalibrationJob(kb).collect();
  console.log(`${set}: ${kbSamples.length} samples in ${Math.round(performance.now() - t0)} ms`);
  const queries: SetData["queries"] = [];
  for (const q of parseQueries(await Bun.file(`${evalDir}/${set}/queries.jsonl`).text())) {
    const r = await kb.rankForCalibration(q.query);
    if (r) queries.push({ x: r.features, ok: q.expected !== null && r.topId === q.expected ? 1 : 0, expected: q.expected, top: r.topId });
    else queries.push({ x: [], ok: 0, expected: q.expected, top: "" });
  }
  kb.db.close();
  const data = { kbSamples, queries };
  await mkdir(cacheDir, { recursive: true });
  await Bun.write(file, JSON.stringify(data));
  return data;
}

const data = new Map<string, SetData>();
for (const set of SETS) data.set(set, await load(set));

/** Each set's samples and queries weighted to the same total, so a big set does not drown a small one. */
function priorSamples(sets: string[]): Sample[] {
  const out: Sample[] = [];
  for (const set of sets) {
    const d = data.get(set)!;
    const kb = weighted(d.kbSamples);
    const kbTotal = kb.reduce((s, x) => s + x.w, 0) || 1;
    for (const s of kb) out.push({ ...s, w: (s.w / kbTotal) * 1000 });
    const qs = d.queries.filter((q) => q.x.length);
    // Queries balanced like the knowledge-base samples: right tops and wrong ones half each.
    const pos = qs.filter((q) => q.ok).length || 1;
    const neg = qs.length - pos || 1;
    for (const q of qs) out.push({ x: q.x, y: q.ok, w: QUERY_WEIGHT * 500 * (q.ok ? 1 / pos : 1 / neg) });
  }
  return out;
}

const ZERO: Calibrator = { bias: 0, weights: PRIOR_CALIBRATOR.weights.map(() => 0) };
const fitPrior = (sets: string[]) => fitCalibrator(priorSamples(sets), ZERO, PRIOR_STRENGTH, 50);

function figures(set: string, cal: Calibrator, direct: number) {
  const d = data.get(set)!;
  const outcomes: QueryOutcome[] = d.queries.map((q) => ({
    query: "",
    expected: q.expected,
    ranked: q.top ? [q.top] : [],
    confidence: q.x.length ? predict(cal, q.x) : 0,
    choices: [],
    ms: 0,
  }));
  const inScope = outcomes.filter((o) => o.expected !== null).length;
  const answered = outcomes.filter((o) => o.confidence >= direct);
  const right = answered.filter((o) => o.expected !== null && o.ranked[0] === o.expected).length;
  const oos = outcomes.filter((o) => o.expected === null);
  return {
    precision: answered.length ? right / answered.length : NaN,
    coverage: right / Math.max(1, inScope),
    falseDirect: oos.length ? oos.filter((o) => o.confidence >= direct).length / oos.length : NaN,
    cov90: coverageAtPrecision(outcomes, 0.9) / Math.max(1, inScope),
  };
}

const pct = (x: number) => (Number.isNaN(x) ? "  –  " : `${(x * 100).toFixed(1)}%`);
const prior = fitPrior(SETS);
console.log("\nprior (all sets):", JSON.stringify(prior));
const thresholds = (process.env.DIRECT ?? "0.5,0.7,0.8,0.85,0.9").split(",").map(Number);
for (const mode of ["in-sample prior", "leave-one-set-out prior"] as const) {
  console.log(`\n${mode}; per-KB fit strength ${STRENGTH}`);
  for (const set of SETS) {
    const p = mode === "in-sample prior" ? prior : fitPrior(SETS.filter((s) => s !== set));
    const own = fitCalibrator(weighted(data.get(set)!.kbSamples), p, STRENGTH);
    for (const [name, cal] of [["prior", p], ["per-KB", own]] as const) {
      const cells = thresholds.map((t) => {
        const f = figures(set, cal, t);
        return `@${t} P ${pct(f.precision)} C ${pct(f.coverage)} FD ${pct(f.falseDirect)}`;
      });
      console.log(`${set.padEnd(18)} ${name.padEnd(7)} cov@p90 ${pct(figures(set, cal, 1).cov90)} | ${cells.join(" | ")}`);
    }
  }
}
