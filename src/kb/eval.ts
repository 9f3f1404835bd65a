/**
 * Evaluation of matching quality: a KB csv + queries.jsonl through the same
 * search and thresholds the chat uses, and question pairs scored for ROC AUC.
 * Figures are defined in issue 3 (`kefu eval`).
 */
import { Database } from "bun:sqlite";
import * as sqliteVec from "sqlite-vec";
import { KefuError } from "../errors/kefu-error.ts";
import { features } from "../text/tokenize.ts";
import { HashEmbedder } from "./embedder.ts";
import { KnowledgeBase, type KnowledgeBaseOptions } from "./engine.ts";
import { parseEntryCsv } from "./import/formats.ts";
import { kbMigrations } from "./migrations.ts";
import type { PairModel } from "./pair-model.ts";
import { PairCorpusStats, scorePairList } from "./pair-scorer.ts";
import { DEFAULT_SCORER, type TermStats } from "./scorer.ts";
import type { Thresholds } from "./types.ts";
import { choicesOf } from "./decision.ts";

export interface EvalReport {
  n: number;
  top1: number | null;
  top3: number | null;
  mrr: number | null;
  oos_accuracy: number | null;
  auc: number | null;
  p50_ms: number | null;
  p99_ms: number | null;
  /** Of the answers given verbatim (confidence ≥ direct), the share that is the expected entry. */
  direct_precision: number | null;
  /** Of the in-scope queries, the share answered verbatim and right. */
  direct_coverage: number | null;
  /** Of the out-of-scope queries (`expected: null`), the share answered verbatim. */
  false_direct_rate: number | null;
  /** The best `direct_coverage` over all thresholds at which `direct_precision` ≥ 0.9. */
  coverage_at_p90: number | null;
  /** Of the in-scope queries in the suggestion band (suggest ≤ confidence < direct), the share whose entry is among the choices. */
  suggest_hit_rate: number | null;
}

/** The figures a query file does not give (pairs) or a set without that kind of query. */
const NO_DECISION_FIGURES = { direct_precision: null, direct_coverage: null, false_direct_rate: null, coverage_at_p90: null, suggest_hit_rate: null };

export interface QueryOutcome {
  query: string;
  expected: string | null;
  /** Ranked entry ids (up to 10) and the top confidence. */
  ranked: string[];
  confidence: number;
  /** Entry ids "did you mean" would offer (`choicesOf`), whatever the path. */
  choices: string[];
  ms: number;
}

export interface EvalOptions {
  kb?: KnowledgeBaseOptions;
  thresholds?: Thresholds;
  /** Opens an empty database with sqlite-vec loaded (default: in-memory, `sqlite-vec` package loader). */
  openDatabase?: () => Database;
  /** Receives every query's outcome (for tuning and error analysis). */
  onQuery?: (o: QueryOutcome) => void;
  /**
   * Lets the event loop run after this many ms of searching (searches resolve without I/O: a long list would
   * otherwise hold the server for its whole run). Default: never (the CLI).
   */
  yieldAfterMs?: number;
}

function defaultDatabase(): Database {
  const db = new Database(":memory:");
  sqliteVec.load(db);
  return db;
}

/** A fresh knowledge base in a temporary database (migrations applied). */
export async function openTempKb(options: EvalOptions = {}): Promise<KnowledgeBase> {
  const db = (options.openDatabase ?? defaultDatabase)();
  for (const m of kbMigrations) db.run(m.sql);
  return KnowledgeBase.open(db, { ...options.kb, thresholds: options.thresholds ?? options.kb?.thresholds });
}

export async function loadKbCsv(kb: KnowledgeBase, csvText: string): Promise<number> {
  const parsed = parseEntryCsv(csvText);
  if (parsed.fatal) throw new KefuError("invalid_kb", 400, `kb csv line ${parsed.fatal.line}: ${parsed.fatal.error}`);
  if (parsed.rejected.length) {
    const r = parsed.rejected[0]!;
    throw new KefuError("invalid_kb", 400, `kb csv line ${r.line}: ${r.error} (${parsed.rejected.length} rejected)`);
  }
  const res = await kb.upsert(parsed.records.map((r) => r.entry));
  return res.added + res.updated + res.unchanged;
}

export function parseQueries(text: string): { query: string; expected: string | null }[] {
  return text
    .split("\n")
    .map((l, i) => ({ l: l.trim(), line: i + 1 }))
    .filter((x) => x.l)
    .map(({ l, line }) => {
      try {
        const o = JSON.parse(l);
        if (typeof o.query !== "string") throw new Error("missing query");
        return { query: o.query, expected: o.expected == null ? null : String(o.expected) };
      } catch (err) {
        throw new KefuError("invalid_queries", 400, `queries line ${line}: ${(err as Error).message}`);
      }
    });
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;

/** Runs every query through search + thresholds against a KB loaded from csv text. */
export async function evalQueries(kbCsv: string, queriesJsonl: string, options: EvalOptions = {}): Promise<EvalReport> {
  const kb = await openTempKb(options);
  try {
    await loadKbCsv(kb, kbCsv);
    // Measured as a shop would see it: with the calibrator fitted to this knowledge base.
    await kb.calibrate();
    return await evalQueriesOn(kb, parseQueries(queriesJsonl), options);
  } finally {
    kb.db.close();
  }
}

export async function evalQueriesOn(kb: KnowledgeBase, queries: { query: string; expected: string | null }[], options: EvalOptions = {}): Promise<EvalReport> {
  const thresholds = options.thresholds ?? kb.thresholds;
  const outcomes: QueryOutcome[] = [];
  const times: number[] = [];
  let slice = performance.now();
  for (const q of queries) {
    if (options.yieldAfterMs !== undefined && performance.now() - slice > options.yieldAfterMs) {
      await new Promise((r) => setImmediate(r));
      slice = performance.now();
    }
    const t0 = performance.now();
    const res = await kb.search(q.query, { k: 10 });
    const ms = performance.now() - t0;
    times.push(ms);
    const o: QueryOutcome = {
      query: q.query,
      expected: q.expected,
      ranked: res.matches.map((m) => m.id),
      confidence: res.matches[0]?.confidence ?? 0,
      choices: choicesOf(res.matches).map((m) => m.id),
      ms,
    };
    outcomes.push(o);
    options.onQuery?.(o);
  }
  times.sort((a, b) => a - b);
  const { oos_accuracy, ...decision } = decisionFigures(outcomes, thresholds);
  return {
    n: queries.length,
    ...rankingFigures(outcomes),
    oos_accuracy,
    auc: null,
    p50_ms: times.length ? round(percentile(times, 50), 3) : null,
    p99_ms: times.length ? round(percentile(times, 99), 3) : null,
    ...decision,
  };
}

function rankingFigures(outcomes: QueryOutcome[]) {
  const inScope = outcomes.filter((o) => o.expected !== null);
  const positions = inScope.map((o) => o.ranked.indexOf(o.expected!));
  const share = (n: number) => (inScope.length ? round(n / inScope.length) : null);
  return {
    top1: share(positions.filter((p) => p === 0).length),
    top3: share(positions.filter((p) => p >= 0 && p < 3).length),
    mrr: share(positions.reduce((s, p) => s + (p >= 0 ? 1 / (p + 1) : 0), 0)),
  };
}

const rightAtTop = (o: QueryOutcome) => o.expected !== null && o.ranked[0] === o.expected;

/** What a shop feels at the configured thresholds, and the best it could feel at any `direct`. */
export function decisionFigures(outcomes: QueryOutcome[], thresholds: Thresholds) {
  const n = outcomes.length;
  const inScope = outcomes.filter((o) => o.expected !== null);
  const outOfScope = n - inScope.length;
  const direct = outcomes.filter((o) => o.confidence >= thresholds.direct);
  const directRight = direct.filter(rightAtTop).length;
  const handled = outcomes.filter((o) => (o.expected === null ? o.confidence < thresholds.direct : rightAtTop(o) && o.confidence >= thresholds.direct)).length;
  const band = inScope.filter((o) => o.confidence >= thresholds.suggest && o.confidence < thresholds.direct);
  return {
    oos_accuracy: n ? round(handled / n) : null,
    direct_precision: direct.length ? round(directRight / direct.length) : null,
    direct_coverage: inScope.length ? round(directRight / inScope.length) : null,
    false_direct_rate: outOfScope ? round(direct.filter((o) => o.expected === null).length / outOfScope) : null,
    coverage_at_p90: inScope.length ? round(coverageAtPrecision(outcomes, 0.9) / inScope.length) : null,
    suggest_hit_rate: band.length ? round(band.filter((o) => o.choices.includes(o.expected!)).length / band.length) : null,
  };
}

/**
 * The most in-scope queries answered verbatim and right at any threshold whose
 * verbatim answers are at least `precision` right: sweep the threshold down the
 * sorted confidences (ties move together).
 */
export function coverageAtPrecision(outcomes: QueryOutcome[], precision: number): number {
  const sorted = [...outcomes].sort((a, b) => b.confidence - a.confidence);
  let best = 0;
  let right = 0;
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j < sorted.length && sorted[j]!.confidence === sorted[i]!.confidence) if (rightAtTop(sorted[j++]!)) right++;
    if (right / j >= precision) best = Math.max(best, right);
    i = j;
  }
  return best;
}

/** ROC AUC with ties counted half (Mann–Whitney U). */
export function rocAuc(scores: number[], labels: number[]): number {
  const idx = scores.map((_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let sumPos = 0;
  let nPos = 0;
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j < idx.length && scores[idx[j]!] === scores[idx[i]!]) j++;
    const rank = (i + j + 1) / 2;
    for (let k = i; k < j; k++) if (labels[idx[k]!]) {
      sumPos += rank;
      nPos++;
    }
    i = j;
  }
  const nNeg = labels.length - nPos;
  if (nPos === 0 || nNeg === 0) return Number.NaN;
  return (sumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

export function parsePairs(text: string): { a: string; b: string; label: number }[] {
  const lines = text.split("\n").filter((l) => l.trim());
  return lines.slice(1).map((l, i) => {
    const [a, b, y] = l.replace(/\r$/, "").split("\t");
    if (a === undefined || b === undefined || (y !== "0" && y !== "1")) {
      throw new KefuError("invalid_pairs", 400, `pairs line ${i + 2}: expected text_a<TAB>text_b<TAB>0|1`);
    }
    return { a, b, label: Number(y) };
  });
}

/** Feature frequencies over a list of texts, each text counted as one entry. */
export function memoryTermStats(texts: Iterable<string>): TermStats {
  const df = new Map<string, number>();
  let n = 0;
  for (const t of texts) {
    n++;
    for (const f of features(t).keys()) df.set(f, (df.get(f) ?? 0) + 1);
  }
  return { entries: n, df: (f) => df.get(f) ?? 0 };
}

/**
 * Match probability of each pair: the pair model (`pair-scorer.ts`) over the
 * engine's match logit plus pair-level lexical and distributional similarities,
 * with term statistics from all texts of the file (the file plays the knowledge
 * base; no labels are used) and the built-in embedder.
 */
export async function scorePairs(pairs: { a: string; b: string }[], options: EvalOptions & { pairModel?: PairModel } = {}): Promise<number[]> {
  const texts = new Set(pairs.flatMap((p) => [p.a, p.b]));
  return scorePairList(pairs, {
    stats: new PairCorpusStats(texts),
    termStats: memoryTermStats(texts),
    embedder: options.kb?.embedder ?? new HashEmbedder(),
    scorer: options.kb?.scorer ?? DEFAULT_SCORER,
    model: options.kb?.model,
    pairModel: options.pairModel,
  });
}

export async function evalPairs(pairsTsv: string, options: EvalOptions = {}): Promise<EvalReport> {
  const pairs = parsePairs(pairsTsv);
  const t0 = performance.now();
  const scores = await scorePairs(pairs, options);
  const per = pairs.length ? (performance.now() - t0) / pairs.length : 0;
  return pairReport(pairs.length, rocAuc(scores, pairs.map((p) => p.label)), round(per, 3));
}

/** The report of a pairs file: only AUC (and time per pair) apply. */
export function pairReport(n: number, auc: number, msPerPair: number | null): EvalReport {
  return {
    n,
    top1: null,
    top3: null,
    mrr: null,
    oos_accuracy: null,
    auc: Number.isNaN(auc) ? null : round(auc),
    p50_ms: msPerPair,
    p99_ms: null,
    ...NO_DECISION_FIGURES,
  };
}
