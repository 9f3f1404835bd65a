/**
 * Why one global `direct` cannot serve the demo shop and the small dev sets at once (issue 11), measured:
 *   bun bench/lib/fit-calibration.ts      (once: caches each dev set's samples and query features)
 *   bun bench/lib/calibration-probe.ts [evalDir]
 * Prints, for the dev sets and the demo shop (tests/kb-demo-questions.ts):
 * 1. how hard the knowledge base's own leave-one-out samples are next to its real questions,
 * 2. per-KB fits with the sample kinds weighed differently (precision, coverage at `direct`, coverage_at_p90),
 * 3. a conformal per-KB mapping (confidence shifted so the KB's own samples reach a target precision at `direct`),
 * 4. the demo's separability: a calibrator fitted on the demo's real questions themselves (in sample).
 * Figures from cached features: the exact-match floor is applied from the `exact` feature alone.
 */
import { Database } from "bun:sqlite";
import { resolve } from "node:path";
import { demoShopFaq } from "../../src/demo/shop-faq.ts";
import { CalibrationJob, type CollectedSample, weighted } from "../../src/kb/calibration-job.ts";
import { EXACT_CONFIDENCE, fitCalibrator, PRIOR_CALIBRATOR, predict, type Sample } from "../../src/kb/calibration.ts";
import { KnowledgeBase } from "../../src/kb/engine.ts";
import { kbMigrations } from "../../src/kb/migrations.ts";
import { loadSqliteVec } from "../../src/platform/sqlite-vec.ts";
import { moreOffTopic, moreParaphrases, offTopic, paraphrases } from "../../tests/kb-demo-questions.ts";

const evalDir = resolve(process.argv[2] ?? `${import.meta.dir}/../../../shared/eval`);
const SETS = ["small-clinc30-dev", "small-bq40-dev", "clinc150-val", "lcqmc-dev"];
const DIRECT = Number(process.env.DIRECT ?? 0.85);
const EXACT = 13;

interface Q { x: number[]; ok: 0 | 1; expected: string | null; group?: string; text?: string }
interface SetData { kbSamples: CollectedSample[]; queries: Q[] }

const data = new Map<string, SetData>();
for (const set of SETS) {
  const file = Bun.file(`/tmp/kefu-calibration/${set}.json`);
  if (!(await file.exists())) throw new Error(`no cache for ${set}: run bun bench/lib/fit-calibration.ts ${evalDir} first`);
  data.set(set, await file.json());
}
data.set("demo", await demo());

async function demo(): Promise<SetData> {
  const db = new Database(":memory:");
  await loadSqliteVec(db);
  for (const m of kbMigrations) db.run(m.sql);
  const kb = await KnowledgeBase.open(db);
  await kb.upsert(demoShopFaq);
  const kbSamples = await new CalibrationJob(kb).collect();
  const queries: Q[] = [];
  const lists: [string, [string, string | null][]][] = [
    ["off", offTopic.map((q) => [q, null])],
    ["off+", moreOffTopic.map((q) => [q, null])],
    ["para", paraphrases],
    ["para+", moreParaphrases],
  ];
  for (const [group, list] of lists) {
    for (const [text, expected] of list) {
      const r = await kb.rankForCalibration(text);
      queries.push({ x: r?.features ?? [], ok: r && expected && r.topId === expected ? 1 : 0, expected, group, text });
    }
  }
  db.close();
  return { kbSamples, queries };
}

const pct = (x: number) => (Number.isNaN(x) ? "–" : `${(x * 100).toFixed(1)}%`);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
type Conf = (x: number[]) => number;
const withExact = (f: Conf): Conf => (x) => (x[EXACT] === 1 ? Math.max(EXACT_CONFIDENCE, f(x)) : f(x));

function figures(qs: Q[], conf: Conf, t: number) {
  const inScope = qs.filter((q) => q.expected !== null).length;
  const scored = qs.filter((q) => q.x.length).map((q) => ({ c: conf(q.x), ok: q.ok }));
  const answered = scored.filter((s) => s.c >= t);
  const right = answered.filter((s) => s.ok).length;
  scored.sort((a, b) => b.c - a.c);
  let r = 0, best = 0;
  scored.forEach((s, i) => {
    r += s.ok;
    if ((i === scored.length - 1 || scored[i + 1]!.c < s.c) && r / (i + 1) >= 0.9) best = Math.max(best, r);
  });
  return `P ${pct(right / answered.length)} (${right}/${answered.length}) C ${pct(right / inScope)} p90 ${pct(best / inScope)}`;
}

function demoFigures(qs: Q[], conf: Conf, t: number) {
  const g = (name: string) => qs.filter((q) => q.group === name);
  const off = (name: string) => `${g(name).filter((q) => q.x.length && conf(q.x) >= t).length}/${g(name).length} (max ${Math.max(...g(name).map((q) => (q.x.length ? conf(q.x) : 0))).toFixed(2)})`;
  const para = (name: string) => `${g(name).filter((q) => q.ok && conf(q.x) >= t).length}/${g(name).length}`;
  return `off-topic direct ${off("off")}, more ${off("off+")}; paraphrases right and direct ${para("para")}, more ${para("para+")}`;
}

function report(name: string, fit: (s: CollectedSample[]) => Sample[]) {
  console.log(`  ${name}`);
  for (const [set, d] of data) {
    const cal = fitCalibrator(fit(d.kbSamples), PRIOR_CALIBRATOR, 20);
    const conf = withExact((x) => predict(cal, x));
    console.log(`    ${set.padEnd(18)} ${set === "demo" ? demoFigures(d.queries, conf, DIRECT) : figures(d.queries, conf, DIRECT)}`);
  }
}

console.log("1. own samples vs real questions (per-KB fit as shipped)");
for (const [set, d] of data) {
  const cal = fitCalibrator(weighted(d.kbSamples), PRIOR_CALIBRATOR, 20);
  const c = (x: number[]) => predict(cal, x);
  const loo = d.kbSamples.filter((s) => s.kind === "phrasing" || s.kind === "variant");
  const real = d.queries.filter((q) => q.expected !== null && q.x.length);
  console.log(`  ${set.padEnd(18)} leave-one-out top-1 ${pct(mean(loo.map((s) => s.y)))}, mean confidence ${mean(loo.map((s) => c(s.x))).toFixed(2)}; real in-scope top-1 ${pct(mean(real.map((q) => q.ok)))}, mean confidence ${mean(real.map((q) => c(q.x))).toFixed(2)}`);
}

console.log(`\n2. per-KB fit, sample kinds weighed differently (at direct ${DIRECT}; p90 = coverage_at_p90)`);
const byKind = (m: Partial<Record<CollectedSample["kind"], number>>) => (s: CollectedSample[]) =>
  weighted(s).map((w, i) => ({ ...w, w: w.w * (m[s[i]!.kind] ?? 1) }));
report("shipped (in/out half each; out: left-out entries and background half each)", weighted);
report("left-out entries a third of out-of-scope", byKind({ entry: 2 / 3, background: 4 / 3 }));
report("left-out entries three quarters of out-of-scope", byKind({ entry: 1.5, background: 0.5 }));
report("in-scope samples twice", byKind({ phrasing: 2, variant: 2, exact: 2 }));

console.log("\n3. conformal per-KB mapping: logit shifted so the KB's own samples reach the target precision at direct");
const lg = (p: number) => Math.log(p / (1 - p));
for (const target of [0.9, 0.95]) {
  console.log(`  target ${target}`);
  for (const [set, d] of data) {
    const ws = weighted(d.kbSamples);
    const cal = fitCalibrator(ws, PRIOR_CALIBRATOR, 20);
    const own = d.kbSamples.map((s, i) => ({ c: predict(cal, s.x), y: s.y, w: ws[i]!.w })).sort((a, b) => b.c - a.c);
    let a = 0, r = 0, t = 0.99;
    for (const s of own) {
      a += s.w;
      r += s.y * s.w;
      if (r / a >= target) t = s.c;
    }
    const shift = lg(DIRECT) - lg(Math.min(0.99, Math.max(0.01, t)));
    const conf = withExact((x) => 1 / (1 + Math.exp(-(lg(Math.min(1 - 1e-9, Math.max(1e-9, predict(cal, x)))) + shift))));
    console.log(`    ${set.padEnd(18)} own threshold ${t.toFixed(2)}: ${set === "demo" ? demoFigures(d.queries, conf, DIRECT) : figures(d.queries, conf, DIRECT)}`);
  }
}

console.log("\n4. demo separability: calibrator fitted on the demo's own real questions (in sample)");
const all = data.get("demo")!.queries;
for (const [name, dq] of [["test lists", all.filter((q) => q.group === "off" || q.group === "para")], ["all lists", all]] as const) {
  for (const strength of [20, 1, 0.1]) {
    const cal = fitCalibrator(dq.map((q) => ({ x: q.x, y: q.ok, w: 1 })), PRIOR_CALIBRATOR, strength, 100);
    const c = (q: Q) => predict(cal, q.x);
    const para = dq.filter((q) => q.ok).sort((a, b) => c(a) - c(b))[0]!;
    const off = dq.filter((q) => !q.ok).sort((a, b) => c(b) - c(a))[0]!;
    console.log(`  ${name}, strength ${strength}: lowest paraphrase ${c(para).toFixed(2)} ("${para.text}"), highest off-topic ${c(off).toFixed(2)} ("${off.text}")`);
  }
}
