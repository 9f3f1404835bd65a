import { hostname } from "node:os";
import type { Source } from "../chat/schemas";
import type { Lang } from "../i18n/texts";
import type { Logger } from "../log/logger";
import type { BusinessHours } from "../schedule/business-hours";
import type { PendingQuestion, PendingStore } from "./pending-store";
import { answerText, formatOpening } from "./texts";

/**
 * Off-hours questions: outside business hours a question the bot cannot answer directly is saved, the
 * visitor is told when to expect the answer, and a batch job answers the saved questions at the next
 * opening (a timer armed from `nextOpening`) or on demand, with bounded concurrency. Answers are posted
 * into the conversation; a question no model can answer is handed to the agents.
 *
 * Cluster mode: every node arms the timer, the node holding the leadership (`isLeader`) runs the batch, and
 * each question is claimed before it is answered (PendingStore.claim), so even two runs at once (a run started
 * by hand on another node, a leadership change mid-run) answer each question exactly once.
 */

/** How answers reach a conversation; the chat layer is adapted to this at start-up. */
export interface ConversationSink {
  postBotMessage(conversationId: string, text: string, sources?: Source[]): Promise<void>;
  requestHandoff(conversationId: string): Promise<void>;
}

/** Timer functions, injectable so tests drive the schedule with a fake clock. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface OffHoursOptions {
  hours: BusinessHours;
  store: PendingStore;
  sink: ConversationSink;
  /** A direct or model answer for one saved question, or null when there is none (→ handoff). */
  answer(q: PendingQuestion, signal: AbortSignal): Promise<{ text: string; sources: Source[] } | null>;
  /** Questions answered at once by the batch. */
  concurrency: number;
  /** Resolved questions older than this are deleted when a batch runs. */
  retentionDays: number;
  /** Default `() => new Date()`; must be the same clock `hours` uses. */
  now?: () => Date;
  /** Default the global setTimeout / clearTimeout. */
  timers?: Timers;
  log?: Logger;
  /**
   * True while this node may run the scheduled batch (cluster: it holds the off-hours leadership). Default
   * always. Given at all, every node arms the opening timer (the leader may not be the node that saved the
   * questions); a node that is not the leader when it fires checks again every LEADER_RETRY_MS while questions wait.
   */
  isLeader?: () => boolean;
  /** This runner's name in the claims (default `<hostname>-<pid>-<random>`). */
  runnerId?: string;
  /** A claim older than this is taken over by another runner (its node died mid-answer). Default 10 minutes. */
  claimTimeoutMs?: number;
}

export interface BatchReport {
  /** Questions taken from the table in this run. */
  processed: number;
  answered: number;
  handed_off: number;
  failed: number;
  /** Still pending after the run (asked meanwhile, or left by a shutdown). */
  pending: number;
  started_at: string;
  finished_at: string;
}

export interface OffHoursStatus {
  open: boolean;
  pending: number;
  next_opening: string | null;
  /** When the armed timer runs the batch (a long closure is waited for in steps of at most ~24 days). */
  timer_due_at: string | null;
  running: boolean;
  last_run: BatchReport | null;
}

/** setTimeout stores delays in 32 bits; longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const PAGE = 100;
/** How often a node that is not the leader looks again at questions still waiting after opening time. */
export const LEADER_RETRY_MS = 60_000;
const CLAIM_TIMEOUT_MS = 10 * 60_000;

export class OffHours {
  private readonly now: () => Date;
  private readonly timers: Timers;
  private timer: unknown = null;
  private timerDueAt: Date | null = null;
  private running: Promise<BatchReport> | null = null;
  private lastRun: BatchReport | null = null;
  private stopped = false;
  private readonly abort = new AbortController();
  private readonly isLeader: () => boolean;
  private readonly runnerId: string;

  constructor(private readonly opts: OffHoursOptions) {
    this.now = opts.now ?? (() => new Date());
    this.isLeader = opts.isLeader ?? (() => true);
    this.runnerId = opts.runnerId ?? `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    this.timers = opts.timers ?? { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as Timer) };
  }

  isClosed(): boolean {
    return !this.opts.hours.isOpen(this.now());
  }

  /** Saves the question, arms the batch timer, and returns the notice for the visitor. */
  async defer(q: { conversationId: string; question: string; lang: Lang }): Promise<{ id: number; opensAt: Date | null; notice: string }> {
    const now = this.now();
    const saved = await this.opts.store.add({ ...q, now: now.getTime() });
    const opensAt = this.opts.hours.nextOpening(now);
    this.arm();
    const notice = opensAt
      ? answerText(q.lang, "off_hours", { time: formatOpening(opensAt, this.opts.hours.timezone, q.lang) })
      : answerText(q.lang, "off_hours_unknown");
    this.opts.log?.info("question deferred to opening time", { pending_id: saved.id, conversation_id: q.conversationId, opens_at: opensAt?.toISOString() ?? null });
    return { id: saved.id, opensAt, notice };
  }

  /** Call once at start-up: questions saved before a restart get their timer back (cluster: every node arms it). */
  async start(): Promise<void> {
    if (this.opts.isLeader || (await this.opts.store.countPending()) > 0) this.arm();
  }

  /** Answers every pending question now; a run already in progress is joined rather than doubled. */
  run(): Promise<BatchReport> {
    this.running ??= this.batch().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Cancels the timer and the answers in progress; unanswered questions stay pending for the next start. */
  stop() {
    this.stopped = true;
    this.abort.abort();
    this.disarm();
  }

  async status(): Promise<OffHoursStatus> {
    const now = this.now();
    const pending = await this.opts.store.countPending();
    return {
      open: this.opts.hours.isOpen(now),
      pending,
      next_opening: this.opts.hours.nextOpening(now)?.toISOString() ?? null,
      timer_due_at: this.timerDueAt?.toISOString() ?? null,
      running: this.running !== null,
      last_run: this.lastRun,
    };
  }

  private arm(retryMs?: number) {
    if (this.timer !== null || this.stopped) return;
    const now = this.now();
    const next = this.opts.hours.nextOpening(now);
    // A schedule that never opens leaves the questions to the admin endpoint.
    if (!next) return;
    const delay = Math.min(Math.max(0, retryMs ?? next.getTime() - now.getTime()), MAX_TIMER_MS);
    this.timerDueAt = new Date(now.getTime() + delay);
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      this.timerDueAt = null;
      // A chained long wait or a timer that fired early (clock adjusted) is armed again.
      if (this.isClosed()) this.arm();
      else if (this.isLeader()) void this.run();
      else void this.leaderRetry();
    }, delay);
  }

  /** Not the leader at opening: the leader answers; look again later in case there is none (or it stops). */
  private async leaderRetry() {
    try {
      if ((await this.opts.store.countPending()) > 0) this.arm(LEADER_RETRY_MS);
      else if (this.opts.isLeader) this.arm();
    } catch (err) {
      this.opts.log?.warn("off-hours questions could not be counted", { err });
      this.arm(LEADER_RETRY_MS);
    }
  }

  private disarm() {
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.timerDueAt = null;
  }

  private async batch(): Promise<BatchReport> {
    const { store, sink, log } = this.opts;
    const by = this.runnerId;
    const claimTimeout = this.opts.claimTimeoutMs ?? CLAIM_TIMEOUT_MS;
    const startedAt = this.now();
    await store.purgeResolved(startedAt.getTime() - this.opts.retentionDays * 86_400_000);
    const report = { processed: 0, answered: 0, handed_off: 0, failed: 0 };
    // One handoff per conversation per run, however many of its questions the model could not answer.
    const handedOff = new Set<string>();

    const handle = async (listed: PendingQuestion) => {
      if (this.stopped) return;
      // Taken by this runner only: another one (another node) answering it meanwhile skips it.
      const now = this.now().getTime();
      const q = await store.claim(listed.id, by, now, now - claimTimeout).catch((err) => {
        log?.warn("off-hours question could not be claimed", { pending_id: listed.id, err });
        return null;
      });
      if (!q) return;
      try {
        const out = await this.opts.answer(q, this.abort.signal);
        if (this.stopped) return void (await store.release(q.id, by));
        report.processed++;
        if (out) {
          await sink.postBotMessage(q.conversationId, answerText(q.lang, "batch_answer", { question: q.question, answer: out.text }), out.sources);
          await store.resolve(q.id, "answered", { now: this.now().getTime(), answer: out.text, by });
          report.answered++;
        } else {
          if (!handedOff.has(q.conversationId)) {
            handedOff.add(q.conversationId);
            await sink.requestHandoff(q.conversationId);
          }
          await store.resolve(q.id, "handed_off", { now: this.now().getTime(), by });
          report.handed_off++;
        }
      } catch (err) {
        if (this.stopped) return void (await store.release(q.id, by).catch(() => {}));
        report.failed++;
        await store.resolve(q.id, "failed", { now: this.now().getTime(), error: err instanceof Error ? err.message : String(err), by }).catch(() => false);
        log?.warn("off-hours question could not be delivered", { pending_id: q.id, conversation_id: q.conversationId, err });
      }
    };

    // Questions saved during the run are left for the next one, so a steady trickle cannot keep it going.
    let afterId = 0;
    const lastId = await store.lastPendingId();
    while (!this.stopped) {
      const page = (await store.list({ status: "pending", afterId, limit: PAGE })).filter((q) => q.id <= lastId);
      if (page.length === 0) break;
      afterId = page.at(-1)!.id;
      await pool(page, this.opts.concurrency, handle);
    }

    const done: BatchReport = {
      ...report,
      pending: await store.countPending(),
      started_at: startedAt.toISOString(),
      finished_at: this.now().toISOString(),
    };
    this.lastRun = done;
    log?.info("off-hours batch finished", { ...done });
    if (done.pending > 0) this.arm();
    return done;
  }
}

/** Runs `fn` over `items` with at most `limit` at a time. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
