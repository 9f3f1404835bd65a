/**
 * Batch hit tests: a list of questions with the entry each should get (or none: out of scope) run through the
 * search and decision `kefu eval` uses (`evalQueriesOn`, same figures), each question's outcome at the
 * thresholds in force, saved with the knowledge-base version and thresholds so a later run can be compared.
 */
import { KefuError, badRequest, conflict, notFound } from "../../errors/kefu-error.ts";
import type { Sql } from "../../storage/sql.ts";
import { normalizeText } from "../../text/normalize.ts";
import { decide } from "../decision.ts";
import type { KnowledgeBase } from "../engine.ts";
import { type EvalReport, evalQueriesOn, type QueryOutcome } from "../eval.ts";
import { parseCsv } from "../import/csv.ts";
import type { Thresholds } from "../types.ts";
import { type HitPath, hitPath } from "./decision.ts";

/** Most questions in one run (a larger list is refused with 413). */
export const MAX_CASES = 5_000;
/** Most runs kept; past it a new run is refused until old ones are deleted (409). */
export const MAX_RUNS = 200;
/** Longest question, as POST /api/ask takes. */
export const MAX_QUESTION = 4_000;
/** Searching stops for the event loop this often (ms), as the calibration job does. */
const YIELD_AFTER_MS = 5;

export interface BatchCase {
  question: string;
  expected: string | null;
}

export interface BatchOutcome {
  question: string;
  expected: string | null;
  /** The top entry (null: nothing matched). */
  top: string | null;
  confidence: number;
  decision: HitPath;
  /**
   * Out of scope: not answered verbatim. In scope: answered verbatim with the expected entry (direct), or the
   * expected entry among the choices offered or given to the LLM as its best grounding (choices, llm).
   */
  correct: boolean;
  /** Ranked entry ids (up to 10) and the "did you mean" choices. */
  ranked: string[];
  choices: string[];
}

export interface BatchRun {
  id: number;
  name: string;
  created_at: string;
  created_by: string | null;
  kb_version: number;
  thresholds: Thresholds;
  /** An LLM provider was configured (questions not answered verbatim went to it). */
  llm: boolean;
  cases: number;
  figures: EvalReport;
  /** Expected entry ids the knowledge base did not have at the time of the run. */
  unknown_expected: string[];
  outcomes: BatchOutcome[];
}

export type BatchRunSummary = Omit<BatchRun, "outcomes" | "unknown_expected">;

const HEADERS = new Set(["question", "query", "问题", "问法"]);
const tooMany = (n: number) => new KefuError("too_many_cases", 413, `${n} questions: at most ${MAX_CASES} in one run`);

/** The cases of a request: `cases`, or CSV `text` (question,expected; a header row is optional; empty expected = out of scope). */
export function parseCases(input: { cases?: BatchCase[]; text?: string }): BatchCase[] {
  if ((input.cases === undefined) === (input.text === undefined)) throw badRequest("give either cases or text (CSV: question,expected)");
  let cases: BatchCase[];
  if (input.cases) {
    if (input.cases.length > MAX_CASES) throw tooMany(input.cases.length);
    cases = input.cases.map((c, i) => {
      const question = c.question.trim();
      if (!question) throw badRequest(`cases[${i}].question is empty`);
      return { question, expected: c.expected?.trim() || null };
    });
  } else {
    const parsed = parseCsv(input.text!, { maxFieldChars: MAX_QUESTION });
    if (parsed.error) throw badRequest(`text line ${parsed.error.line}: ${parsed.error.message}`);
    const records = parsed.records.filter((r) => r.fields.some((f) => f.trim()));
    if (records[0] && HEADERS.has(records[0].fields[0]!.trim().toLowerCase())) records.shift();
    if (records.length > MAX_CASES) throw tooMany(records.length);
    cases = records.map((r) => {
      if (r.fields.length > 2) throw badRequest(`text line ${r.line}: expected question,expected (got ${r.fields.length} fields)`);
      const question = r.fields[0]!.trim();
      if (!question) throw badRequest(`text line ${r.line}: the question is empty`);
      return { question, expected: r.fields[1]?.trim() || null };
    });
  }
  if (cases.length === 0) throw badRequest("no questions to run");
  return cases;
}

function outcomeOf(o: QueryOutcome, question: string, thresholds: Thresholds, llm: boolean): BatchOutcome {
  const top = o.ranked[0] ?? null;
  const decision = hitPath(decide(top ? [{ id: top, confidence: o.confidence }] : [], thresholds).path, llm);
  const correct =
    o.expected === null ? decision !== "direct" : decision === "direct" ? top === o.expected : decision !== "fallback" && o.choices.includes(o.expected);
  return { question, expected: o.expected, top, confidence: Math.round(o.confidence * 10_000) / 10_000, decision, correct, ranked: o.ranked, choices: o.choices };
}

interface RunRow {
  id: number;
  name: string;
  created_at: number;
  created_by: string | null;
  kb_version: number;
  direct: number;
  suggest: number;
  llm: number;
  cases: number;
  figures: string;
  outcomes?: string;
}

const summaryOf = (r: RunRow): BatchRunSummary => ({
  id: r.id,
  name: r.name,
  created_at: new Date(r.created_at).toISOString(),
  created_by: r.created_by,
  kb_version: r.kb_version,
  thresholds: { direct: r.direct, suggest: r.suggest },
  llm: r.llm === 1,
  cases: r.cases,
  figures: JSON.parse(r.figures),
});

const SUMMARY_COLUMNS = "id, name, created_at, created_by, kb_version, direct, suggest, llm, cases, figures";

/** Saved batch runs (table kb_batch_runs). */
export interface BatchRuns {
  /** Runs `cases` at the thresholds in force and saves the run. One run at a time on this node (409 while one is going). */
  run(input: { name?: string; cases: BatchCase[]; llm: boolean; by: string | null }): Promise<BatchRun>;
  /** Newest first, without the outcomes. */
  list(): Promise<BatchRunSummary[]>;
  /** 404 when there is none. */
  get(id: number): Promise<BatchRun>;
  /** The newest run, for the threshold curves (null: none saved); kept parsed while it stays the newest. */
  latest(): Promise<BatchRun | null>;
  /** 404 when there is none. */
  delete(id: number): Promise<void>;
  /**
   * The knowledge base changed since `run`. Judged by content, not by `kb_version`: in a cluster each node's
   * SQLite copy counts its own versions, so the version a run saved on one node says nothing on another.
   */
  stale(run: BatchRun): boolean;
  compare(id: number, otherId: number): Promise<ReturnType<typeof compareRuns>>;
}

/**
 * A digest of what a batch run searches: every entry's content and every document (ids, text, enabled; no
 * timestamps), the same on every node holding the same knowledge base whatever its local version.
 */
export function kbContentDigest(kb: KnowledgeBase): string {
  const h = new Bun.CryptoHasher("sha256");
  for (const r of kb.db.query("SELECT id, question, alts, answer, tags, enabled FROM kb_entries ORDER BY id").values()) h.update(`${JSON.stringify(r)}\n`);
  h.update("\u0000documents\n");
  for (const r of kb.db.query("SELECT id, title, source, text FROM kb_documents ORDER BY id").values()) h.update(`${JSON.stringify(r)}\n`);
  return h.digest("hex");
}

export function createBatchRuns(sql: Sql, kb: KnowledgeBase, opts: { now?: () => number } = {}): BatchRuns {
  const now = opts.now ?? Date.now;
  let running = false;
  let newest: BatchRun | null = null;
  /** The content digest each run was made on (runs saved before it was recorded have none). */
  const digests = new WeakMap<BatchRun, string>();
  let digestAt: { version: number; digest: string } | null = null;
  const digest = (): string => {
    const version = kb.version();
    if (digestAt?.version !== version) digestAt = { version, digest: kbContentDigest(kb) };
    return digestAt.digest;
  };
  const get = async (id: number): Promise<BatchRun | null> => {
    const r = await sql.get<RunRow>(`SELECT ${SUMMARY_COLUMNS}, outcomes FROM kb_batch_runs WHERE id = ?`, [id]);
    if (!r) return null;
    const stored = JSON.parse(r.outcomes!) as { outcomes: BatchOutcome[]; unknown_expected: string[]; kb_digest?: string };
    const run: BatchRun = { ...summaryOf(r), unknown_expected: stored.unknown_expected, outcomes: stored.outcomes };
    if (stored.kb_digest) digests.set(run, stored.kb_digest);
    return run;
  };
  const found = async (id: number): Promise<BatchRun> => {
    const run = await get(id);
    if (!run) throw notFound(`batch run ${id}`);
    return run;
  };
  return {
    async run(input) {
      if (running) throw conflict("a batch run is in progress; try again when it has finished");
      running = true;
      try {
        const count = (await sql.get<{ n: number }>("SELECT count(*) AS n FROM kb_batch_runs"))!.n;
        if (count >= MAX_RUNS) throw conflict(`${count} batch runs are saved (at most ${MAX_RUNS}): delete old ones first`);
        const thresholds = { ...kb.thresholds };
        const version = kb.version();
        const kbDigest = digest();
        const outcomes: QueryOutcome[] = [];
        const queries = input.cases.map((c) => ({ query: normalizeText(c.question, { lowercase: false }), expected: c.expected }));
        const figures = await evalQueriesOn(kb, queries, { thresholds, onQuery: (o) => outcomes.push(o), yieldAfterMs: YIELD_AFTER_MS });
        const unknown = [...new Set(input.cases.map((c) => c.expected).filter((e): e is string => e !== null && !kb.get(e)?.enabled))];
        const stored = { outcomes: outcomes.map((o, i) => outcomeOf(o, input.cases[i]!.question, thresholds, input.llm)), unknown_expected: unknown, kb_digest: kbDigest };
        const name = input.name?.trim() || `run ${new Date(now()).toISOString().slice(0, 16).replace("T", " ")}`;
        const row = await sql.get<{ id: number }>(
          "INSERT INTO kb_batch_runs (name, created_at, created_by, kb_version, direct, suggest, llm, cases, figures, outcomes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
          [name, now(), input.by, version, thresholds.direct, thresholds.suggest, input.llm ? 1 : 0, input.cases.length, JSON.stringify(figures), JSON.stringify(stored)],
        );
        return (await get(row!.id))!;
      } finally {
        running = false;
      }
    },
    async list() {
      return (await sql.all<RunRow>(`SELECT ${SUMMARY_COLUMNS} FROM kb_batch_runs ORDER BY id DESC`)).map(summaryOf);
    },
    get: found,
    async latest() {
      const r = await sql.get<{ id: number; created_at: number }>("SELECT id, created_at FROM kb_batch_runs ORDER BY id DESC LIMIT 1");
      if (!r) return null;
      // An id can come back after the newest run is deleted: the creation time tells the runs apart.
      if (newest?.id !== r.id || newest.created_at !== new Date(r.created_at).toISOString()) newest = await get(r.id);
      return newest;
    },
    async delete(id) {
      if ((await sql.run("DELETE FROM kb_batch_runs WHERE id = ?", [id])).changes === 0) throw notFound(`batch run ${id}`);
    },
    stale(run) {
      const at = digests.get(run);
      return at === undefined ? run.kb_version !== kb.version() : at !== digest();
    },
    async compare(id, otherId) {
      return compareRuns(await found(id), await found(otherId));
    },
  };
}

const FIGURE_KEYS = ["n", "top1", "top3", "mrr", "oos_accuracy", "direct_precision", "direct_coverage", "false_direct_rate", "coverage_at_p90", "suggest_hit_rate"] as const;
const brief = (o: BatchOutcome) => ({ top: o.top, confidence: o.confidence, decision: o.decision, correct: o.correct });

/**
 * Questions whose outcome (top entry, decision or correctness) differs between two runs, matched by question and
 * expected entry (a repeated question by its occurrence), the questions only one run has, and the figures side by side.
 */
export function compareRuns(run: BatchRun, other: BatchRun) {
  const keyed = (r: BatchRun) => {
    const seen = new Map<string, number>();
    return new Map(
      r.outcomes.map((o) => {
        const base = `${o.question}\u0000${o.expected ?? ""}`;
        const k = seen.get(base) ?? 0;
        seen.set(base, k + 1);
        return [`${base}\u0000${k}`, o] as const;
      }),
    );
  };
  const a = keyed(run);
  const b = keyed(other);
  const changed: { question: string; expected: string | null; run: ReturnType<typeof brief>; other: ReturnType<typeof brief> }[] = [];
  const onlyInRun: string[] = [];
  for (const [k, o] of a) {
    const p = b.get(k);
    if (!p) onlyInRun.push(o.question);
    else if (p.top !== o.top || p.decision !== o.decision || p.correct !== o.correct) changed.push({ question: o.question, expected: o.expected, run: brief(o), other: brief(p) });
  }
  const onlyInOther = [...b].filter(([k]) => !a.has(k)).map(([, o]) => o.question);
  const summary = ({ outcomes: _o, unknown_expected: _u, ...s }: BatchRun) => s;
  return {
    run: summary(run),
    other: summary(other),
    changed,
    only_in_run: onlyInRun,
    only_in_other: onlyInOther,
    figures: Object.fromEntries(FIGURE_KEYS.map((k) => [k, { run: run.figures[k], other: other.figures[k] }])),
  };
}
