/**
 * Fits a knowledge base's confidence calibrator (`calibration.ts`) from the
 * knowledge base itself, in the background after it changes:
 * - each sampled alternative phrasing asked against the rest of its entry
 *   (leave-one-out: an in-scope question; right when its entry comes out on top),
 * - each sampled entry's question asked with the whole entry left out (a question
 *   in the shop's own register that the knowledge base cannot answer),
 * - some entries' questions asked word for word (in scope, and answered),
 * - entries with a single phrasing: the question shortened (in scope),
 * - generic questions no shop answers (`background/`, shipped with kefu),
 * weighed so in-scope and out-of-scope count half each. The old calibrator serves
 * until the new one is in; a fit is bounded in samples and time.
 */
import en from "./background/en.txt" with { type: "text" };
import zh from "./background/zh.txt" with { type: "text" };
import { type Calibrator, fitCalibrator, PRIOR_CALIBRATOR, type Sample } from "./calibration.ts";
import { cosine, type Embedder, hash32 } from "./embedder.ts";
import type { LeaveOut } from "./engine.ts";

export interface CalibrationOptions {
  /** Re-fit on its own after writes (default false: callers that want it, `kefu serve`, turn it on). */
  auto?: boolean;
  /** Quiet time after the last write before an automatic fit starts, ms (default 2,000). */
  delayMs?: number;
  /** Alternative phrasings asked leave-one-out (default 400). */
  maxPhrasings?: number;
  /** Entries asked with the whole entry left out (default 300). */
  maxEntries?: number;
  /** Background questions asked (default 800). */
  maxBackground?: number;
  /** Sampling stops after this long; the fit uses what it has (default 30,000 ms). */
  budgetMs?: number;
  /** Precision of the Gaussian prior around `PRIOR_CALIBRATOR` per weight (default 20). */
  strength?: number;
  /** Called when a fit fails (it is retried after the next write). */
  onError?: (err: unknown) => void;
}

/** What the job needs of a knowledge base. */
export interface CalibrationTarget {
  version(): number;
  embedder: Embedder;
  calibrationEntries(): { id: string; phrasings: string[] }[];
  rankForCalibration(query: string, leaveOut?: LeaveOut): Promise<{ features: number[]; topId: string } | null>;
  /** Stores a fitted calibrator with the version it was fitted at. */
  saveCalibration(fit: StoredCalibration): void;
}

export interface StoredCalibration {
  version: number;
  calibrator: Calibrator;
  samples: { inScope: number; outOfScope: number };
}

const lines = (text: string) => text.split("\n").map((l) => l.trim()).filter(Boolean);
const BACKGROUND = { en: lines(en), zh: lines(zh) };
const CJK = /[\u3400-\u9fff]/;

/** Deterministic order: a fit of the same knowledge base asks the same questions. */
const byHash = <T>(items: T[], key: (t: T) => string) =>
  items.map((t) => ({ t, h: hash32(key(t)) })).sort((a, b) => a.h - b.h).map((x) => x.t);

/** A background sample whose question is (almost) word for word in the knowledge base is no out-of-scope example. */
const NEAR_VERBATIM_ORDER = 0.95;
/** Longest stretch of fitting work between two turns of the event loop. */
const YIELD_AFTER_MS = 5;
/** Questions asked word for word (few: they are easy, and only anchor the top of the scale). */
const EXACT_SAMPLES = 50;
/** Index of the `order` feature in `calibrationFeatures`. */
const ORDER_FEATURE = 5;

export class CalibrationJob {
  current: Calibrator;
  /** The samples of the last fit in this process and the version they were asked at (threshold curves, `tuning/`). */
  lastSamples: { version: number; samples: CollectedSample[] } | null = null;
  private fittedAt: number | null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly opts: Required<Omit<CalibrationOptions, "onError">> & Pick<CalibrationOptions, "onError">;

  constructor(
    private readonly kb: CalibrationTarget,
    options: CalibrationOptions = {},
    stored?: StoredCalibration | null,
  ) {
    this.opts = {
      auto: options.auto ?? false,
      delayMs: options.delayMs ?? 2_000,
      maxPhrasings: options.maxPhrasings ?? 400,
      maxEntries: options.maxEntries ?? 300,
      maxBackground: options.maxBackground ?? 800,
      budgetMs: options.budgetMs ?? 30_000,
      strength: options.strength ?? 20,
      onError: options.onError,
    };
    this.current = stored?.calibrator ?? PRIOR_CALIBRATOR;
    this.fittedAt = stored?.version ?? null;
  }

  /**
   * The knowledge base changed (our write, or another process's seen by a search): an automatic fit after
   * `delayMs`. Once armed, later calls add nothing; a change during the fit makes it run again.
   */
  changed(): void {
    if (!this.opts.auto || this.timer || this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      this.run().catch(() => {});
    }, this.opts.delayMs);
    this.timer.unref?.();
  }

  /** A search saw `version`: a knowledge base changed by another process gets a fit too. */
  seen(version: number): void {
    if (!this.running && this.fittedAt !== version) this.changed();
  }

  /** True while a fit runs. */
  get busy(): boolean {
    return this.running !== null;
  }

  /** True when the calibrator was fitted for the knowledge base as it is. */
  get fresh(): boolean {
    return this.fittedAt === this.kb.version();
  }

  /** Fits now unless fresh; joins a fit in progress (and runs once more after it if the knowledge base moved). */
  run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    if (this.fresh) return Promise.resolve();
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.fitOnce();
        } while (!this.stopped && (this.again || !this.fresh));
      } catch (err) {
        this.opts.onError?.(err);
        throw err;
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  /** No automatic fit any more, and one in progress stops asking and stores nothing (the database is closing). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async fitOnce(): Promise<void> {
    const version = this.kb.version();
    const samples = await this.collect();
    if (this.stopped) return;
    if (this.kb.version() !== version) return; // changed meanwhile: the loop in `run` starts over
    const calibrator = fitCalibrator(weighted(samples), PRIOR_CALIBRATOR, this.opts.strength);
    const inScope = samples.filter((s) => s.inScope).length;
    this.current = calibrator;
    this.fittedAt = version;
    this.lastSamples = { version, samples };
    this.kb.saveCalibration({ version, calibrator, samples: { inScope, outOfScope: samples.length - inScope } });
  }

  /** Every sample of the knowledge base as it is now (see the module comment). */
  async collect(): Promise<CollectedSample[]> {
    const deadline = performance.now() + this.opts.budgetMs;
    const entries = byHash(this.kb.calibrationEntries(), (e) => e.id);
    const out: CollectedSample[] = [];
    let slice = performance.now();
    const ask = async (query: string, leaveOut: LeaveOut | undefined, expected: string | null, kind: CollectedSample["kind"]) => {
      if (this.stopped || performance.now() > deadline) return;
      // Searches resolve without I/O (the built-in embedder): without a real yield the whole fit would be one
      // block of the event loop. Every few milliseconds the chat and HTTP requests get their turn.
      if (performance.now() - slice > YIELD_AFTER_MS) {
        await new Promise((r) => setImmediate(r));
        slice = performance.now();
      }
      const r = await this.kb.rankForCalibration(query, leaveOut);
      if (!r) return;
      if (kind === "background" && r.features[ORDER_FEATURE]! >= NEAR_VERBATIM_ORDER) return;
      out.push({ x: r.features, y: expected !== null && r.topId === expected ? 1 : 0, inScope: expected !== null, kind });
    };
    // Leave-one-out phrasings, spread over entries: the first alternative of every entry before any second one.
    const multi = entries.filter((e) => e.phrasings.length > 1);
    const picks: { id: string; phrasings: string[]; j: number }[] = [];
    for (let j = 0; picks.length < this.opts.maxPhrasings && multi.some((e) => e.phrasings.length > j); j++) {
      for (const e of multi) if (e.phrasings.length > j && picks.length < this.opts.maxPhrasings) picks.push({ ...e, j });
    }
    const embeddings = await this.embedAll([...new Set(picks.map((p) => p.id))].map((id) => multi.find((e) => e.id === id)!));
    for (const p of picks) {
      const vs = embeddings.get(p.id)!;
      await ask(p.phrasings[p.j]!, { id: p.id, phrasing: p.j, dense: cosine(vs[p.j]!, meanWithout(vs, p.j)) }, p.id, "phrasing");
    }
    // Entries with one phrasing have no other to ask: a shortened question stands in (an easy in-scope example,
    // but without any, the fit would learn only what is out of scope and push every confidence down).
    const single = entries.filter((e) => e.phrasings.length === 1);
    for (const e of single.slice(0, Math.max(0, this.opts.maxPhrasings - picks.length))) {
      const v = shortened(e.phrasings[0]!);
      if (v) await ask(v, undefined, e.id, "variant");
    }
    // The knowledge base's own questions asked as they are: a visitor who types one gets its answer.
    for (const e of entries.slice(0, EXACT_SAMPLES)) await ask(e.phrasings[0]!, undefined, e.id, "exact");
    for (const e of entries.slice(0, this.opts.maxEntries)) await ask(e.phrasings[0]!, { id: e.id, phrasing: "entry" }, null, "entry");
    for (const q of this.background(entries)) await ask(q, undefined, null, "background");
    return out;
  }

  /** Background questions in the knowledge base's languages (at least 15% of each, visitors switch). */
  private background(entries: { phrasings: string[] }[]): string[] {
    const texts = entries.flatMap((e) => e.phrasings);
    const cjk = texts.length ? texts.filter((t) => CJK.test(t)).length / texts.length : 0.5;
    const nZh = Math.round(this.opts.maxBackground * Math.min(0.85, Math.max(0.15, cjk)));
    const pick = (list: string[], n: number) => byHash(list, (q) => q).slice(0, n);
    return [...pick(BACKGROUND.zh, nZh), ...pick(BACKGROUND.en, this.opts.maxBackground - nZh)];
  }

  private async embedAll(entries: { id: string; phrasings: string[] }[]): Promise<Map<string, Float32Array[]>> {
    const out = new Map<string, Float32Array[]>();
    for (let i = 0; i < entries.length; i += 64) {
      const part = entries.slice(i, i + 64);
      const vs = await this.kb.embedder.embed(part.flatMap((e) => e.phrasings));
      let k = 0;
      for (const e of part) out.set(e.id, e.phrasings.map(() => vs[k++]!));
    }
    return out;
  }
}

export interface CollectedSample {
  x: number[];
  y: 0 | 1;
  inScope: boolean;
  kind: "phrasing" | "variant" | "exact" | "entry" | "background";
}

const WORDS = /[\p{L}\p{N}]+/gu;

/**
 * The question with about a third of its words (Latin) or characters (Chinese) dropped, at
 * positions fixed by its hash (never the first); null when too short to shorten. A third, not a quarter: the
 * in-scope stand-in of a single-phrasing knowledge base should be about as hard as a visitor's paraphrase, and
 * with a quarter 95–100% of them still found their entry against 56–71% of the dev sets' real questions
 * (src/kb/README.md, "What was tried", 2026-12-01).
 */
export function shortened(question: string): string | null {
  const cjk = CJK.test(question);
  const tokens = cjk ? Array.from(question.replace(/[^\p{L}\p{N}]/gu, "")) : (question.match(WORDS) ?? []);
  if (tokens.length < (cjk ? 4 : 3)) return null;
  const drop = new Set<number>();
  const k = Math.max(1, Math.round(tokens.length / 3));
  for (let i = 0; drop.size < k && i < 8 * k; i++) drop.add(1 + (hash32(question, i + 1) % (tokens.length - 1)));
  return tokens.filter((_, i) => !drop.has(i)).join(cjk ? "" : " ");
}

/**
 * Likelihood weights: in-scope and out-of-scope samples half the total each (a
 * confidence for a visitor who is as likely to ask something the shop answers as
 * not), and out of scope, the knowledge base's own left-out entries and the
 * background questions half each. A side without samples gives its half to the other.
 */
export function weighted(samples: CollectedSample[]): Sample[] {
  const n = samples.length;
  const groups = { in: samples.filter((s) => s.inScope).length, entry: 0, background: 0 };
  for (const s of samples) if (!s.inScope) groups[s.kind === "background" ? "background" : "entry"]++;
  const outShare = groups.in ? 0.5 : 1;
  const inShare = 1 - outShare;
  const entryShare = groups.background ? (groups.entry ? 0.5 : 0) : 1;
  return samples.map((s) => {
    const share = s.inScope ? inShare / groups.in : (outShare * (s.kind === "background" ? 1 - entryShare : entryShare)) / (s.kind === "background" ? groups.background : groups.entry);
    return { x: s.x, y: s.y, w: share * n };
  });
}

function meanWithout(vs: Float32Array[], skip: number): Float32Array {
  const out = new Float32Array(vs[0]!.length);
  vs.forEach((v, i) => {
    if (i !== skip) for (let d = 0; d < v.length; d++) out[d]! += v[d]!;
  });
  return out;
}
