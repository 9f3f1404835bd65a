/**
 * The knowledge base: entries stored in SQLite, indexed three ways (FTS5 terms,
 * entry-level feature frequencies, sqlite-vec embeddings) and searched by hybrid
 * candidate generation followed by in-memory re-scoring into one calibrated
 * confidence.
 */
import type { Database, Statement } from "bun:sqlite";
import { LRUCache } from "lru-cache";
import { KefuError } from "../errors/kefu-error.ts";
import { normalizeForMatch, tidyText } from "../text/normalize.ts";
import { features, indexTerms, TEXT_VERSION } from "../text/tokenize.ts";
import { cosine, type Embedder, embedQuery, HashEmbedder } from "./embedder.ts";
import { DEFAULT_MODEL, type RankerModel } from "./ranker-model.ts";
import {
  bagOf,
  type CandidateEntry,
  DEFAULT_SCORER,
  type MatchSignals,
  prepareQuery,
  type ScorerConfig,
  scoreCandidates,
  type TermStats,
} from "./scorer.ts";
import type { AnswerPath, EntryInput, KbEntry, Thresholds, WriteResult } from "./types.ts";
import { VectorIndex, type VectorIndexOptions } from "./vector-index.ts";
import { CHUNK_VEC_TABLE, DocumentIndex } from "./documents.ts";
import { decide } from "./decision.ts";
import { PairCorpusStats, pairScore } from "./pair-scorer.ts";
import { type Calibrator, calibratedConfidences, calibrationFeatures, maximizingPair, PRIOR_CALIBRATOR } from "./calibration.ts";
import { type CalibrationOptions, CalibrationJob, type StoredCalibration } from "./calibration-job.ts";

/** Default `memoryVectorLimit` (measured: bench/kb-cost.ts). */
export const MEMORY_VECTOR_LIMIT = 512;

/** Chosen on the development sets (see src/kb/README.md, "Thresholds"). */
export const DEFAULT_THRESHOLDS: Thresholds = { direct: 0.85, suggest: 0.3 };

export interface KnowledgeBaseOptions {
  /** Default: the built-in `HashEmbedder` (256 dims). */
  embedder?: Embedder;
  /** Default: `DEFAULT_THRESHOLDS`. */
  thresholds?: Thresholds;
  /**
   * Entries taken from full-text search per query (default 20). Measured 2026-11-30: 30 → 20 (both sources) leaves
   * top-1 on clinc150-val and lcqmc-dev unchanged and scores a third fewer candidates; 15 and 10 start to lose.
   */
  ftsCandidates?: number;
  /** Entries taken from vector search per query (default 20). */
  vectorCandidates?: number;
  /** Up to this many entries, vector search is exact; above, sign bits pre-filter (default 5,000). */
  exactVectorLimit?: number;
  /**
   * Up to this many entries, exact vector search runs over an in-memory copy of the vectors instead of sqlite-vec
   * (same results to the bit, `float-index.ts`); sqlite-vec reads its whole 1,024-slot chunk on every query however
   * few entries it holds. Default MEMORY_VECTOR_LIMIT; 0 turns it off.
   */
  memoryVectorLimit?: number;
  /** Query terms used in the full-text query, rarest first (default 12). */
  maxQueryTerms?: number;
  /** Entries kept vectorized in memory between queries (default 20,000). */
  cacheEntries?: number;
  scorer?: ScorerConfig;
  model?: RankerModel;
  /** Called while vectors are rebuilt because the embedder changed. */
  onReindexProgress?: (done: number, total: number) => void;
  /** How the confidence calibrator is fitted to this knowledge base (`calibration-job.ts`). */
  calibration?: CalibrationOptions;
}

export interface SearchOptions {
  /** Results returned (default 5). */
  k?: number;
  /**
   * The lowest confidence the caller acts on (the chat passes `suggest`). When the top entry cannot reach it
   * whatever the pair score of its best phrasing turns out to be, that score (a fifth of a search's CPU) is not
   * computed and every confidence is reported as its upper bound, still below `floor`: decisions at any threshold
   * at or above `floor` are the same as with the exact values. Default 0: exact confidences.
   */
  floor?: number;
  /** Matches without `signals` and `explanation` (the chat reads neither; they are most of a result's size). */
  brief?: boolean;
}

/** `SearchOptions` as a search on an embedded query takes them (every field given). */
export type EmbeddedSearchOptions = Required<SearchOptions>;

/** A match of a `brief` search. */
export interface BriefMatch {
  id: string;
  question: string;
  answer: string;
  /** The phrasing (main question or an alternative) that matched best. */
  matched: string;
  /** Calibrated probability that this entry answers the query, in [0, 1]. */
  confidence: number;
  /** Match probability of the pair alone, before comparing with rival entries. */
  match: number;
}

export interface SearchMatch extends BriefMatch {
  signals: MatchSignals & { fts: boolean; vector: boolean };
  explanation: string;
}

/** A search handed to a worker: the embedded query and what the main thread's state was when it was asked. */
export interface WorkerSearchRequest {
  query: string;
  vector: Float32Array;
  options: EmbeddedSearchOptions;
  version: number;
  calibrator: Calibrator;
}

/** The part of `SearchPool` (`search-pool.ts`) the engine calls; null from `search` means "search in this thread". */
export interface SearchPoolLike {
  usable(): boolean;
  search(req: WorkerSearchRequest & { embedder: Embedder }): Promise<SearchResult<BriefMatch> | null>;
  status(): object;
  close(): Promise<void>;
}

/** Ranking options a search worker opens its copy of the knowledge base with (plain data: posted to the worker). */
export type SearchWorkerOptions = Required<Pick<KnowledgeBaseOptions, "ftsCandidates" | "vectorCandidates" | "exactVectorLimit" | "memoryVectorLimit" | "maxQueryTerms" | "cacheEntries" | "scorer" | "model" | "thresholds">>;

export interface SearchResult<M extends BriefMatch = SearchMatch> {
  query: string;
  version: number;
  matches: M[];
}

export interface AskResult {
  query: string;
  path: AnswerPath;
  /** Top confidence (0 when nothing matched). */
  confidence: number;
  /** The verbatim answer, only on the `direct` path. */
  answer?: string;
  entryId?: string;
  /** `direct`: the ranked matches; `suggest`: the choices to offer (`choicesOf`); `none`: empty. */
  matches: SearchMatch[];
}

export interface EntryRow {
  rowid: number;
  id: string;
  question: string;
  alts: string;
  answer: string;
  tags: string;
  enabled: number;
  created_at: number;
  updated_at: number;
}

interface CachedEntry extends CandidateEntry {
  row: EntryRow;
  embedding?: Float32Array | null;
}

const VEC_TABLE = "kb_entry_vec";

/** Stable id for an entry imported without one: a hash of its normalized question. */
export function defaultEntryId(question: string): string {
  return `q-${Bun.hash(normalizeForMatch(question)).toString(16).padStart(16, "0")}`;
}

export function toEntry(row: EntryRow): KbEntry {
  return {
    id: row.id,
    question: row.question,
    alts: JSON.parse(row.alts),
    answer: row.answer,
    tags: JSON.parse(row.tags),
    enabled: row.enabled === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** Cleans an input into the stored shape; throws `invalid_entry` on empty question or answer. */
export function cleanEntry(input: EntryInput): Omit<KbEntry, "createdAt" | "updatedAt"> {
  const question = tidyText(input.question ?? "");
  const answer = (input.answer ?? "").trim();
  if (!question) throw new KefuError("invalid_entry", 400, "question is empty");
  if (!answer) throw new KefuError("invalid_entry", 400, "answer is empty");
  const seen = new Set([normalizeForMatch(question)]);
  const alts: string[] = [];
  for (const a of input.alts ?? []) {
    const t = tidyText(a);
    const key = normalizeForMatch(t);
    if (t && !seen.has(key)) {
      seen.add(key);
      alts.push(t);
    }
  }
  const tags = [...new Set((input.tags ?? []).map((t) => t.trim()).filter(Boolean))];
  const id = input.id?.trim() || defaultEntryId(question);
  return { id, question, alts, answer, tags, enabled: input.enabled ?? true };
}

function sameContent(row: EntryRow, e: Omit<KbEntry, "createdAt" | "updatedAt">): boolean {
  return (
    row.question === e.question &&
    row.answer === e.answer &&
    row.alts === JSON.stringify(e.alts) &&
    row.tags === JSON.stringify(e.tags) &&
    (row.enabled === 1) === e.enabled
  );
}

function entryFeatures(phrasings: string[]): Set<string> {
  const s = new Set<string>();
  for (const p of phrasings) for (const f of features(p).keys()) s.add(f);
  return s;
}

function meanVector(vs: Float32Array[]): Float32Array {
  const out = new Float32Array(vs[0]!.length);
  for (const v of vs) for (let i = 0; i < v.length; i++) out[i]! += v[i]!;
  let n = 0;
  for (let i = 0; i < out.length; i++) n += out[i]! * out[i]!;
  if (n > 0) {
    const inv = 1 / Math.sqrt(n);
    for (let i = 0; i < out.length; i++) out[i]! *= inv;
  }
  return out;
}

const PAIR_STATS_TEXTS = 20_000;

/** A phrasing of an entry (index into question + alternatives), or the whole entry, taken out of a ranking. */
export interface LeaveOut {
  id: string;
  phrasing: number | "entry";
  dense?: number;
}

/**
 * The candidates as if `leaveOut` were not indexed: the entry dropped, or a copy of it without the phrasing
 * (re-weighed, never cached). Also the features only the left-out text had, whose entry frequency it raised.
 */
function leaveOutOf(candidates: CachedEntry[], leaveOut: LeaveOut): { candidates: CachedEntry[]; features: Set<string>; entryGone: boolean } | null {
  const i = candidates.findIndex((c) => c.row.id === leaveOut.id);
  if (i < 0) return null;
  const c = candidates[i]!;
  const out = [...candidates];
  const whole = leaveOut.phrasing === "entry" || c.phrasings.length === 1;
  const keep = whole ? [] : c.phrasings.map((_, j) => j).filter((j) => j !== leaveOut.phrasing);
  if (whole) out.splice(i, 1);
  else {
    const bags = c.bags ?? c.phrasings.map((p) => bagOf(p));
    out[i] = {
      ...c,
      phrasings: keep.map((j) => c.phrasings[j]!),
      bags: keep.map((j) => bags[j]!),
      chars: c.chars && keep.map((j) => c.chars![j]),
      vectors: undefined,
      entries: undefined,
      uses: undefined,
      centroid: undefined,
      weighedAt: undefined,
      dense: leaveOut.dense ?? c.dense,
    };
  }
  const remaining = entryFeatures(keep.map((j) => c.phrasings[j]!));
  const gone = new Set([...entryFeatures(whole ? c.phrasings : [c.phrasings[leaveOut.phrasing as number]!])].filter((f) => !remaining.has(f)));
  return { candidates: out, features: gone, entryGone: whole };
}

/** Term statistics without one entry's share of some features (no memo: used for one query). */
function withoutFeatures(stats: TermStats, gone: Set<string>, entryGone: boolean): TermStats {
  return { entries: stats.entries - (entryGone ? 1 : 0), df: (f) => Math.max(0, stats.df(f) - (gone.has(f) ? 1 : 0)) };
}

export class KnowledgeBase {
  private thresholdsNow: Thresholds;
  /** How often `setThresholds` changed the thresholds: answers cached under the previous ones must not be reused. */
  thresholdChanges = 0;
  /**
   * Runs a write whose result depends on the whole knowledge base as it stands (an import with `replace`). In a
   * cluster (src/cluster/kb-sync.ts) it runs under a cluster-wide lock, after pulling what other nodes wrote and
   * pushed before the lock is let go: two replaces on two nodes then end as on one node (the later one's file),
   * not as the union of both files. Alone: runs `fn`.
   */
  exclusive: <T>(fn: () => Promise<T>) => Promise<T> = (fn) => fn();
  private embedderImpl: Embedder;
  private vectors!: VectorIndex;
  /** Documents split into chunks (retrieval-augmented answers). */
  documents!: DocumentIndex;
  private readonly opts: Required<Omit<KnowledgeBaseOptions, "embedder" | "thresholds" | "onReindexProgress" | "calibration">>;
  private readonly calibration: CalibrationJob;
  private pairStatsAt: { version: number; stats: PairCorpusStats } | null = null;
  private writeLock: Promise<unknown> = Promise.resolve();
  private cacheVersion = -1;
  /**
   * Version that everything held in memory (the vector index's sign bits, cached entries' texts and features, entry
   * frequencies) is known to match: our own writes keep it, selectively invalidating what they changed; any other
   * move of the version (another process wrote, a transaction failed) drops it all.
   */
  private syncedVersion = -1;
  /** What the write transaction in progress touched (rowids, scorer features), or everything. */
  private readonly touched = { rowids: new Set<number>(), features: new Set<string>(), all: false };
  private entryCount = 0;
  /** One string per distinct feature of the cached entries (see `bagOf`). */
  private readonly featureNames = new Map<string, string>();
  /** Entry frequency per scorer feature, as in `kb_df`. */
  private readonly dfCache = new Map<string, number>();
  /** Term statistics of `cacheVersion` (with their weight memo); rebuilt when the version changes. */
  private stats: TermStats | null = null;
  private readonly cache: LRUCache<number, CachedEntry>;
  private readonly stmt: Record<string, Statement>;
  private searchPool: SearchPoolLike | null = null;

  private constructor(
    readonly db: Database,
    options: KnowledgeBaseOptions,
  ) {
    this.embedderImpl = options.embedder ?? new HashEmbedder();
    this.thresholdsNow = { ...(options.thresholds ?? DEFAULT_THRESHOLDS) };
    this.opts = {
      ftsCandidates: options.ftsCandidates ?? 20,
      vectorCandidates: options.vectorCandidates ?? 20,
      exactVectorLimit: options.exactVectorLimit ?? 5_000,
      memoryVectorLimit: options.memoryVectorLimit ?? MEMORY_VECTOR_LIMIT,
      maxQueryTerms: options.maxQueryTerms ?? 12,
      cacheEntries: options.cacheEntries ?? 20_000,
      scorer: options.scorer ?? DEFAULT_SCORER,
      model: options.model ?? DEFAULT_MODEL,
    };
    this.cache = new LRUCache({ max: this.opts.cacheEntries });
    const p = (sql: string) => db.prepare(sql);
    this.stmt = {
      version: p("SELECT value FROM kb_meta WHERE key = 'version'"),
      bump: p("UPDATE kb_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'"),
      meta: p("SELECT value FROM kb_meta WHERE key = ?"),
      setMeta: p("INSERT INTO kb_meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
      count: p("SELECT count(*) AS n FROM kb_entries WHERE enabled = 1"),
      total: p("SELECT count(*) AS n FROM kb_entries"),
      byId: p("SELECT * FROM kb_entries WHERE id = ?"),
      byRowid: p("SELECT * FROM kb_entries WHERE rowid = ?"),
      insert: p(
        "INSERT INTO kb_entries(id, question, alts, answer, tags, enabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING rowid",
      ),
      update: p("UPDATE kb_entries SET question = ?, alts = ?, answer = ?, tags = ?, enabled = ?, updated_at = ? WHERE rowid = ?"),
      remove: p("DELETE FROM kb_entries WHERE rowid = ?"),
      ftsInsert: p("INSERT INTO kb_entry_fts(rowid, terms) VALUES (?, ?)"),
      ftsDelete: p("DELETE FROM kb_entry_fts WHERE rowid = ?"),
      ftsSearch: p("SELECT rowid FROM kb_entry_fts WHERE kb_entry_fts MATCH ? ORDER BY rank LIMIT ?"),
      df: p("SELECT df FROM kb_df WHERE feature = ?"),
      dfAdd: p("INSERT INTO kb_df(feature, df) VALUES (?, ?) ON CONFLICT(feature) DO UPDATE SET df = df + excluded.df"),
      dfPrune: p("DELETE FROM kb_df WHERE df <= 0"),
    };
    this.calibration = new CalibrationJob(this, options.calibration, this.storedCalibration());
  }

  /**
   * Opens the knowledge base on a database where `kbMigrations` ran and sqlite-vec
   * is loaded. When the recorded embedder differs from the configured one, every
   * vector is rebuilt (progress through `onReindexProgress`) before this resolves.
   */
  static async open(db: Database, options: KnowledgeBaseOptions = {}): Promise<KnowledgeBase> {
    const kb = new KnowledgeBase(db, options);
    const id = kb.meta("embedder_id");
    const dim = Number(kb.meta("embedder_dim") ?? 0);
    const text = kb.meta("text_version");
    if (id === kb.embedderImpl.id && dim === kb.embedderImpl.dim && text === TEXT_VERSION) {
      kb.vectors = new VectorIndex(db, VEC_TABLE, dim, kb.vectorOptions());
      kb.documents = kb.newDocumentIndex();
      kb.checkVectorRows();
    } else {
      await kb.reindex(kb.embedderImpl, options.onReindexProgress);
    }
    return kb;
  }

  get embedder(): Embedder {
    return this.embedderImpl;
  }

  /** The decision thresholds in force (read on every decision, so a change applies to the next question). */
  get thresholds(): Thresholds {
    return this.thresholdsNow;
  }

  /** Replaces the decision thresholds at run time (the settings table, `src/settings`); the caller validates them. */
  setThresholds(t: Thresholds): void {
    if (t.direct === this.thresholdsNow.direct && t.suggest === this.thresholdsNow.suggest) return;
    this.thresholdsNow = { direct: t.direct, suggest: t.suggest };
    this.thresholdChanges++;
  }

  /** The entry vectors are searched in memory while few (`memoryVectorLimit`); `forgetAll` resets that copy. */
  private vectorOptions(): VectorIndexOptions {
    return { memoryRows: this.opts.memoryVectorLimit };
  }

  /** Changes on every write; caches of answers key on it. */
  version(): number {
    return Number((this.stmt.version!.get() as { value: string }).value);
  }

  /** Enabled entries. */
  count(): number {
    return (this.stmt.count!.get() as { n: number }).n;
  }

  get(id: string): KbEntry | null {
    const row = this.stmt.byId!.get(id) as EntryRow | null;
    return row ? toEntry(row) : null;
  }

  /** Every entry in insertion order (for export). */
  *all(): Generator<KbEntry> {
    for (const row of this.db.prepare("SELECT * FROM kb_entries ORDER BY rowid").iterate() as Iterable<EntryRow>) {
      yield toEntry(row);
    }
  }

  /**
   * Inserts or updates entries by id in one transaction; an entry whose content is
   * identical is left alone (its timestamps and vectors untouched). With `replace`, every
   * entry not among `inputs` is deleted in the same transaction (deletes first: a failure
   * on a later row leaves them all in place); ids in `keep` are spared (an import's rejected lines). The version
   * moves only when something changed.
   */
  upsert(inputs: EntryInput[], options: { replace?: boolean; keep?: Iterable<string> } = {}): Promise<WriteResult & { ids: string[]; deleted: string[] }> {
    return this.serialized(async () => {
      const cleaned = inputs.map(cleanEntry);
      const byId = new Map(cleaned.map((e) => [e.id, e]));
      // The plan rests on rows read before the embedding wait.
      return this.retryWhileMoved("this write", async (planned) => {
        const plans: { e: (typeof cleaned)[number]; old: EntryRow | null }[] = [];
        let unchanged = 0;
        for (const e of byId.values()) {
          const old = this.stmt.byId!.get(e.id) as EntryRow | null;
          if (old && sameContent(old, e)) unchanged++;
          else plans.push({ e, old });
        }
        const keep = new Set(options.keep);
        const gone = options.replace
          ? (this.db.prepare("SELECT rowid, id, question, alts, enabled FROM kb_entries ORDER BY rowid").all() as EntryRow[]).filter((r) => !byId.has(r.id) && !keep.has(r.id))
          : [];
        const embedded = await this.embedEntries(plans.filter((p) => p.e.enabled).map((p) => [p.e.question, ...p.e.alts]));
        let k = 0;
        const now = Date.now();
        let added = 0;
        let updated = 0;
        const written = this.writeTransaction(() => {
          const df = new Map<string, number>();
          for (const old of gone) {
            if (old.enabled === 1) this.unindex(old.rowid, [old.question, ...JSON.parse(old.alts)], df);
            this.stmt.remove!.run(old.rowid);
          }
          for (const { e, old } of plans) {
            let rowid: number;
            if (old) {
              rowid = old.rowid;
              if (old.enabled === 1) this.unindex(rowid, [old.question, ...JSON.parse(old.alts)], df);
              this.stmt.update!.run(e.question, JSON.stringify(e.alts), e.answer, JSON.stringify(e.tags), e.enabled ? 1 : 0, now, rowid);
              updated++;
            } else {
              const r = this.stmt.insert!.get(e.id, e.question, JSON.stringify(e.alts), e.answer, JSON.stringify(e.tags), e.enabled ? 1 : 0, now, now) as {
                rowid: number;
              };
              rowid = r.rowid;
              added++;
            }
            if (e.enabled) this.index(rowid, [e.question, ...e.alts], embedded[k++]!, df);
          }
          this.applyDf(df);
          if (plans.length || gone.length) this.bumpVersion();
        }, planned);
        return written ? { added, updated, unchanged, version: this.version(), ids: [...byId.keys()], deleted: gone.map((r) => r.id) } : undefined;
      });
    });
  }

  /** Deletes entries by id; returns how many existed. */
  delete(ids: string[]): Promise<number> {
    return this.serialized(async () => {
      let n = 0;
      this.writeTransaction(() => {
        const df = new Map<string, number>();
        for (const id of ids) {
          const old = this.stmt.byId!.get(id) as EntryRow | null;
          if (!old) continue;
          if (old.enabled === 1) this.unindex(old.rowid, [old.question, ...JSON.parse(old.alts)], df);
          this.stmt.remove!.run(old.rowid);
          n++;
        }
        this.applyDf(df);
        if (n) this.bumpVersion();
      });
      return n;
    });
  }

  /**
   * Rebuilds every entry vector with `embedder` (new vectors are never mixed with
   * old ones) and records the embedder's id and dimension.
   */
  reindex(embedder: Embedder, onProgress?: (done: number, total: number) => void): Promise<void> {
    return this.serialized(async () => {
      // Rows read before the embedding waits: another process writing meanwhile would have its entries left out.
      await this.retryWhileMoved("re-indexing", async (planned) => {
        const rows = this.db.prepare("SELECT rowid, question, alts FROM kb_entries WHERE enabled = 1 ORDER BY rowid").all() as EntryRow[];
        const batch = 256;
        const vectors: Float32Array[] = [];
        // Searches meanwhile keep the current embedder and vectors; the switch happens only once the new ones are in.
        for (let i = 0; i < rows.length; i += batch) {
          const part = rows.slice(i, i + batch);
          vectors.push(...(await this.embedEntries(part.map((r) => [r.question, ...JSON.parse(r.alts)]), embedder)));
          onProgress?.(Math.min(i + batch, rows.length), rows.length);
        }
        this.documents ??= this.newDocumentIndex();
        const rebuildChunks = await this.documents.embedAll(embedder);
        const previous = this.embedderImpl;
        let written = false;
        try {
          this.embedderImpl = embedder;
          written = this.reindexTransaction(planned, rows, vectors, embedder, rebuildChunks);
        } finally {
          if (!written) this.restoreAfterFailedReindex(previous);
        }
        if (written && rows.length === 0) onProgress?.(0, 0);
        return written || undefined;
      });
    });
  }

  /** Rolled back: the tables are the previous ones again, and so must be the objects over them. */
  private restoreAfterFailedReindex(previous: Embedder): void {
    this.embedderImpl = previous;
    this.vectors = new VectorIndex(this.db, VEC_TABLE, previous.dim, this.vectorOptions());
    this.documents = this.newDocumentIndex();
  }

  /**
   * The write half of `reindex`: every entry's terms, statistics and vectors (and the chunks'), in one transaction.
   * False, writing nothing, when the version moved since `planned` (the rows read before embedding are stale).
   */
  private reindexTransaction(planned: number, rows: EntryRow[], vectors: Float32Array[], embedder: Embedder, rebuildChunks: () => void): boolean {
    return this.writeTransaction(() => {
      this.touched.all = true;
      rebuildChunks();
      // Full-text terms and term statistics follow the tokenizer, which may have changed too.
      this.db.run("DELETE FROM kb_entry_fts");
      this.db.run("DELETE FROM kb_df");
      const df = new Map<string, number>();
      for (const r of rows) {
        const phrasings = [r.question, ...(JSON.parse(r.alts) as string[])];
        this.stmt.ftsInsert!.run(r.rowid, phrasings.map((p) => indexTerms(p).join(" ")).join(" "));
        for (const f of entryFeatures(phrasings)) df.set(f, (df.get(f) ?? 0) + 1);
      }
      this.applyDf(df);
      this.stmt.setMeta!.run("text_version", TEXT_VERSION);
      VectorIndex.drop(this.db, VEC_TABLE);
      this.vectors = new VectorIndex(this.db, VEC_TABLE, embedder.dim, this.vectorOptions());
      rows.forEach((r, i) => this.vectors.put(r.rowid, vectors[i]!));
      this.stmt.setMeta!.run("embedder_id", embedder.id);
      this.stmt.setMeta!.run("embedder_dim", String(embedder.dim));
      this.bumpVersion();
      // Every vector table was rebuilt above, copies included.
      this.stmt.setMeta!.run("vector_rows_version", String(this.version()));
    }, planned);
  }

  /**
   * Ranked entries for a query with calibrated confidences and per-signal scores. With a search pool attached
   * (`search-pool.ts`), a worker thread ranks on its own read-only connection; whenever it cannot (none ready,
   * busy, behind this thread's version, dead, too slow) the search runs here, as without one.
   */
  search(query: string, options: SearchOptions & { brief: true }): Promise<SearchResult<BriefMatch>>;
  search(query: string, options?: SearchOptions & { brief?: false }): Promise<SearchResult>;
  search(query: string, options?: SearchOptions): Promise<SearchResult<BriefMatch>>;
  async search(query: string, options: SearchOptions = {}): Promise<SearchResult<BriefMatch>> {
    const embedded: EmbeddedSearchOptions = { k: options.k ?? 5, floor: options.floor ?? 0, brief: options.brief ?? false };
    const pool = this.searchPool;
    let qv: Float32Array | undefined;
    let embedder: Embedder | undefined;
    if (pool?.usable()) {
      qv = await embedQuery(() => this.embedderImpl, query);
      embedder = this.embedderImpl;
      const result = await pool.search({ query, vector: qv, options: embedded, version: this.version(), calibrator: this.calibrator, embedder });
      // A re-index switched the embedder meanwhile: the worker ranked with the previous vectors.
      if (result && embedder === this.embedderImpl) {
        this.calibration.seen(result.version);
        return result;
      }
    }
    if (!qv || embedder !== this.embedderImpl) qv = await embedQuery(() => this.embedderImpl, query);
    return this.searchEmbedded(query, qv, embedded);
  }

  /**
   * `search` on a query vector the caller embedded with this knowledge base's embedder: synchronous, so no write
   * of this thread commits in the middle (a search worker runs it inside one read transaction, with the
   * calibrator the main thread sent).
   */
  searchEmbedded(query: string, qv: Float32Array, options: Partial<EmbeddedSearchOptions> & { brief: true }, calibrator?: Calibrator): SearchResult<BriefMatch>;
  searchEmbedded(query: string, qv: Float32Array, options?: Partial<EmbeddedSearchOptions> & { brief?: false }, calibrator?: Calibrator): SearchResult;
  searchEmbedded(query: string, qv: Float32Array, options?: Partial<EmbeddedSearchOptions>, calibrator?: Calibrator): SearchResult<BriefMatch>;
  searchEmbedded(query: string, qv: Float32Array, options: Partial<EmbeddedSearchOptions> = {}, calibrator: Calibrator = this.calibrator): SearchResult<BriefMatch> {
    const { k = 5, floor = 0, brief = false } = options;
    const { version, ranked, byKey, fromFts, fromVec, pair } = this.rankEmbedded(query, qv);
    const bound = floor > 0 ? calibratedConfidences(ranked, maximizingPair(calibrator), calibrator) : null;
    const conf = bound && !(bound[0]! >= floor) ? bound : calibratedConfidences(ranked, pair(), calibrator);
    // From the candidates, not the LRU: a cache smaller than the candidate list may have evicted some.
    const matches = ranked.slice(0, k).map((r, i): BriefMatch | SearchMatch => {
      const c = byKey.get(r.key)!;
      const phrasing = c.phrasings[r.bestPhrasing]!;
      const m: BriefMatch = { id: c.row.id, question: c.row.question, answer: c.row.answer, matched: phrasing, confidence: conf[i]!, match: r.match };
      if (brief) return m;
      const signals = { ...r.signals, fts: fromFts.has(r.key), vector: fromVec.has(r.key) };
      return { ...m, signals, explanation: explain(signals, phrasing, c.row.question) };
    });
    return { query, version, matches };
  }

  /**
   * What the calibrator sees of a query's ranking, optionally as if one phrasing of an entry (or the whole
   * entry) were not in the knowledge base: how `calibration-job.ts` asks the knowledge base's own questions
   * without the answer key in sight. `dense` replaces the left-out entry's embedding cosine (the caller
   * knows the embedding of the remaining phrasings). Null when nothing was found.
   */
  async rankForCalibration(query: string, leaveOut?: LeaveOut): Promise<{ features: number[]; topId: string } | null> {
    const { ranked, byKey, pair } = await this.rank(query, leaveOut);
    return ranked.length ? { features: calibrationFeatures(ranked, pair()), topId: byKey.get(ranked[0]!.key)!.row.id } : null;
  }

  /** Every enabled entry's id and phrasings (question first), for fitting the calibrator. */
  calibrationEntries(): { id: string; phrasings: string[] }[] {
    const rows = this.db.prepare("SELECT id, question, alts FROM kb_entries WHERE enabled = 1").all() as EntryRow[];
    return rows.map((r) => ({ id: r.id, phrasings: [r.question, ...(JSON.parse(r.alts) as string[])] }));
  }

  saveCalibration(fit: StoredCalibration): void {
    this.stmt.setMeta!.run("calibration", JSON.stringify({ ...fit, embedder: this.embedderImpl.id }));
  }

  private storedCalibration(): StoredCalibration | null {
    try {
      const raw = this.meta("calibration");
      const fit = raw ? (JSON.parse(raw) as StoredCalibration & { embedder?: string }) : null;
      // Fitted for another embedder (a re-index followed), or by a release with other features: not this model's.
      if (!fit || fit.embedder !== this.embedderImpl.id || fit.calibrator.weights.length !== PRIOR_CALIBRATOR.weights.length) return null;
      return fit;
    } catch {
      return null;
    }
  }

  /** Searches go to this pool of worker threads while it is usable (`search-pool.ts`); null: in this thread. */
  useSearchPool(pool: SearchPoolLike | null): void {
    this.searchPool = pool;
  }

  /** Workers, searches they answered and searches handed back (`SearchPoolStatus`); null without a pool. */
  searchPoolStatus(): object | null {
    return this.searchPool?.status() ?? null;
  }

  searchPoolAttached(pool: SearchPoolLike): boolean {
    return this.searchPool === pool;
  }

  /** What a search worker needs to open the same knowledge base read-only and rank exactly as this one does. */
  workerOptions(): SearchWorkerOptions {
    return { ...this.opts, thresholds: this.thresholdsNow };
  }

  /** The calibrator in use (fitted for this knowledge base, or the prior until the first fit). */
  get calibrator(): Calibrator {
    return this.calibration.current;
  }

  /** Whether the calibrator fits this version, whether a fit runs, and the samples of the last fit in this process. */
  calibrationState(): { fresh: boolean; running: boolean; samples: CalibrationJob["lastSamples"] } {
    return { fresh: this.calibration.fresh, running: this.calibration.busy, samples: this.calibration.lastSamples };
  }

  /** Fits the calibrator to the knowledge base as it is now, if it changed since the last fit; resolves when done. */
  calibrate(): Promise<void> {
    return this.calibration.run();
  }

  /** Cancels an automatic fit that has not started (before closing the database); closes the search pool. */
  close(): void {
    this.calibration.stop();
    const pool = this.searchPool;
    this.searchPool = null;
    void pool?.close();
  }

  /**
   * Character statistics of the knowledge base's phrasings for the pair scorer's view of the top match (one
   * calibration feature), per version; at most `PAIR_STATS_TEXTS` phrasings, so a big knowledge base costs the same.
   */
  private pairStats(): PairCorpusStats {
    if (this.pairStatsAt?.version !== this.cacheVersion) {
      const texts: string[] = [];
      for (const e of this.calibrationEntries()) {
        for (const p of e.phrasings) if (texts.length < PAIR_STATS_TEXTS) texts.push(p);
        if (texts.length >= PAIR_STATS_TEXTS) break;
      }
      this.pairStatsAt = { version: this.cacheVersion, stats: new PairCorpusStats(texts) };
    }
    return this.pairStatsAt.stats;
  }

  private async rank(query: string, leaveOut?: LeaveOut) {
    // The only wait comes first: from here on nothing runs in between, so the statistics, the cache and the
    // index all belong to one version (a write committing mid-search would leave entries weighed with old ones).
    const qv = await embedQuery(() => this.embedderImpl, query);
    return this.rankEmbedded(query, qv, leaveOut);
  }

  private rankEmbedded(query: string, qv: Float32Array, leaveOut?: LeaveOut) {
    const version = this.refreshCaches();
    this.calibration.seen(version);
    const stats = this.termStats();
    const fromFts = new Set(this.ftsCandidates(query, stats));
    const fromVec = this.vectorCandidates(qv);
    const rowids = new Set<number>([...fromFts, ...fromVec.keys()]);
    if (this.featureNames.size > 1_000_000) this.featureNames.clear();
    const candidates: CachedEntry[] = [];
    for (const rowid of rowids) {
      const c = this.candidate(rowid);
      if (!c) continue;
      if (c.embedding === undefined) c.embedding = this.vectors.get(rowid);
      c.bags ??= c.phrasings.map((p) => bagOf(p, this.featureNames));
      c.dense = fromVec.get(rowid) ?? (c.embedding ? cosine(qv, c.embedding) : 0);
      candidates.push(c);
    }
    const left = leaveOut ? leaveOutOf(candidates, leaveOut) : null;
    const q = prepareQuery(query, left ? withoutFeatures(stats, left.features, left.entryGone) : stats, this.opts.scorer);
    const ranked = scoreCandidates(q, left?.candidates ?? candidates, stats, this.opts.scorer, this.opts.model);
    const byKey = new Map(candidates.map((c) => [c.key, c]));
    const top = ranked[0];
    // Called at most once: by a search before anything else runs (the statistics are this version's); by
    // rankForCalibration after its wait (a fit that saw the version move is thrown away: calibration-job.ts).
    const pair = () => {
      if (!top) return 0;
      const topPhrasing = (left?.candidates ?? candidates).find((c) => c.key === top.key)!.phrasings[top.bestPhrasing]!;
      return pairScore(query, topPhrasing, { stats: this.pairStats(), termStats: stats, scorer: this.opts.scorer, model: this.opts.model }, top.signals.dense);
    };
    return { version, ranked, byKey, fromFts, fromVec, pair };
  }

  /** The chat's decision (`decide`): verbatim answer, "did you mean" choices, or nothing. */
  async ask(question: string, options: SearchOptions = {}): Promise<AskResult> {
    const { matches } = await this.search(question, { k: options.k ?? 3 });
    const d = decide(matches, this.thresholds);
    if (d.entry) return { query: question, path: "direct", confidence: d.confidence, answer: d.entry.answer, entryId: d.entry.id, matches };
    return { query: question, path: d.path, confidence: d.confidence, matches: d.choices };
  }

  /** Entry-level feature frequencies, cached per version. */
  termStats(): TermStats {
    this.refreshCaches();
    if (!this.stats) {
      const dfStmt = this.stmt.df!;
      const cache = this.dfCache;
      this.stats = {
        entries: this.entryCount,
        df(feature: string): number {
          let v = cache.get(feature);
          if (v === undefined) {
            v = (dfStmt.get(feature) as { df: number } | null)?.df ?? 0;
            if (cache.size > 500_000) cache.clear();
            cache.set(feature, v);
          }
          return v;
        },
        memo: new WeakMap(),
        generation: this.cacheVersion,
      };
    }
    return this.stats;
  }

  private newDocumentIndex(): DocumentIndex {
    return new DocumentIndex(
      this.db,
      () => this.embedderImpl,
      () => {
        // Documents touch no entry: what is in memory stays valid across this bump.
        const before = this.version();
        this.bumpVersion();
        if (before === this.syncedVersion) this.syncedVersion = this.version();
      },
      (fn) => this.serialized(fn),
    );
  }

  /**
   * Runs a write transaction. What is held in memory follows our own writes: the
   * entries it changed leave the cache, the features whose frequency changed leave
   * the frequency cache, and every cached entry is re-weighed on next use (its
   * features are kept: they do not depend on the statistics). When the version
   * moved under us (another process wrote) or the transaction fails, everything
   * is dropped instead. With `planned` (the version a plan was made on before an
   * await), nothing is written and false returned if the version has moved since.
   */
  private writeTransaction(fn: () => void, planned?: number): boolean {
    const t = this.touched;
    let moved = false;
    try {
      this.db.transaction(() => {
        const v = this.version();
        if (v !== this.syncedVersion) {
          this.forgetAll();
          this.checkVectorRows();
        }
        if (planned !== undefined && v !== planned) moved = true;
        else fn();
      })();
      if (t.all) this.forgetAll();
      else if (t.rowids.size || t.features.size) {
        // The rest of the cache is re-weighed on use: its vectors are tagged with the statistics they came from.
        for (const r of t.rowids) this.cache.delete(r);
        for (const f of t.features) this.dfCache.delete(f);
      }
      this.syncedVersion = this.version();
      return !moved;
    } catch (err) {
      this.forgetAll();
      throw err;
    } finally {
      t.rowids.clear();
      t.features.clear();
      t.all = false;
    }
  }

  /**
   * Runs `attempt` with the version its plan rests on (rows read before an embedding wait), again while another
   * process keeps writing in between (`attempt` returns undefined): 3 tries, then `kb_busy`.
   */
  private async retryWhileMoved<T>(what: string, attempt: (planned: number) => Promise<T | undefined>): Promise<T> {
    for (let i = 0; i < 3; i++) {
      const result = await attempt(this.version());
      if (result !== undefined) return result;
    }
    throw new KefuError("kb_busy", 503, `the knowledge base kept changing during ${what} (another process is writing to it); try again`);
  }

  /**
   * Bumps the knowledge-base version and records that the vector row copies match it
   * (`vector-index.ts`). A release before the row copies bumps the version without
   * this record; `checkVectorRows` then rebuilds them.
   */
  private bumpVersion(): void {
    // Only a record that was in step moves forward: copies left stale by an older release stay marked as such.
    const inStep = this.meta("vector_rows_version") === String(this.version());
    this.stmt.bump!.run();
    if (inStep) this.stmt.setMeta!.run("vector_rows_version", String(this.version()));
  }

  /** Rebuilds the vector row copies from the vec0 tables if something that does not keep them wrote last. */
  private checkVectorRows(): void {
    if (this.meta("vector_rows_version") === String(this.version())) return;
    this.db.transaction(() => {
      for (const table of [VEC_TABLE, CHUNK_VEC_TABLE]) VectorIndex.rebuildRows(this.db, table);
      this.stmt.setMeta!.run("vector_rows_version", String(this.version()));
    })();
  }

  /** Drops everything held in memory about entries; it is rebuilt from the database on use. */
  private forgetAll(): void {
    this.vectors?.resetMemory();
    this.cache.clear();
    this.featureNames.clear();
    this.dfCache.clear();
    this.stats = null;
    this.cacheVersion = -1;
  }

  private refreshCaches(): number {
    const v = this.version();
    if (v !== this.syncedVersion) {
      // Written by someone else (another process, a rolled-back transaction).
      this.forgetAll();
      try {
        this.checkVectorRows();
        this.syncedVersion = v;
      } catch {
        // Busy writer elsewhere: answer from the database as it is and check again on the next search.
      }
    }
    if (v !== this.cacheVersion) {
      // Entry count and frequencies moved: new statistics (and weight memo).
      this.cacheVersion = v;
      this.stats = null;
      this.entryCount = this.count();
    }
    return v;
  }

  private candidate(rowid: number): CachedEntry | null {
    let c = this.cache.get(rowid);
    if (!c) {
      const row = this.stmt.byRowid!.get(rowid) as EntryRow | null;
      if (!row || row.enabled !== 1) return null;
      c = { key: rowid, row, phrasings: [row.question, ...JSON.parse(row.alts)] };
      this.cache.set(rowid, c);
    }
    return c;
  }

  private ftsCandidates(query: string, stats: TermStats): number[] {
    const terms = [...new Set(indexTerms(query))];
    // Rarest terms first; terms no entry has would match nothing anyway.
    // Terms in more than 5% of the entries cost the most (long posting lists)
    // and select the least; the vector search covers queries made only of those.
    const common = Math.max(50, stats.entries * 0.05);
    const known = terms
      .map((t) => ({ t, df: termDf(stats, t) }))
      .filter((x) => x.df > 0 && x.df <= common)
      .sort((a, b) => a.df - b.df)
      .slice(0, this.opts.maxQueryTerms);
    if (known.length === 0) return [];
    const expr = known.map((x) => `"${x.t}"`).join(" OR ");
    return (this.stmt.ftsSearch!.all(expr, this.opts.ftsCandidates) as { rowid: number }[]).map((r) => r.rowid);
  }

  private vectorCandidates(qv: Float32Array): Map<number, number> {
    const k = this.opts.vectorCandidates;
    if (this.entryCount <= this.opts.exactVectorLimit) return new Map(this.vectors.nearest(qv, k));
    const out = new Map<number, number>();
    for (const rowid of this.vectors.nearestBySketch(qv, k * 2)) {
      const v = this.vectors.get(rowid);
      if (v) out.set(rowid, cosine(qv, v));
    }
    return new Map([...out].sort((a, b) => b[1] - a[1]).slice(0, k));
  }

  private async embedEntries(phrasingLists: string[][], embedder = this.embedderImpl): Promise<Float32Array[]> {
    const flat = phrasingLists.flat();
    if (flat.length === 0) return [];
    const vs = await embedder.embed(flat);
    const out: Float32Array[] = [];
    let i = 0;
    for (const list of phrasingLists) {
      out.push(meanVector(vs.slice(i, i + list.length)));
      i += list.length;
    }
    return out;
  }

  private index(rowid: number, phrasings: string[], vector: Float32Array, df: Map<string, number>): void {
    this.touched.rowids.add(rowid);
    this.stmt.ftsInsert!.run(rowid, phrasings.map((p) => indexTerms(p).join(" ")).join(" "));
    for (const f of entryFeatures(phrasings)) df.set(f, (df.get(f) ?? 0) + 1);
    this.vectors.put(rowid, vector);
  }

  private unindex(rowid: number, phrasings: string[], df: Map<string, number>): void {
    this.touched.rowids.add(rowid);
    this.stmt.ftsDelete!.run(rowid);
    for (const f of entryFeatures(phrasings)) df.set(f, (df.get(f) ?? 0) - 1);
    this.vectors.delete(rowid);
  }

  private applyDf(delta: Map<string, number>): void {
    let negative = false;
    for (const [f, d] of delta) {
      if (d === 0) continue;
      this.touched.features.add(f);
      this.stmt.dfAdd!.run(f, d);
      if (d < 0) negative = true;
    }
    if (negative) this.stmt.dfPrune!.run();
  }

  private meta(key: string): string | undefined {
    return (this.stmt.meta!.get(key) as { value: string } | null)?.value;
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    return this.serializedWrite(fn).finally(() => this.calibration.changed());
  }

  private serializedWrite<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writeLock.then(fn, fn);
    this.writeLock = run.catch(() => undefined);
    return run;
  }
}

/** Entry-level frequency of an index term, via its scorer feature. */
function termDf(stats: TermStats, term: string): number {
  const chars = Array.from(term);
  const isCjk = /^[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]+$/u.test(term);
  if (isCjk) return stats.df(chars.length === 1 ? `c${term}` : `b${term}`);
  return stats.df(`w${term}`);
}

function explain(s: SearchMatch["signals"], matched: string, question: string): string {
  const parts = [
    `best phrasing ${matched === question ? "(main question)" : `"${matched}"`} cosine ${s.phrasing.toFixed(2)}`,
    `entry centroid ${s.entry.toFixed(2)}`,
    `query coverage ${(s.queryCoverage * 100).toFixed(0)}%`,
    `order overlap ${s.order.toFixed(2)}`,
    `embedding ${s.dense.toFixed(2)}`,
  ];
  if (s.classifier !== 0) parts.push(`phrasing classifier vs. the other top entries ${s.classifier > 0 ? "+" : ""}${s.classifier.toFixed(2)}`);
  if (s.unknown > 0.05) parts.push(`${(s.unknown * 100).toFixed(0)}% of the query is unknown to the knowledge base`);
  parts.push(`found by ${[s.fts && "full-text", s.vector && "vector"].filter(Boolean).join(" + ") || "cache"}`);
  return parts.join("; ");
}
