/**
 * CPU a distinct question costs in `KnowledgeBase.search` on a small knowledge base (issue 13), stage by stage.
 *   bun bench/kb-cost.ts                   the demo shop's 32 entries, 3,000 distinct questions, then the 10k case
 *   BASE=/path/to/other/checkout bun bench/kb-cost.ts
 *                                          the same against another checkout's engine (e.g. `git archive <rev> src`
 *                                          unpacked with node_modules linked), interleaved round by round in this
 *                                          run, so the two share whatever else the machine is doing
 *   LABEL=, BASE_LABEL=                    names of the two in the report (e.g. their commits)
 *   QUICK=1                                fewer rounds, no 10k case (while working)
 * Baseline in the same run: a bare FTS5 lookup over the query's terms on the same database (no vectors, no
 * scoring) — the floor of any full-text retrieval here. Large knowledge bases: bench/retrieval.ts at 10,000
 * entries (p50/p99 on a file database), run for each engine in turn.
 * Writes bench/results/kb-cost-<date>.json and .md.
 */
import { mkdtemp, rm, symlink, mkdir, copyFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { machineInfo, median, writeResult } from "./lib/machine.ts";

const QUICK = process.env.QUICK === "1";
const ROUNDS = Number(process.env.ROUNDS ?? (QUICK ? 3 : 6));
const N = Number(process.env.QUERIES ?? 3000);
const evalDir = resolve(process.env.EVAL_DIR ?? `${import.meta.dir}/../../shared/eval`);
const here = resolve(`${import.meta.dir}/..`);
const trees: { name: string; root: string }[] = [{ name: process.env.LABEL ?? "this checkout", root: here }];
if (process.env.BASE) trees.push({ name: process.env.BASE_LABEL ?? `base (${process.env.BASE})`, root: resolve(process.env.BASE) });

const queries = (set: string) =>
  readFileSync(`${evalDir}/${set}/queries.jsonl`, "utf8").trim().split("\n").map((l) => JSON.parse(l).query as string);
const pool = [...new Set([...queries("clinc150-val"), ...queries("lcqmc-dev")])];
const qs = Array.from({ length: Math.min(N, pool.length) }, (_, i) => pool[(i * 7) % pool.length]!);
const warm = pool.slice(0, 300);

// biome-ignore lint: stage timing reaches into the engine's private steps on purpose.
type Any = any;

/** One engine on the demo knowledge base: its search plus the pieces `rank` is made of. */
async function setUp(root: string) {
  const { memoryDb, openKb } = await import(`${root}/src/kb/test/helpers.ts`);
  const { seedDemoKnowledge } = await import(`${root}/src/demo/seed.ts`);
  const scorer = await import(`${root}/src/kb/scorer.ts`);
  const pairs = await import(`${root}/src/kb/pair-scorer.ts`);
  const calibration = await import(`${root}/src/kb/calibration.ts`);
  const { indexTerms } = await import(`${root}/src/text/tokenize.ts`);
  const db = memoryDb();
  const kb: Any = await openKb({}, db);
  db.run("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)");
  await seedDemoKnowledge(db, kb);
  await kb.calibrate();
  db.run("CREATE VIRTUAL TABLE base_fts USING fts5(terms, tokenize='unicode61 remove_diacritics 0')");
  const ins = db.prepare("INSERT INTO base_fts(terms) VALUES (?)");
  for (const e of kb.all()) ins.run([e.question, ...e.alts].map((p: string) => indexTerms(p).join(" ")).join(" "));
  const baseQuery = db.prepare("SELECT rowid FROM base_fts WHERE base_fts MATCH ? ORDER BY rank LIMIT 10");
  for (const q of warm) await kb.search(q, { k: 5 });

  // What each stage needs, computed once per query outside the timed loops.
  const inputs = new Map<string, Any>();
  const inputFor = async (q: string) => {
    let x = inputs.get(q);
    if (!x) {
      const stats = kb.termStats();
      const [qv] = await kb.embedder.embed([q]);
      const fts = kb.ftsCandidates(q, stats);
      const vec = kb.vectorCandidates(qv);
      const candidates = [...new Set<number>([...fts, ...vec.keys()])].map((r) => {
        const c = kb.candidate(r);
        return { ...c, dense: vec.get(r) ?? 0 };
      });
      const pq = scorer.prepareQuery(q, stats);
      const ranked = scorer.scoreCandidates(pq, candidates, stats);
      const top = ranked[0];
      const topPhrasing = top ? candidates.find((c: Any) => c.key === top.key).phrasings[top.bestPhrasing] : "";
      x = { stats, qv, candidates, pq, ranked, top, topPhrasing };
      inputs.set(q, x);
    }
    return x;
  };
  for (const q of qs) await inputFor(q);
  const pairCtx = () => ({ stats: kb.pairStats(), termStats: kb.termStats() });
  const pairOf = pairs.pairScore
    ? (x: Any) => pairs.pairScore(x.pq.text, x.topPhrasing, pairCtx(), x.top.signals.dense)
    : (x: Any) => pairs.pairLogit(pairs.pairFeatures(x.pq.text, x.topPhrasing, pairCtx(), x.top.signals.dense));
  const stages: Record<string, (q: string) => unknown> = {
    "search (k 5)": (q) => kb.search(q, { k: 5 }),
    "ask (k 3)": (q) => kb.ask(q),
    // As src/server/features.ts asks (k 4 at the default [answer] settings): a floor at `suggest`, brief matches
    // (an engine from before those options ignores them: an exact, full search).
    "answer pipeline's search (entries + documents)": (q) =>
      Promise.all([kb.search(q, { k: 4, floor: kb.thresholds.suggest, brief: true }), kb.documents.search(q, kb.termStats(), 4)]),
    "  embed query": (q) => kb.embedder.embed([q]),
    "  FTS5 candidates": (q) => kb.ftsCandidates(q, inputs.get(q).stats),
    "  vector candidates": (q) => kb.vectorCandidates(inputs.get(q).qv),
    "  prepareQuery": (q) => scorer.prepareQuery(q, inputs.get(q).stats),
    "  scoreCandidates (signals, rank model, classifier)": (q) => {
      const x = inputs.get(q);
      return scorer.scoreCandidates(x.pq, x.candidates, x.stats);
    },
    "  pair score of the top match": (q) => {
      const x = inputs.get(q);
      return x.top ? pairOf(x) : 0;
    },
    "  calibrated confidences": (q) => {
      const x = inputs.get(q);
      return x.ranked.length ? calibration.calibratedConfidences(x.ranked, 0, kb.calibrator) : [];
    },
    "  document search (0 documents)": (q) => kb.documents.search(q, kb.termStats(), 3),
    "baseline: bare FTS5 lookup": (q) => {
      const terms = [...new Set<string>(indexTerms(q))].slice(0, 24);
      if (terms.length) baseQuery.all(terms.map((t: string) => `"${t}"`).join(" OR "));
    },
  };
  return { kb, stages, entries: kb.count() as number };
}

const engines = [];
for (const t of trees) engines.push({ ...t, ...(await setUp(t.root)) });
const stageNames = Object.keys(engines[0]!.stages);
/** µs per query, per engine and stage, one figure per round. */
const samples = engines.map(() => Object.fromEntries(stageNames.map((s) => [s, [] as number[]])));
for (let round = 0; round < ROUNDS; round++) {
  for (const s of stageNames) {
    // Interleaved: each stage runs for every engine before the next stage, and the order alternates by round.
    const order = round % 2 ? [...engines.keys()].reverse() : [...engines.keys()];
    for (const e of order) {
      const fn = engines[e]!.stages[s];
      if (!fn) continue;
      const t0 = performance.now();
      for (const q of qs) {
        const r = fn(q);
        if (r instanceof Promise) await r;
      }
      samples[e]![s]!.push(((performance.now() - t0) * 1000) / qs.length);
    }
  }
  console.log(`round ${round + 1}/${ROUNDS}: search ${engines.map((e, i) => `${e.name} ${samples[i]!["search (k 5)"]!.at(-1)!.toFixed(0)} µs`).join(", ")}`);
}
const perStage = engines.map((e, i) => ({
  engine: e.name,
  entries: e.entries,
  us_per_query: Object.fromEntries(stageNames.map((s) => [s.trim(), Math.round(median(samples[i]![s]!) * 10) / 10])),
}));

/** bench/retrieval.ts at 10k entries for each engine, from a scratch tree so its result files stay out of bench/results. */
async function retrieval10k(root: string) {
  const dir = await mkdtemp(join(tmpdir(), "kb-cost-"));
  try {
    await mkdir(join(dir, "bench"));
    await copyFile(`${here}/bench/retrieval.ts`, join(dir, "bench/retrieval.ts"));
    await symlink(`${here}/bench/lib`, join(dir, "bench/lib"));
    await symlink(`${root}/src`, join(dir, "src"));
    await symlink(`${here}/node_modules`, join(dir, "node_modules"));
    const p = Bun.spawnSync([process.execPath, join(dir, "bench/retrieval.ts"), "10000", "1000"], { cwd: dir, stderr: "inherit" });
    const line = p.stdout.toString().split("\n").find((l) => l.startsWith("{"));
    if (p.exitCode !== 0 || !line) throw new Error(`retrieval.ts failed for ${root}`);
    return JSON.parse(line) as { p50_ms: number; p99_ms: number; baseline_fts_p50_ms: number; baseline_fts_p99_ms: number; import_s: number };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
const large: { engine: string; runs: Awaited<ReturnType<typeof retrieval10k>>[] }[] = engines.map((e) => ({ engine: e.name, runs: [] }));
if (!QUICK) {
  for (let round = 0; round < 2; round++) {
    for (const i of round % 2 ? [...engines.keys()].reverse() : [...engines.keys()]) {
      large[i]!.runs.push(await retrieval10k(engines[i]!.root));
      console.log(`10k entries, ${engines[i]!.name}: ${JSON.stringify(large[i]!.runs.at(-1))}`);
    }
  }
}

const machine = machineInfo();
const md = [
  `# Cost of a distinct question in the knowledge base, ${machine.date.slice(0, 10)}`,
  "",
  `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memGiB} GiB, ${machine.os}, Bun ${machine.bun}.`,
  `Demo shop knowledge base (${engines[0]!.entries} entries, src/demo/seed.ts) in an in-memory database, calibrator fitted;`,
  `${qs.length} distinct questions from clinc150-val and lcqmc-dev (English and Chinese, mostly not answerable by the shop).`,
  `µs of CPU per question, median of ${ROUNDS} interleaved rounds. Indented rows are stages of \`search\`, timed alone on the`,
  "same questions with their inputs precomputed (they do not add up exactly: the search also reads rows and builds results).",
  "Baseline, same run and database: a bare FTS5 lookup over the query's terms.",
  "",
  `| stage | ${engines.map((e) => e.name).join(" | ")} |`,
  `|---|${engines.map(() => "---|").join("")}`,
  ...stageNames.map((s) => `| ${s.startsWith("  ") ? `&nbsp;&nbsp;${s.trim()}` : s} | ${perStage.map((p) => p.us_per_query[s.trim()] ?? "—").join(" | ")} |`),
  ...(engines.length > 1 ? [`| ratio search: this / base | ${(perStage[0]!.us_per_query["search (k 5)"]! / perStage[1]!.us_per_query["search (k 5)"]!).toFixed(2)} | |`] : []),
  "",
  ...(QUICK
    ? []
    : [
        "## Large knowledge base (bench/retrieval.ts, 10,000 entries, file database, 1,000 queries; two runs each, alternating)",
        "",
        "| engine | p50 ms | p99 ms | bare FTS5 p50 / p99 ms |",
        "|---|---|---|---|",
        ...large.map((l) => `| ${l.engine} | ${l.runs.map((r) => r.p50_ms).join(", ")} | ${l.runs.map((r) => r.p99_ms).join(", ")} | ${l.runs.map((r) => `${r.baseline_fts_p50_ms} / ${r.baseline_fts_p99_ms}`).join(", ")} |`),
        "",
      ]),
].join("\n");
console.log(md);
if (!QUICK || process.env.WRITE === "1") console.log(`wrote ${(await writeResult("kb-cost", { machine, queries: qs.length, rounds: ROUNDS, perStage, large }, md)).join(", ")}`);
