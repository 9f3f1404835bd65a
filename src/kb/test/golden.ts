/**
 * Equivalence check for performance work on the engine: records what the knowledge base answers (top ids,
 * confidences, match probabilities, the calibrator it fits, the calibration features of leave-one-out
 * questions, the `kefu eval` figures, pair scores) and later checks that a changed engine answers the same.
 *   bun src/kb/test/golden.ts record /tmp/kb-golden.json   [SETS=demo,small-clinc30-dev,...]
 *   bun src/kb/test/golden.ts check  /tmp/kb-golden.json   (exit 1 on any difference; confidences to 1e-9)
 * The dev sets are read from ../shared/eval (never copied into the repository); so is the golden file kept outside.
 */
import { Database } from "bun:sqlite";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { seedDemoKnowledge } from "../../demo/seed.ts";
import { evalQueriesOn, loadKbCsv, openTempKb, parsePairs, parseQueries, scorePairs } from "../eval.ts";
import type { KnowledgeBase } from "../engine.ts";
import { memoryDb, openKb } from "./helpers.ts";

const [mode, file] = [process.argv[2], process.argv[3] ?? "/tmp/kb-golden.json"];
if (mode !== "record" && mode !== "check") throw new Error("usage: golden.ts record|check [file]");
const evalDir = resolve(process.env.EVAL_DIR ?? `${import.meta.dir}/../../../../shared/eval`);
const ALL = ["demo", "small-clinc30-dev", "small-bq40-dev", "clinc150-val", "lcqmc-dev", "pairs-bq-dev"];
const sets = process.env.SETS?.split(",") ?? ALL;
const read = (p: string) => readFileSync(`${evalDir}/${p}`, "utf8");

type Out = Record<string, unknown>;

async function outcomes(kb: KnowledgeBase, queries: string[], k: number) {
  const rows: [string[], number[], number[]][] = [];
  for (const q of queries) {
    const r = await kb.search(q, { k });
    rows.push([r.matches.map((m) => m.id), r.matches.map((m) => m.confidence), r.matches.map((m) => m.match)]);
  }
  return rows;
}

async function calibrationView(kb: KnowledgeBase, limit: number) {
  const rows: unknown[] = [];
  for (const e of kb.calibrationEntries().slice(0, limit)) {
    for (let i = 0; i < e.phrasings.length; i++) rows.push(await kb.rankForCalibration(e.phrasings[i]!, { id: e.id, phrasing: i }));
    rows.push(await kb.rankForCalibration(e.phrasings[0]!, { id: e.id, phrasing: "entry" }));
  }
  return rows;
}

async function demo(): Promise<Out> {
  const db = memoryDb();
  const kb = await openKb({}, db);
  db.run("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)");
  await seedDemoKnowledge(db as never as Database, kb);
  await kb.calibrate();
  const qs = [
    ...parseQueries(read("clinc150-val/queries.jsonl")).map((q) => q.query),
    ...parseQueries(read("lcqmc-dev/queries.jsonl")).map((q) => q.query),
    ...kb.calibrationEntries().flatMap((e) => e.phrasings),
  ];
  const asks: unknown[] = [];
  for (const q of qs.slice(0, 500)) {
    const a = await kb.ask(q);
    asks.push([a.path, a.confidence, a.entryId ?? null, a.matches.map((m) => m.id)]);
  }
  return { calibrator: kb.calibrator, search: await outcomes(kb, qs, 5), asks, calibration: await calibrationView(kb, 40) };
}

async function querySet(set: string): Promise<Out> {
  const kb = await openTempKb();
  await loadKbCsv(kb, read(`${set}/kb.csv`));
  await kb.calibrate();
  const queries = parseQueries(read(`${set}/queries.jsonl`));
  const { p50_ms: _a, p99_ms: _b, ...report } = await evalQueriesOn(kb, queries);
  return { calibrator: kb.calibrator, report, search: await outcomes(kb, queries.map((q) => q.query), 10), calibration: await calibrationView(kb, 15) };
}

async function pairSet(set: string): Promise<Out> {
  return { scores: await scorePairs(parsePairs(read(`${set}/pairs.tsv`))) };
}

/** Paths where a and b differ (numbers beyond `tol`), up to `max`. */
function diff(a: unknown, b: unknown, path: string, tol: number, out: string[], max = 20): void {
  if (out.length >= max) return;
  if (typeof a === "number" && typeof b === "number") {
    if (!(a === b || Math.abs(a - b) <= tol)) out.push(`${path}: ${a} vs ${b}`);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) out.push(`${path}: length ${a.length} vs ${b.length}`);
    for (let i = 0; i < Math.min(a.length, b.length); i++) diff(a[i], b[i], `${path}[${i}]`, tol, out, max);
    return;
  }
  if (a && b && typeof a === "object" && typeof b === "object") {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) diff((a as Out)[k], (b as Out)[k], `${path}.${k}`, tol, out, max);
    return;
  }
  if (a !== b) out.push(`${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
}

const result: Out = {};
for (const set of sets) {
  const t0 = performance.now();
  result[set] = set === "demo" ? await demo() : set.startsWith("pairs-") ? await pairSet(set) : await querySet(set);
  console.log(`${set}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

if (mode === "record") {
  await Bun.write(file, JSON.stringify(result));
  console.log(`recorded ${sets.join(", ")} to ${file}`);
} else {
  const golden = JSON.parse(readFileSync(file, "utf8")) as Out;
  let bad = 0;
  for (const set of sets) {
    const d: string[] = [];
    const exact: string[] = [];
    diff(golden[set], result[set], set, 1e-9, d);
    diff(golden[set], result[set], set, 0, exact, 5);
    if (d.length) {
      bad++;
      console.log(`${set}: DIFFERENT\n  ${d.join("\n  ")}`);
    } else console.log(`${set}: same${exact.length ? ` (within 1e-9; not bit-identical: ${exact[0]})` : " (bit-identical)"}`);
  }
  process.exit(bad ? 1 : 0);
}
