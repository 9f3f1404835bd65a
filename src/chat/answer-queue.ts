/**
 * Admission of bot answers. Answering costs CPU (retrieval and scoring: milliseconds per distinct question)
 * while storing and acking a message costs almost nothing, so under a burst the answers must not run all
 * at once: the event loop would go from one answer to the next and every ack, hello and frame would wait
 * behind them, with the work (and memory) growing without bound once questions arrive faster than they
 * are answered.
 *
 * So a conversation with unanswered messages waits here — one entry per conversation, however many
 * messages it got meanwhile (the answer covers all of them) — and at most `maxInFlight` answers are being
 * worked on at once. An answer stops counting at its first event (a delta or the reply): from then on it
 * waits for a provider's stream, which the LLM's own gate bounds. New answers start in a later event-loop
 * turn than the ones that just finished, so frames and acks are served between them — unless the turn has
 * spent under TURN_BUDGET_MS on answers so far: cheap answers (cache hits, tens of µs each) then go on in the
 * same turn, and their replies share one group commit instead of one commit per `maxInFlight` replies.
 *
 * A conversation that has waited `maxWaitMs` is answered with the short "busy" reply instead (`shed`).
 * While entries are that far behind (the oldest has waited a quarter of it), the newest are taken first:
 * whoever asked last still gets a fresh answer, the oldest get the busy reply at their deadline, and the
 * wait is back to normal as soon as the burst ends instead of after the backlog has been worked through.
 *
 * Memory: one small entry per waiting conversation (a conversation waits at most once), whatever the
 * offered rate.
 */
export interface AnswerQueueOptions {
  maxInFlight: number;
  maxWaitMs: number;
  /**
   * Starts the answer of a conversation. `release` frees its slot (at the first event); it is also freed
   * when the returned promise settles.
   */
  start: (conversationId: string, waitedMs: number, release: () => void) => Promise<unknown> | void;
  /** The conversation waited too long: answer it with the busy reply. */
  shed: (conversationId: string) => void;
  onError?: (err: unknown) => void;
  now?: () => number;
}

export interface AnswerQueueStats {
  waiting: number;
  in_flight: number;
  /** Highest values since start. */
  peak_waiting: number;
  peak_in_flight: number;
  started: number;
  /** Conversations answered with the busy reply. */
  shed: number;
}

/** How long one event-loop turn may go on starting answers whose predecessors finished within it. */
export const TURN_BUDGET_MS = 2;

export function createAnswerQueue(opts: AnswerQueueOptions) {
  const now = opts.now ?? (() => performance.now());
  /** Conversation → when it started waiting. */
  const waiting = new Map<string, number>();
  /** Arrival order; entries no longer in `waiting` (or waiting again since) are skipped. */
  let order: { id: string; at: number }[] = [];
  let head = 0;
  let inFlight = 0;
  let scheduled = false;
  let expiry: Timer | null = null;
  let stopped = false;
  const stats = { peak_waiting: 0, peak_in_flight: 0, started: 0, shed: 0 };
  const lifoAfterMs = opts.maxWaitMs / 4;

  const live = (e: { id: string; at: number }) => waiting.get(e.id) === e.at;
  const dropDead = () => {
    while (head < order.length && !live(order[head]!)) head++;
    while (order.length > head && !live(order[order.length - 1]!)) order.pop();
    if (head > 1024 && head * 2 > order.length) {
      order = order.slice(head);
      head = 0;
    }
  };

  /** When the current pump turn began (a pump run from setImmediate). */
  let turnStart = -Infinity;
  const turn = () => {
    turnStart = now();
    pump();
  };
  /** `soon`: a slot came free; within the turn's budget the next answers start in this turn (a microtask). */
  const schedule = (soon = false) => {
    if (scheduled || stopped) return;
    scheduled = true;
    if (soon && now() - turnStart < TURN_BUDGET_MS) queueMicrotask(pump);
    else setImmediate(turn);
  };

  function expire(t: number) {
    dropDead();
    while (head < order.length && t - order[head]!.at >= opts.maxWaitMs) {
      const { id } = order[head++]!;
      waiting.delete(id);
      stats.shed++;
      try {
        opts.shed(id);
      } catch (err) {
        opts.onError?.(err);
      }
      dropDead();
    }
  }

  function armExpiry() {
    if (expiry) clearTimeout(expiry);
    expiry = null;
    dropDead();
    if (stopped || head >= order.length) return;
    expiry = setTimeout(
      () => {
        expiry = null;
        expire(now());
        armExpiry();
      },
      Math.max(1, order[head]!.at + opts.maxWaitMs - now()),
    );
  }

  function pump() {
    scheduled = false;
    if (stopped) return;
    const t = now();
    expire(t);
    while (inFlight < opts.maxInFlight) {
      dropDead();
      if (head >= order.length) break;
      const backedUp = t - order[head]!.at >= lifoAfterMs;
      const e = backedUp ? order.pop()! : order[head++]!;
      waiting.delete(e.id);
      run(e.id, t - e.at);
    }
    armExpiry();
  }

  function run(id: string, waitedMs: number) {
    inFlight++;
    stats.started++;
    stats.peak_in_flight = Math.max(stats.peak_in_flight, inFlight);
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      inFlight--;
      // In a later turn (what queued up meanwhile, acks and hellos, goes first), unless this one is still cheap.
      if (waiting.size) schedule(true);
    };
    try {
      const p = opts.start(id, waitedMs, release);
      if (p) p.then(release, (err) => (release(), opts.onError?.(err)));
      else release();
    } catch (err) {
      release();
      opts.onError?.(err);
    }
  }

  return {
    /** The conversation has a new message to answer; one that already waits keeps its place. */
    enqueue(id: string) {
      if (stopped || waiting.has(id)) return;
      const at = now();
      waiting.set(id, at);
      order.push({ id, at });
      stats.peak_waiting = Math.max(stats.peak_waiting, waiting.size);
      schedule();
    },
    /** The conversation waits for a slot. */
    has(id: string): boolean {
      return waiting.has(id);
    },
    /** Nobody waits for this answer any more (the visitor left, an agent took over). */
    remove(id: string) {
      waiting.delete(id);
    },
    stats(): AnswerQueueStats {
      dropDead();
      return { waiting: waiting.size, in_flight: inFlight, ...stats };
    },
    stop() {
      stopped = true;
      if (expiry) clearTimeout(expiry);
      waiting.clear();
      order = [];
      head = 0;
    },
  };
}
export type AnswerQueue = ReturnType<typeof createAnswerQueue>;
