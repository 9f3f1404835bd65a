import { AsyncLocalStorage } from "node:async_hooks";
import type { Static } from "@sinclair/typebox";
import type { User, UserStore } from "../auth/user-store";
import { KefuError } from "../errors/kefu-error";
import type { Sql } from "../storage/sql";
import type { EventBus } from "../events/bus";
import type { Logger } from "../log/logger";
import { logAssignment, pickAgent } from "./assignment";
import { normalizeForMatch } from "../text/normalize";
import type { AnswerRecorder, Bot, BotEvent, ChosenAnswer } from "./bot";
import type { chatSection } from "./config";
import { type Conversation, createConversationStore, type NewMessage, type SearchFilter, type StoredMessage } from "./conversation-store";
import { toFrame } from "./frame-render";
import { createIdentify } from "./identity";
import { createKeywordMatcher } from "./keywords";
import { createNoteStore, type Note } from "./note-store";
import { createAgentStatusStore, createPresence, type ChosenStatus, type Presence } from "./presence";
import { type Coordinator, createLocalCoordinator } from "../cluster/coordinator";
import { createAnswerQueue } from "./answer-queue";
import { LazyLru } from "../limits/lazy-lru";
import { createRateLimiter } from "../limits/rate-limit";
import type {
  AckFrame,
  AgentRef,
  AgentSummary,
  Choice,
  ConversationDetail,
  ConversationFrame,
  ConversationState,
  ConversationSummary,
  NoteFrame,
  QueueFrame,
  ResetReason,
  VisitorContext,
  VisitorUser,
} from "./schemas";
import { pickLang, say, type TextKey } from "./texts";
import { createVisitorStore, type Visitor } from "./visitor-store";

export type ChatConfig = Static<typeof chatSection>;

/**
 * Bus topics of the chat. Everything that crosses from one connection to another
 * goes through these, so a multi-node deployment only swaps the bus.
 */
export const topics = {
  /** ConversationEvent: every frame about one conversation. */
  conversation: (id: string) => `chat:conv:${id}`,
  /** VisitorEvent: the visitor's current conversation changed (all tabs switch). */
  visitor: (id: string) => `chat:visitor:${id}`,
  /** AgentsEvent: queue, loads or presence changed. */
  agents: "chat:agents",
  /** AgentEvent: a conversation was assigned to this agent. */
  agent: (userId: number) => `chat:agent:${userId}`,
  /** NoteEvent: private notes about one conversation (agent sockets only: never on the conversation's topic). */
  notes: (id: string) => `chat:notes:${id}`,
  /** HandoffRequest: plugins ask for a human here. */
  handoff: "chat:handoff",
  /** ConversationLifecycle: every conversation's start, handoff, assignment, close and rating (plugins' onConversation). */
  lifecycle: "chat:lifecycle",
  /**
   * `{}`, LOCAL to this node: the bus may have dropped events (the Redis bus after an outage, once it has
   * resubscribed). Every open socket refetches what it missed by seq; agents get a fresh queue.
   */
  resync: "bus:resync",
};
export type ConversationLifecycle =
  | { type: "started"; conversation_id: string; visitor_id: string }
  | { type: "queued" | "closed"; conversation_id: string; reason: string }
  | { type: "assigned"; conversation_id: string; agent_id: number; reason: string }
  | { type: "rated"; conversation_id: string; score: number; comment?: string };

export interface ConversationEvent {
  frame: ConversationFrame;
  /** Id of the socket that caused the frame; that socket already has it (as an ack). */
  origin?: string;
}
export type VisitorEvent = { type: "conversation"; conversation_id: string };
export type AgentsEvent = { type: "changed" };
export type AgentEvent = { type: "assigned"; conversation_id: string };
export interface NoteEvent {
  note: NoteFrame;
  /** Id of the socket that wrote it (it gets the note as its answer). */
  origin?: string;
}
export interface HandoffRequest {
  conversation_id: string;
  reason?: string;
}

export interface VisitorSession {
  visitor: Visitor;
  token: string;
  conversation: Conversation;
  /** Where the visitor is (hello context): stored on the conversation when it is first written. */
  context?: VisitorContext;
  /** The hello named a user whose hash did not match: told with an error frame, the hello went on as anonymous. */
  identityRefused?: boolean;
}

export interface ChatServiceOptions {
  /** The shared store (SQLite, or PostgreSQL in cluster mode). */
  sql: Sql;
  bus: EventBus;
  log: Logger;
  config: ChatConfig;
  users: UserStore;
  /**
   * Read on every reply so a bot can be swapped at run time. Plugins are the bot's
   * business (the answer pipeline runs them), not the chat's.
   */
  bot: () => Bot;
  /** The answer log (src/insights): called inside the transaction that stores each reply to a visitor question. */
  recordAnswer?: AnswerRecorder;
  /**
   * Who is connected and available, on every node (src/cluster/presence-redis.ts), made from `chosen` (each
   * agent's last chosen status as this service read it; the cluster presence reads it at connect). Default:
   * this process's own (createPresence).
   */
  presence?: (chosen: (userId: number) => ChosenStatus) => Presence;
  /** The cluster's mutexes and leases (src/cluster/coordinator.ts). Default: in-process. */
  coordinator?: Pick<Coordinator, "withLock" | "acquireLease" | "releaseLease">;
}

interface BotRun {
  ctrl: AbortController;
  /**
   * Seq announced for the reply by its first delta (the conversation's last seq + 1); 0 before. Announced,
   * not stored: if the reply is dropped, the next row of the conversation takes this seq.
   */
  seq: number;
  text: string;
}

type Answer = Extract<BotEvent, { type: "answer" }>;

/** The question a reply answers, for the answer log: the visitor's messages joined, the newest one's seq and time. */
interface Asked {
  text: string;
  seq: number;
  at: number;
}
const askedBy = (text: string, newest: StoredMessage): Asked => ({ text, seq: newest.seq, at: newest.createdAt });

/** Most unanswered visitor messages answered together (the newest ones win). */
const MAX_PARTS = 6;

/** Handoff counters by what asked for the human (the `reason` of the queued state row, grouped). */
export const HANDOFF_REASONS = ["keyword", "visitor", "misses", "plugin", "bot", "off_hours"] as const;
export type HandoffReason = (typeof HANDOFF_REASONS)[number];
export function reasonGroup(reason: string): HandoffReason {
  if (reason === "bot_misses") return "misses";
  if (reason === "keyword" || reason === "visitor" || reason === "off_hours") return reason;
  if (reason === "offline_message") return "visitor";
  if (reason.startsWith("bot") && !reason.startsWith("bot:plugin")) return "bot";
  // A plugin verdict relayed by the bot, or a request on the bus with the plugin's own reason.
  return "plugin";
}

/**
 * A refusal a visitor can read: the English text goes to HTTP callers and agents,
 * sockets re-render it in the visitor's language from the code and `details`.
 */
export function chatError(code: string, status: number, vars: Record<string, string | number> = {}, clientId?: string) {
  const key = `err_${code}` as TextKey;
  return Object.assign(new KefuError(code, status, say("en", key, vars), vars), { clientId });
}

/** SQLSTATEs after which PostgreSQL has rolled the whole transaction back and running it again is safe. */
const RETRYABLE = new Set(["40P01", "40001"]);
const TX_ATTEMPTS = 5;

/**
 * The chat's store with every outermost transaction and batch job run again (up to TX_ATTEMPTS times, with a
 * little jitter) when PostgreSQL picks it as the victim of a deadlock or a serialization failure. Several
 * nodes and several group commits write the same conversations at once; a batch of two conversations can
 * lock them in the other order than a concurrent one, and PostgreSQL then aborts whichever waiter it likes,
 * often a bystander (an agent's single-row send queued behind them). The driver retries its batches a few
 * times but not a plain transaction; here neither reaches a socket as `internal` while a rerun would
 * succeed. Only whole units are rerun (a nested call runs inside its caller's, which is the one rerun), and
 * they are storage work only (the Sql contract), so a rerun repeats nothing else; an append with a
 * client_id is idempotent anyway. SQLite never raises these.
 */
export function retryingDeadlocks(sql: Sql, log: Pick<Logger, "warn">): Sql {
  const inside = new AsyncLocalStorage<true>();
  const rerun = <T>(start: (fn: () => Promise<T> | T) => Promise<T>, fn: () => Promise<T> | T): Promise<T> => {
    if (inside.getStore()) return start(fn);
    const body = () => inside.run(true, fn);
    return (async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await start(body);
        } catch (err) {
          const code = (err as { errno?: unknown } | null)?.errno;
          if (attempt >= TX_ATTEMPTS || typeof code !== "string" || !RETRYABLE.has(code)) throw err;
          log.warn("chat write retried after a deadlock", { errno: code, attempt });
          await Bun.sleep(Math.random() * 25 * attempt);
        }
      }
    })();
  };
  return {
    get dialect() {
      return sql.dialect;
    },
    get: (text, params) => sql.get(text, params),
    all: (text, params) => sql.all(text, params),
    run: (text, params) => sql.run(text, params),
    transaction: (fn) => rerun((f) => sql.transaction(f), fn),
    batch: (fn) => rerun((f) => sql.batch(f), fn),
    close: () => sql.close(),
  };
}

/**
 * The chat's rules: who may write where, state changes, handoff, assignment and
 * bot replies. Sockets and HTTP routes translate frames into calls here; this
 * module never touches a socket. Invariant: every row appended to a conversation
 * first settles that conversation's bot reply in flight (dropping a half-streamed
 * draft with a `reset`), so an announced seq is always the next one and the stream
 * stays gap-free.
 */
export function createChatService(opts: ChatServiceOptions) {
  const { bus, log, config, users } = opts;
  const sql = retryingDeadlocks(opts.sql, log);
  const convs = createConversationStore(sql);
  const visitors = createVisitorStore(sql);
  const identify = createIdentify(visitors, config);
  const notes = createNoteStore(sql);
  const agentStatus = createAgentStatusStore(sql);
  // The status each agent chose last, read from the store before their socket counts (presence reads are synchronous).
  const chosen = new Map<number, ChosenStatus>();
  const chosenOf = (userId: number): ChosenStatus => chosen.get(userId) ?? "online";
  const presence = opts.presence ? opts.presence(chosenOf) : createPresence(chosenOf);
  const coordinator = opts.coordinator ?? createLocalCoordinator();
  const limiter = createRateLimiter({ burst: config.rate_burst, perSecond: config.rate_per_second });
  const wantsHuman = createKeywordMatcher(config.handoff_keywords);
  const streams = new Map<string, BotRun>();
  // Conversations announced to a visitor but not stored until they write (see convs.draft): one per
  // visitor, so all their tabs share it, and findable by id for a handoff requested on the bus.
  const drafts = new LazyLru<string, Conversation>({ max: 100_000 });
  const draftOf = new LazyLru<string, string>({ max: 100_000 });
  const draftFor = (visitor: Visitor): Conversation => {
    const known = drafts.get(draftOf.get(visitor.id) ?? "");
    if (known) {
      known.lang = visitor.lang; // the newest hello's language, as a stored conversation would not have it yet
      return known;
    }
    const d = convs.draft(visitor.id, visitor.lang);
    drafts.set(d.id, d);
    draftOf.set(visitor.id, d.id);
    return d;
  };
  /**
   * Stores a draft under the id its visitor already knows. Two tabs (or nodes) may store the same draft at
   * once: the insert does nothing for the second, which reads the first one's row.
   */
  const storeDraft = async (d: Conversation, context?: VisitorContext): Promise<Conversation> => {
    const created = await convs.create(d.visitorId, d.lang, d.id, context);
    drafts.delete(d.id);
    if (draftOf.get(d.visitorId) === d.id) draftOf.delete(d.visitorId);
    if (created) return started(created);
    const stored = await convs.get(d.id);
    if (!stored) throw new KefuError("not_found", 404, "conversation not found");
    return stored;
  };
  const lifecycle = (e: ConversationLifecycle) => bus.publish<ConversationLifecycle>(topics.lifecycle, e);
  const started = (c: Conversation) => (lifecycle({ type: "started", conversation_id: c.id, visitor_id: c.visitorId }), c);
  /** Bot answers wait here for one of `answers_in_flight` slots; past `answer_wait_ms` they are shed (`shed`). */
  const answers = createAnswerQueue({
    maxInFlight: config.answers_in_flight,
    maxWaitMs: config.answer_wait_ms,
    start: async (id, waitedMs, release) => {
      const conv = await convs.get(id);
      if (!conv || stopped || (conv.state !== "bot" && conv.state !== "queued")) return;
      return runBot(conv, waitedMs, release);
    },
    shed: (id) => shed(id),
    onError: (err) => log.error("bot answer failed", { err }),
  });
  /** Timers that return the conversations of an agent gone longer than agent_grace_s to the queue. */
  const graceTimers = new Map<number, Timer>();
  const timers = new Set<Timer>();
  const handoffs = Object.fromEntries(HANDOFF_REASONS.map((r) => [r, 0])) as Record<HandoffReason, number>;
  /** The assignment round running on this node, if any; `assignAgain`: something changed meanwhile, run once more. */
  let assigning: Promise<void> | null = null;
  let assignAgain = false;
  let stopped = false;
  /** Per agent: their presence changes in order (a socket's close waits for its open to have read the chosen status). */
  const presenceOps = new Map<number, Promise<unknown>>();
  const inPresenceOrder = <T>(userId: number, fn: () => Promise<T> | T): Promise<T> => {
    const before = presenceOps.get(userId) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const tail = run.catch(() => undefined);
    presenceOps.set(userId, tail);
    void tail.then(() => presenceOps.get(userId) === tail && presenceOps.delete(userId));
    return run;
  };
  /** Visitors whose closed conversation is being replaced (two tabs writing at once get the same new one). */
  const opening = new Map<string, Promise<Conversation>>();

  const agentRef = async (userId: number | null): Promise<AgentRef | undefined> => {
    if (userId === null) return undefined;
    const u = await users.get(userId);
    return u ? { id: u.id, name: u.displayName ?? u.name } : undefined;
  };
  /** Plain totals read at scrape time by /metrics (src/ops/metrics); bumped where the events happen. */
  const counters = {
    /** Stored messages published, by sender. */
    messages: { visitor: 0, bot: 0, agent: 0, system: 0 },
    /** Refusals: `chat` the per-visitor message budget, `frames` a socket's frame budget, `connections` the per-IP socket limits, `new_visitors` the per-IP new-visitor budget. */
    refused: { chat: 0, frames: 0, connections: 0, new_visitors: 0 },
    /** Open WebSockets of this node (the socket modules count them). */
    sockets: { visitor: 0, agent: 0 },
  };
  const publish = (conversationId: string, frame: ConversationFrame, origin?: string) => {
    if (frame.type === "message") counters.messages[frame.from]++;
    bus.publish<ConversationEvent>(topics.conversation(conversationId), { frame, origin });
  };
  const agentsChanged = () => {
    shared = null;
    bus.publish<AgentsEvent>(topics.agents, { type: "changed" });
  };
  /** The part of the queue frame every agent shares, computed once per burst of changes (every agent socket asks). */
  let shared: Promise<Omit<QueueFrame, "mine">> | null = null;
  const sharedQueue = (): Promise<Omit<QueueFrame, "mine">> => {
    if (shared) return shared;
    const computed = (async (): Promise<Omit<QueueFrame, "mine">> => {
      const loads = await convs.loads();
      const agents: AgentSummary[] = (await users.list())
        .filter((u) => !u.disabled)
        .map((u) => ({ id: u.id, name: u.displayName ?? u.name, status: presence.status(u.id), load: loads.get(u.id) ?? 0, max_concurrent: u.maxConcurrent }));
      return { type: "queue", queued: await convs.queued(), open: await convs.open(), agents };
    })();
    shared = computed;
    const forget = () => {
      if (shared === computed) shared = null;
    };
    computed.then(() => setTimeout(forget, 0), forget);
    return computed;
  };
  // The bus may have lost events (an outage of the Redis bus): the cached queue may be stale too. A change
  // announced by another node drops it as well (this runs before the sockets' handlers: subscribed first), so
  // a computation started before that change is not what they are sent.
  const unsubscribeResync = bus.subscribe(topics.resync, () => (shared = null));
  const unsubscribeAgents = bus.subscribe(topics.agents, () => (shared = null));

  async function mustGet(conversationId: string): Promise<Conversation> {
    const c = await convs.get(conversationId);
    if (!c) throw new KefuError("not_found", 404, "conversation not found");
    return c;
  }

  /**
   * Ends the bot reply in flight. A half-streamed reply is never stored: clients are told to drop the
   * draft, and its announced seq goes to the row that is about to be appended.
   */
  function settle(conversationId: string, reason: ResetReason) {
    const run = streams.get(conversationId);
    if (!run) return;
    streams.delete(conversationId);
    run.ctrl.abort();
    if (run.text) publish(conversationId, { type: "reset", seq: run.seq, reason });
  }

  /**
   * `also` runs in the insert's transaction with the new row (not for a duplicate); `guard` runs in it
   * first, with the conversation's row locked (PostgreSQL), and may refuse by throwing.
   */
  async function append(
    conversationId: string,
    m: NewMessage,
    origin?: string,
    also?: (message: StoredMessage) => Promise<void>,
    guard?: (conv: Conversation | null) => void,
  ) {
    settle(conversationId, m.sender === "visitor" ? "newer_message" : "superseded");
    const res = also || guard
      ? await sql.transaction(async () => {
          if (guard) guard(await convs.get(conversationId, { forUpdate: true }));
          const r = await convs.appendText(conversationId, m);
          if (!r.duplicate && also) await also(r.message);
          return r;
        })
      : await convs.appendText(conversationId, m);
    if (!res.duplicate) publish(conversationId, toFrame(res.message), origin);
    return res;
  }

  /** Stores a bot reply (inside the caller's transaction, if any); the caller publishes it after the commit. */
  async function storeBot(conversationId: string, run: BotRun, m: Omit<NewMessage, "sender">): Promise<StoredMessage> {
    const { message } = await convs.appendText(conversationId, { sender: "bot", ...m });
    if (run.seq && message.seq !== run.seq) {
      log.warn("bot reply stored under another seq than its deltas", { conversation_id: conversationId, reserved: run.seq, seq: message.seq });
    }
    return message;
  }

  /**
   * Changes state and appends the visitor-facing notice as a state row; null if the state or the owner
   * moved meanwhile (`changeState … WHERE state = from AND agent_id = owner`: of two sockets or nodes acting
   * on one conversation, one wins — agent A's close or transfer decided on A's conversation does not apply
   * to it once B has taken it over, though its state is `agent` still).
   */
  async function transition(conv: Conversation, to: ConversationState, agentId: number | null, text: TextKey, reason: string) {
    const agent = await agentRef(agentId);
    settle(conv.id, "superseded");
    const res = await convs.changeState(
      conv.id,
      conv.state,
      to,
      agentId,
      { sender: "system", text: say(conv.lang, text, { name: agent?.name ?? "" }), meta: { reason, ...(agent ? { agent } : {}) } },
      conv.agentId,
    );
    if (!res) return null;
    if (to === "agent") lifecycle({ type: "assigned", conversation_id: conv.id, agent_id: agentId!, reason });
    else if (to === "queued" || to === "closed") lifecycle({ type: to, conversation_id: conv.id, reason });
    logAssignment(log, { conversation_id: conv.id, from: conv.state, to, from_agent: conv.agentId, agent: agentId, reason });
    publish(conv.id, toFrame(res.message));
    agentsChanged();
    return res.conversation;
  }

  async function assign(conv: Conversation, agentId: number, reason: string) {
    const next = await transition(conv, "agent", agentId, conv.state === "agent" ? "transferred" : "agent_joined", reason);
    if (next) bus.publish<AgentEvent>(topics.agent(agentId), { type: "assigned", conversation_id: conv.id });
    return next;
  }

  /**
   * Gives queued conversations, oldest first, to available agents, least busy first. One round at a time
   * on this node (a call during a round makes it run once more, so no change is missed), and across nodes
   * under the cluster mutex `assign`: the loads it reads are then the ones it decides on.
   */
  function assignQueued(): Promise<void> {
    if (stopped) return Promise.resolve();
    if (assigning) {
      assignAgain = true;
      return assigning;
    }
    const round = (async () => {
      try {
        do {
          assignAgain = false;
          await coordinator.withLock("assign", assignRound);
        } while (assignAgain && !stopped);
      } catch (err) {
        log.error("assigning queued conversations failed", { err });
      } finally {
        assigning = null;
      }
    })();
    assigning = round;
    return round;
  }
  async function assignRound() {
    while (!stopped) {
      const conv = await convs.oldestQueued();
      if (!conv) return;
      const loads = await convs.loads();
      const candidates: { id: number; load: number; maxConcurrent: number }[] = [];
      for (const id of presence.available()) {
        const u = await users.get(id);
        if (u && !u.disabled) candidates.push({ id: u.id, load: loads.get(u.id) ?? 0, maxConcurrent: u.maxConcurrent });
      }
      const agentId = pickAgent(candidates);
      if (agentId === null) return;
      // Lost to a claim meanwhile: the conversation is no longer queued, the next one is.
      await assign(conv, agentId, "auto");
    }
  }

  /**
   * Queues a conversation for a human. With nobody online it waits as a ticket (an agent who comes online
   * gets it, reason included) and the bot keeps answering what it knows, with a note that a human follows up.
   */
  async function requestHuman(conversationId: string, reason: string) {
    const draft = drafts.get(conversationId);
    const conv = (await convs.get(conversationId)) ?? (draft ? await storeDraft(draft) : null);
    if (!conv || conv.state !== "bot") return;
    if (!(await transition(conv, "queued", null, "queued", reason))) return;
    handoffs[reasonGroup(reason)]++;
    await assignQueued();
    const now = await convs.get(conversationId);
    if (now?.state === "queued") await queueNotice(now);
  }

  function queueNotice(conv: Conversation) {
    return append(conv.id, { sender: "system", text: say(conv.lang, presence.anyoneOnline() ? "agents_busy" : "no_agent_online") });
  }

  /** The owner has been gone longer than agent_grace_s: their conversations wait for another agent. */
  async function requeueOwnedBy(userId: number) {
    graceTimers.delete(userId);
    if (stopped || presence.status(userId) !== "offline") return;
    const owned = await convs.ownedBy(userId);
    for (const s of owned) {
      const conv = await convs.get(s.conversation_id);
      if (conv?.state === "agent" && conv.agentId === userId) await transition(conv, "queued", null, "queued", "agent_offline");
    }
    if (owned.length) log.info("conversations of an agent gone offline returned to the queue", { agent_id: userId, conversations: owned.length });
    await assignQueued();
    for (const s of owned) {
      const conv = await convs.get(s.conversation_id);
      if (conv?.state === "queued") await queueNotice(conv);
    }
  }
  function startGrace(userId: number) {
    if (graceTimers.has(userId) || stopped) return;
    const timer = setTimeout(() => void requeueOwnedBy(userId).catch((err) => log.error("returning conversations to the queue failed", { agent_id: userId, err })), config.agent_grace_s * 1000);
    graceTimers.set(userId, timer);
  }
  function cancelGrace(userId: number) {
    const timer = graceTimers.get(userId);
    if (timer) clearTimeout(timer);
    graceTimers.delete(userId);
  }
  // After a restart nobody is connected: every owner gets the grace period to come back.
  void convs.loads().then(
    (loads) => {
      for (const userId of loads.keys()) if (presence.status(userId) === "offline") startGrace(userId);
    },
    (err) => log.error("reading the owners of conversations failed", { err }),
  );

  const noteFrame = async (n: Note): Promise<NoteFrame> => ({
    type: "note",
    conversation_id: n.conversationId,
    id: n.id,
    text: n.text,
    agent: (await agentRef(n.agentId)) ?? { id: n.agentId, name: `#${n.agentId}` },
    at: n.createdAt,
    client_id: n.clientId,
  });

  /** The visitor messages since the last reply or notice (any other row), oldest first: one question; `newest` its last row. */
  async function unanswered(conversationId: string): Promise<{ parts: string[]; newest: StoredMessage | null }> {
    const parts: string[] = [];
    let newest: StoredMessage | null = null;
    // Usually the newest two rows settle it (the message and the reply before it): read more only when they do not.
    let rows = await convs.newestFirst(conversationId, 2);
    if (rows.length === 2 && rows.every((m) => m.sender === "visitor" || m.sender === "system")) rows = await convs.newestFirst(conversationId, MAX_PARTS + 4);
    // State changes and notices stored after the messages do not answer them: a handoff after the previous
    // reply's miss may land in the same group commit as the visitor's next message, behind it.
    let i = 0;
    while (i < rows.length && rows[i]!.sender === "system") i++;
    for (; i < rows.length && parts.length < MAX_PARTS; i++) {
      const m = rows[i]!;
      if (m.kind !== "text" || m.sender !== "visitor") break;
      newest ??= m;
      parts.unshift(m.text);
    }
    return { parts, newest };
  }

  /** One answer-log row for a stored bot reply. A bot that does not name its path: direct when confident. */
  async function logAnswer(conversationId: string, ev: Answer, asked: Asked, replySeq: number) {
    await opts.recordAnswer?.({
      source: "chat",
      conversationId,
      visitorSeq: asked.seq,
      replySeq,
      question: asked.text,
      path: ev.path ?? (ev.choices?.length ? "choices" : ev.confident ? "direct" : "fallback"),
      step: ev.step,
      entryId: ev.entryId,
      confidence: ev.confidence ?? 0,
      latencyMs: Date.now() - asked.at,
    });
  }

  /**
   * An agent's reply (inside its insert's transaction): the visitor messages since the previous bot or agent
   * reply, notices and state rows skipped, get one `human` row — the questions no bot reply answered. A bare
   * request for a human (a handoff keyword) is no question. Nothing when the bot had answered them.
   */
  async function logHumanReply(conversationId: string, reply: StoredMessage) {
    if (!opts.recordAnswer) return;
    const rows = (await convs.tail(conversationId, MAX_PARTS + 10)).reverse();
    const parts: string[] = [];
    let newest: StoredMessage | null = null;
    for (const m of rows) {
      if (m.seq >= reply.seq || m.sender === "system") continue;
      if (m.sender !== "visitor") break;
      if (wantsHuman(m.text)) continue;
      newest ??= m;
      if (parts.length < MAX_PARTS) parts.unshift(m.text);
    }
    if (!newest) return;
    await opts.recordAnswer({
      source: "chat",
      conversationId,
      visitorSeq: newest.seq,
      replySeq: reply.seq,
      question: parts.join("\n"),
      path: "human",
      confidence: 0,
      latencyMs: reply.createdAt - newest.createdAt,
    });
  }

  /**
   * A reply as the conversation's state allows it: as is from the bot; while queued, what the bot knows
   * with a note that a human follows up, and a short "noted" instead of a miss. Null when an agent owns it.
   */
  function shape(c: Conversation, ev: Answer): { reply: Omit<NewMessage, "sender">; misses: number } | null {
    if (c.state !== "bot" && c.state !== "queued") return null;
    const meta = { ...(ev.sources?.length ? { sources: ev.sources } : {}), ...(ev.choices?.length ? { choices: ev.choices } : {}) };
    if (c.state === "bot") return { reply: { text: ev.text, meta }, misses: ev.confident ? 0 : c.botMisses + 1 };
    const knows = ev.confident || !!ev.choices?.length;
    return { reply: knows ? { text: `${ev.text}\n\n${say(c.lang, "follow_up")}`, meta } : { text: say(c.lang, "noted_for_agent") }, misses: c.botMisses };
  }

  /**
   * Stores a reply (under the seq its deltas announced, if any) with the miss counter, publishes it and
   * hands over after too many misses. A streamed reply is stored at once; any other joins the next group
   * commit. The state is read in the storing transaction (row-locked on PostgreSQL): an agent's claim on
   * another node either comes before (no reply) or after (the reply is in the stream first).
   */
  function deliver(conversationId: string, ev: Answer, run: BotRun | null, asked: Asked | null): Promise<void> {
    const store = async () => {
      const c = await convs.get(conversationId, { forUpdate: true });
      const shaped = c && shape(c, ev);
      if (!shaped) return null;
      const message = run ? await storeBot(conversationId, run, shaped.reply) : (await convs.appendText(conversationId, { sender: "bot", ...shaped.reply })).message;
      if (shaped.misses !== c.botMisses) await convs.setBotMisses(conversationId, shaped.misses);
      if (asked) await logAnswer(conversationId, ev, asked, message.seq);
      return { message, misses: shaped.misses, state: c.state };
    };
    const after = async (stored: Awaited<ReturnType<typeof store>>) => {
      if (!stored) return;
      publish(conversationId, toFrame(stored.message));
      const limit = config.bot_misses_before_handoff;
      if (stored.state === "bot" && !ev.confident && limit > 0 && stored.misses >= limit) await requestHuman(conversationId, "bot_misses");
    };
    return (run?.seq ? sql.transaction(store) : sql.batch(store)).then(after).catch((err) => log.error("bot reply not stored", { conversation_id: conversationId, err }));
  }

  /**
   * No answer slot came free in time: the visitor's unanswered messages get the short busy reply (in the
   * next group commit), which ends them as a reply does. Not a miss: an overloaded server is no reason to
   * queue everybody for a human.
   */
  function shed(conversationId: string) {
    void sql
      .batch(async () => {
        const c = await convs.get(conversationId, { forUpdate: true });
        const { parts, newest } = c ? await unanswered(conversationId) : { parts: [], newest: null };
        if (!c || (c.state !== "bot" && c.state !== "queued") || streams.has(conversationId) || !newest) return null;
        const message = (await convs.appendText(conversationId, { sender: "bot", text: say(c.lang, "bot_busy"), meta: { reason: "busy" } })).message;
        await logAnswer(conversationId, { type: "answer", text: message.text, confident: false, path: "busy", step: "answer_queue" }, askedBy(parts.join("\n"), newest), message.seq);
        return message;
      })
      .then(
        (message) => message && publish(conversationId, toFrame(message)),
        (err) => log.error("busy reply not stored", { conversation_id: conversationId, err }),
      );
  }

  /** How long a node may answer a conversation before another may take over (renewed by nothing: an answer ends by bot_timeout_ms). */
  const replyLeaseMs = () => config.bot_timeout_ms + 5_000;
  const replyLease = (conversationId: string) => `reply:${conversationId}`;

  /** `waitedMs`: time spent waiting for a slot (it counts toward the answer deadline); `release` frees the slot. */
  async function runBot(conv: Conversation, waitedMs = 0, release: () => void = () => {}) {
    settle(conv.id, "newer_message");
    // Registered before anything is read: a message appended meanwhile settles this run (and asks anew).
    const run: BotRun = { ctrl: new AbortController(), seq: 0, text: "" };
    streams.set(conv.id, run);
    const current = () => streams.get(conv.id) === run;
    const drop = () => current() && streams.delete(conv.id);
    let timer: Timer | null = null;
    let leased = false;
    try {
      // One node answers a conversation at a time; when it dies, its lease expires and a resuming node takes over.
      leased = await coordinator.acquireLease(replyLease(conv.id), replyLeaseMs());
      if (!leased) return void drop();
      const { parts, newest } = await unanswered(conv.id);
      if (!current()) return;
      if (!newest) return void drop();
      const asked = askedBy(parts.join("\n"), newest);
      /** Ends the run; a draft that is not the reply is dropped first (the message of the same seq follows). */
      const finish = (ev: Answer, dropped: ResetReason = "superseded") => {
        streams.delete(conv.id);
        if (run.text && run.text !== ev.text) publish(conv.id, { type: "reset", seq: run.seq, reason: dropped });
        return deliver(conv.id, ev, run, asked);
      };
      const failed = (): Answer => ({ type: "answer", text: say(conv.lang, "bot_failed"), confident: false, path: "fallback", step: "failed" });
      timer = setTimeout(() => {
        if (!current()) return;
        log.warn("bot reply timed out", { conversation_id: conv.id, timeout_ms: config.bot_timeout_ms });
        run.ctrl.abort();
        void finish(failed(), "timeout");
      }, config.bot_timeout_ms);
      timers.add(timer);
      try {
        const input = { conversationId: conv.id, text: asked.text, parts, lang: conv.lang, signal: run.ctrl.signal, queuedMs: waitedMs };
        for await (const ev of opts.bot().reply(input)) {
          // The costly part (retrieval, scoring) is over once the bot says anything: the slot goes to the next.
          release();
          if (!current()) return;
          if (ev.type === "delta") {
            if (!ev.text) continue;
            if (!run.seq) {
              const seq = (await mustGet(conv.id)).lastSeq + 1;
              if (!current()) return;
              run.seq ||= seq;
            }
            run.text += ev.text;
            publish(conv.id, { type: "delta", seq: run.seq, text: ev.text });
          } else if (ev.type === "reset") {
            if (!run.text) continue;
            run.text = "";
            publish(conv.id, { type: "reset", seq: run.seq, reason: "provider_failed" });
          } else if (ev.type === "answer") {
            await finish(ev.text ? ev : failed());
            return;
          } else {
            settle(conv.id, "superseded");
            await requestHuman(conv.id, ev.reason ? `bot:${ev.reason}` : "bot");
            return;
          }
        }
        if (current()) await finish(failed(), "stopped");
      } catch (err) {
        if (!current()) return;
        log.warn("bot reply failed", { conversation_id: conv.id, err });
        await finish(failed(), "provider_failed");
      }
    } finally {
      release();
      if (timer) {
        clearTimeout(timer);
        timers.delete(timer);
      }
      if (leased) void coordinator.releaseLease(replyLease(conv.id)).catch((err) => log.warn("reply lease not released", { conversation_id: conv.id, err }));
    }
  }

  /** Answers a picked choice with its entry, verbatim; an error when it was not offered here or is gone. */
  async function chosenAnswer(conversationId: string, entryId: string, clientId?: string): Promise<{ choice: Choice; answer: ChosenAnswer | null }> {
    const choice = await convs.offeredChoice(conversationId, entryId);
    if (!choice) throw chatError("choice_not_offered", 400, {}, clientId);
    // A plugin's choices are quick replies (answer null): the pick is the visitor's message, answered as usual.
    if (entryId.startsWith("plugin:")) return { choice, answer: null };
    const answer = (await opts.bot().choose?.(entryId)) ?? null;
    if (!answer) throw chatError("choice_unavailable", 409, {}, clientId);
    return { choice, answer };
  }

  /** `message`: the visitor's pick, or the choice typed back (its question, or its number: the log gets the question). */
  const deliverChosen = (conversationId: string, answer: ChosenAnswer, choice: Choice, message: StoredMessage) =>
    deliver(
      conversationId,
      { type: "answer", text: answer.text, sources: answer.sources, confident: true, path: "choice", entryId: choice.entry_id, confidence: 1 },
      null,
      askedBy(choice.question, message),
    );

  /** The offered choice a typed message names: its question, or its number when the offer is the bot's last message. */
  async function typedChoice(conversationId: string, text: string): Promise<Choice | null> {
    const { choices, latest } = await convs.latestChoices(conversationId);
    const typed = normalizeForMatch(text);
    const n = latest && /^\d{1,2}$/.test(typed) ? Number(typed) : 0;
    return choices.find((c, i) => n === i + 1 || normalizeForMatch(c.question) === typed) ?? null;
  }

  /**
   * The visitor's open conversation, starting a new one when the current one was
   * closed; every tab of the visitor is told to switch.
   */
  async function openConversation(s: VisitorSession): Promise<Conversation> {
    const { visitor, conversation: current, context } = s;
    const stored = await convs.get(current.id);
    if (stored && stored.state !== "closed") return stored;
    // Two tabs writing at once after a close: both get the one new conversation (the read above and the
    // insert below are no longer one synchronous step).
    const pending = opening.get(visitor.id);
    if (pending) return pending;
    const next = (async () => {
      // Closed, or a draft never written: the visitor's open conversation (another tab may have stored its
      // own draft meanwhile), else a new one — under the draft's id, which this tab already announced.
      const open = await convs.openOf(visitor.id);
      const conv = open ?? (stored ? started((await convs.create(visitor.id, current.lang, undefined, context))!) : await storeDraft(current, context));
      if (context) await convs.setContextIfUnset(conv.id, context);
      bus.publish<VisitorEvent>(topics.visitor(visitor.id), { type: "conversation", conversation_id: conv.id });
      return conv;
    })();
    opening.set(visitor.id, next);
    try {
      return await next;
    } finally {
      opening.delete(visitor.id);
    }
  }

  /**
   * Stores a visitor message in their open conversation (group commit: the messages of one event-loop turn
   * share one transaction and one fsync). The conversation is read again in the storing transaction: an
   * agent's close committed between `openConversation` and this commit (the batch runs a turn later) would
   * otherwise put an acked message into a closed conversation nobody reads; it goes to the visitor's next one
   * instead, which their tabs switch to, as a message sent just after the close does.
   */
  async function appendVisitor(s: VisitorSession, m: NewMessage): Promise<{ conv: Conversation; res: { message: StoredMessage; duplicate: boolean } }> {
    for (let attempt = 1; ; attempt++) {
      const conv = await openConversation(s);
      // The bot reply in flight ends now, before the message takes the next seq (the invariant of `append`);
      // the next reply answers this message together with the ones that reply was for.
      settle(conv.id, "newer_message");
      const res = await sql.batch(async () => {
        if (attempt < 3 && (await convs.get(conv.id, { forUpdate: true }))?.state === "closed") return null;
        return convs.appendText(conv.id, m);
      });
      if (res) return { conv, res };
    }
  }

  /** The visitor and conversation of a hello (inside the group commit's transaction). */
  async function resolveHello(h: { visitor_id?: string; token?: string; lang?: string; context?: VisitorContext; user?: VisitorUser }): Promise<VisitorSession> {
    let current: { visitor: Visitor; token: string } | null = null;
    if (h.token || h.visitor_id) {
      const found = h.token ? await visitors.byToken(h.token) : null;
      if (!found || (h.visitor_id !== undefined && h.visitor_id !== found.id)) throw chatError("unauthorized", 401);
      current = { visitor: { id: found.id, lang: h.lang ? pickLang(h.lang, found.lang) : found.lang }, token: h.token! };
      await visitors.touch(current.visitor.id, current.visitor.lang);
    }
    const identified = h.user ? await identify(h.user, current, h.lang) : current;
    const { visitor, token } = identified ?? current ?? (await visitors.create(pickLang(h.lang, config.default_lang)));
    const stored = await convs.openOf(visitor.id);
    const context = h.context && Object.keys(h.context).length ? h.context : undefined;
    if (stored && context) await convs.setContextIfUnset(stored.id, context);
    return { visitor, token, conversation: stored ?? draftFor(visitor), context, identityRefused: h.user !== undefined && identified === null };
  }

  /**
   * A resumed conversation whose newest row is a visitor message nobody answers (its node died before
   * replying): answered here, when this node gets the conversation's reply lease (another node still
   * answering it holds the lease). Not while an agent owns it, nor when this node answers it already.
   */
  async function takeOver(first: Conversation) {
    // The dead node's lease runs until it expires (the visitor usually resumes well before): ask again every
    // second until then; the checks are redone each time (a live node that held it has answered meanwhile).
    const deadline = Date.now() + replyLeaseMs() + 2_000;
    for (let conv: Conversation | null = first; conv; conv = await convs.get(first.id)) {
      if (stopped || (conv.state !== "bot" && conv.state !== "queued") || streams.has(conv.id) || answers.has(conv.id)) return;
      const [newest] = await convs.newestFirst(conv.id, 1);
      if (!newest || newest.sender !== "visitor" || newest.kind !== "text") return;
      // Freshly written here (its reaction is on its way) or long forgotten: only what a dead node left.
      if (Date.now() - newest.createdAt > replyLeaseMs() * 4) return;
      if (streams.has(conv.id) || answers.has(conv.id)) return;
      if (await coordinator.acquireLease(replyLease(conv.id), replyLeaseMs())) return void answers.enqueue(conv.id);
      if (Date.now() > deadline) return;
      await Bun.sleep(1_000);
    }
  }

  function checkText(raw: string, clientId?: string): string {
    const text = raw.trim();
    if (!text) throw chatError("empty_text", 400, {}, clientId);
    if (text.length > config.max_text_chars && [...text].length > config.max_text_chars) {
      throw chatError("text_too_long", 400, { max: config.max_text_chars }, clientId);
    }
    return text;
  }

  const unsubscribeHandoff = bus.subscribe<HandoffRequest>(topics.handoff, (req) => {
    void requestHuman(req.conversation_id, req.reason ?? "plugin").catch((err) => log.error("handoff failed", { conversation_id: req.conversation_id, err }));
  });

  /** Agents see a queued or owned conversation's new visitor message in their lists (last_text, unread). */
  async function visitorWrote(conversationId: string) {
    const conv = await convs.get(conversationId);
    if (conv && (conv.state === "queued" || conv.state === "agent")) agentsChanged();
  }

  function canManage(user: User, conv: Conversation) {
    return user.role === "admin" || conv.state !== "agent" || conv.agentId === user.id;
  }
  const notOwner = () => new KefuError("not_owner", 403, "this conversation is owned by another agent");
  /**
   * A state change lost to another one committed after its read: `not_owner` when another agent owns the
   * conversation now (and the caller may not manage it), else `conflict` (retry). Read again to tell which.
   */
  const changedMeanwhile = (user: User, conversationId: string) =>
    convs.get(conversationId).then((now) =>
      now && now.state === "agent" && now.agentId !== user.id && user.role !== "admin"
        ? notOwner()
        : new KefuError("conflict", 409, "conversation changed meanwhile; try again"),
    );
  /** A follow-up that runs after an ack went out: its failure is logged, never thrown at the socket. */
  const background = (what: string, work: Promise<unknown>) => void work.catch((err) => log.error(what, { err }));

  return {
    config,

    // ---- visitors ----

    /**
     * Resolves a hello: an existing visitor by token, or a new one. Rejects with unauthorized /
     * unsupported_version. Its writes (a new visitor and its token, last seen, the page context) join the
     * group commit: a flood of new sessions costs one fsync per event-loop turn, not two per hello, and
     * the welcome (with the token) goes out once they are on disk.
     */
    async hello(
      h: { v?: number; visitor_id?: string; token?: string; lang?: string; context?: VisitorContext; user?: VisitorUser },
      supported: number,
    ): Promise<VisitorSession> {
      if (h.v !== undefined && h.v !== supported) throw chatError("unsupported_version", 400, { v: h.v, supported });
      return sql.batch(() => resolveHello(h));
    },

    /**
     * A resumed visitor's conversation was left with an unanswered message by a node that died: answer it
     * here if this node gets its reply lease (see takeOver). Called by the socket after the welcome.
     */
    resumed(conv: Conversation) {
      background("reply takeover failed", takeOver(conv));
    },

    /** Whether a visitor asking now would find an agent (connected and not away). */
    agentsOnline: () => presence.anyoneOnline(),

    /** Visitor behind a visitor token (history API), or null. */
    visitorByToken: (token: string) => visitors.byToken(token),

    /**
     * Stores a visitor message. Returns the ack and, for a new message, the stored
     * row to hand to `react` once the ack is out.
     */
    async visitorSend(s: VisitorSession, clientId: string, rawText: string, origin: string): Promise<{ ack: AckFrame; message: StoredMessage | null }> {
      const text = checkText(rawText, clientId);
      if (!limiter.take(s.visitor.id) && ++counters.refused.chat) throw chatError("rate_limited", 429, {}, clientId);
      const { conv, res } = await appendVisitor(s, { sender: "visitor", text, clientId });
      if (!res.duplicate) {
        publish(conv.id, toFrame(res.message), origin);
        // Known from the conversation read above: an agent-owned or queued one changes the agents' lists.
        if (conv.state === "queued" || conv.state === "agent") agentsChanged();
      }
      return { ack: { type: "ack", client_id: clientId, seq: res.message.seq }, message: res.duplicate ? null : res.message };
    },

    /**
     * A question left while nobody is online: stored like `send` (same limits and errors), the form's name
     * and e-mail kept on the visitor (unverified), the conversation queued as a ticket; the bot does not answer it.
     */
    async offlineMessage(
      s: VisitorSession,
      f: { client_id: string; name?: string; email?: string; text: string },
      origin: string,
    ): Promise<{ ack: AckFrame; queue: () => void }> {
      const text = checkText(f.text, f.client_id);
      if (!limiter.take(s.visitor.id) && ++counters.refused.chat) throw chatError("rate_limited", 429, {}, f.client_id);
      const name = f.name?.trim() || undefined;
      const email = f.email?.trim() || undefined;
      if (name || email) await visitors.describe(s.visitor.id, { name, email });
      const { conv, res } = await appendVisitor(s, { sender: "visitor", text, clientId: f.client_id, meta: { reason: "offline_message" } });
      if (!res.duplicate) publish(conv.id, toFrame(res.message), origin);
      return {
        ack: { type: "ack", client_id: f.client_id, seq: res.message.seq },
        // After the ack, as a send's reaction: the ticket's state row and notice follow the message.
        queue: () => {
          if (res.duplicate) return;
          background(
            "offline message not queued",
            convs.get(conv.id).then((c) => (c?.state === "bot" ? requestHuman(conv.id, "offline_message") : visitorWrote(conv.id))),
          );
        },
      };
    },

    /** CSAT: stored on the visitor's own conversation (replacing an earlier rating); another one is not_found; limited like send. */
    async rate(s: VisitorSession, conversationId: string, score: number, comment?: string) {
      // Each rating is a write and a fresh queue for every agent: it spends from the visitor's message rate.
      if (!limiter.take(s.visitor.id) && ++counters.refused.chat) throw chatError("rate_limited", 429);
      const text = comment?.trim() || undefined;
      if (!(await convs.rate(conversationId, s.visitor.id, { score, ...(text ? { comment: text } : {}) }))) throw chatError("not_found", 404);
      agentsChanged();
      lifecycle({ type: "rated", conversation_id: conversationId, score, ...(text ? { comment: text } : {}) });
      return { type: "rated" as const, conversation_id: conversationId, score };
    },

    /**
     * What follows a new visitor message: handoff on a keyword, the entry of a choice typed back, else a bot
     * reply to all unanswered messages — in state bot, and while queued (only an owning agent silences the
     * bot). A message with a newer visitor message behind it is left to that one's reaction.
     */
    react(message: StoredMessage) {
      background("reaction to a visitor message failed", this.reactTo(message));
    },
    /** `react`, awaitable (tests). */
    async reactTo(message: StoredMessage) {
      const conv = await convs.get(message.conversationId);
      if (!conv || stopped || (conv.state !== "bot" && conv.state !== "queued")) return;
      if (conv.lastSeq > message.seq && (await convs.tail(conv.id, conv.lastSeq - message.seq)).some((m) => m.sender === "visitor")) return;
      if (wantsHuman(message.text)) return conv.state === "bot" ? requestHuman(conv.id, "keyword") : void (await queueNotice(conv));
      const choice = await typedChoice(conv.id, message.text);
      if (choice) {
        void chosenAnswer(conv.id, choice.entry_id).then(
          ({ answer }) => (answer ? deliverChosen(conv.id, answer, choice, message) : answers.enqueue(conv.id)),
          // Gone since it was offered: the question goes the usual way.
          () => answers.enqueue(conv.id),
        );
        return;
      }
      answers.enqueue(conv.id);
    },

    /**
     * A visitor picks an offered choice: stored as their message (the choice's question), answered with the
     * entry verbatim. Refused with choice_not_offered / choice_unavailable; acked like `send` with a client_id.
     */
    async visitorChoose(s: VisitorSession, entryId: string, clientId: string | undefined, origin: string): Promise<{ ack: AckFrame | null; answer: () => void }> {
      if (!limiter.take(s.visitor.id) && ++counters.refused.chat) throw chatError("rate_limited", 429, {}, clientId);
      const conv = await convs.get(s.conversation.id);
      if (!conv || conv.state === "closed") throw chatError("choice_not_offered", 400, {}, clientId);
      const { choice, answer } = await chosenAnswer(conv.id, entryId, clientId);
      settle(conv.id, "newer_message");
      const res = await sql.batch(async () => {
        // Closed since the read above (an agent's close in between): the offer went with it.
        if ((await convs.get(conv.id, { forUpdate: true }))?.state === "closed") throw chatError("choice_not_offered", 400, {}, clientId);
        return convs.appendText(conv.id, { sender: "visitor", text: choice.question, clientId, meta: { choice: entryId } });
      });
      if (!res.duplicate) publish(conv.id, toFrame(res.message), clientId ? origin : undefined);
      return {
        ack: clientId ? { type: "ack", client_id: clientId, seq: res.message.seq } : null,
        answer: () => {
          if (!res.duplicate) answer ? void deliverChosen(conv.id, answer, choice, res.message) : answers.enqueue(conv.id);
        },
      };
    },

    /**
     * No socket of the visitor is open any more: a reply in progress or waiting is cancelled (the next
     * message asks again), and a conversation never written is forgotten (a returning visitor gets a new one).
     */
    visitorGone(conversationId: string) {
      settle(conversationId, "stopped");
      answers.remove(conversationId);
      const draft = drafts.get(conversationId);
      if (draft) {
        drafts.delete(conversationId);
        if (draftOf.get(draft.visitorId) === conversationId) draftOf.delete(draft.visitorId);
      }
    },
    async visitorHandoff(s: VisitorSession) {
      const conv = await openConversation(s);
      await requestHuman(conv.id, "visitor");
    },
    /** `text` is the preview of what the visitor is writing; visitor sockets drop visitor typing, so only agents get it. */
    visitorTyping(conversationId: string, on: boolean, origin: string, text?: string) {
      publish(conversationId, { type: "typing", from: "visitor", on, ...(on && text !== undefined ? { text } : {}) }, origin);
    },
    /** Stores how far the visitor has read (in the next group commit); a draft has nothing to read. */
    async visitorRead(conversationId: string, seq: number) {
      const conv = await convs.get(conversationId);
      if (!conv) return;
      const upTo = Math.min(seq, conv.lastSeq);
      await sql.batch(() => convs.setVisitorRead(conversationId, upTo));
      publish(conversationId, { type: "read", conversation_id: conversationId, seq: upTo });
    },

    // ---- agents ----

    /**
     * A socket of the agent opened. It is given nothing automatically until it sends `presence`
     * (the console says so once it has loaded). Resolves to the agent's last chosen status.
     */
    agentOnline(userId: number): Promise<"online" | "away"> {
      cancelGrace(userId);
      return inPresenceOrder(userId, async () => {
        const status = await agentStatus.get(userId);
        chosen.set(userId, status);
        presence.connect(userId);
        agentsChanged();
        return status;
      });
    },
    /** A socket closed (`ready`: it had sent presence); once all are gone, the grace period starts. */
    agentOffline(userId: number, ready: boolean): Promise<void> {
      return inPresenceOrder(userId, () => {
        if (presence.disconnect(userId, ready)) {
          chosen.delete(userId);
          startGrace(userId);
        }
        if (!stopped) agentsChanged();
      });
    },
    /** The agent chose a status on a socket (`first`: that socket's first presence; it now takes conversations). */
    async setPresence(userId: number, status: "online" | "away", first: boolean) {
      await inPresenceOrder(userId, () => {
        chosen.set(userId, status);
        presence.set(userId, status, first);
      });
      agentsChanged();
      await agentStatus.set(userId, status);
      if (status === "online") await assignQueued();
    },
    async queue(userId: number): Promise<QueueFrame> {
      const [{ queued, open, agents }, mine] = await Promise.all([sharedQueue(), convs.ownedBy(userId)]);
      return { type: "queue", queued, mine, open, agents };
    },
    summary: (id: string): Promise<ConversationSummary | null> => convs.summary(id),
    ownedBy: (userId: number): Promise<ConversationSummary[]> => convs.ownedBy(userId),
    /** The summary with where the visitor is and their earlier conversations; null if unknown. */
    async detail(id: string): Promise<ConversationDetail | null> {
      const s = await convs.summary(id);
      if (!s) return null;
      const identity = await visitors.identity(s.visitor_id);
      return {
        ...s,
        visitor: { ...s.visitor, first_seen_at: identity?.firstSeenAt ?? s.created_at },
        context: { ...(await convs.context(id)), lang: s.lang },
        previous: await convs.previous(id),
      };
    },
    search: (f: SearchFilter) => convs.search(f),
    /** How many conversations a search matches (limit and offset aside). */
    searchTotal: (f: SearchFilter) => convs.searchTotal(f),
    /** Replaces the tags (trimmed, duplicates dropped); every agent gets a fresh queue. */
    async setTags(id: string, tags: string[]): Promise<ConversationSummary> {
      await mustGet(id);
      const clean = [...new Set(tags.map((t) => t.trim()))];
      if (clean.some((t) => !t)) throw new KefuError("invalid_tag", 400, "a tag is empty after trimming");
      await convs.setTags(id, clean);
      agentsChanged();
      return (await convs.summary(id))!;
    },
    /**
     * A private note (any agent, any conversation): stored beside the stream, published to agent sockets
     * only. A repeated client_id of the same agent returns the stored note and publishes nothing.
     */
    async addNote(user: User, conversationId: string, clientId: string, rawText: string, origin?: string): Promise<NoteFrame> {
      const text = checkText(rawText, clientId);
      await mustGet(conversationId);
      const { note, duplicate } = await notes.add(conversationId, user.id, clientId, text);
      const frame = await noteFrame(note);
      if (!duplicate) bus.publish<NoteEvent>(topics.notes(conversationId), { note: frame, origin });
      return frame;
    },
    async notes(conversationId: string): Promise<NoteFrame[]> {
      const names = new Map<number, Promise<AgentRef | undefined>>();
      const out: NoteFrame[] = [];
      for (const n of await notes.list(conversationId)) {
        if (!names.has(n.agentId)) names.set(n.agentId, agentRef(n.agentId));
        const agent = (await names.get(n.agentId)) ?? { id: n.agentId, name: `#${n.agentId}` };
        out.push({ type: "note", conversation_id: n.conversationId, id: n.id, text: n.text, agent, at: n.createdAt, client_id: n.clientId });
      }
      return out;
    },
    /**
     * What the visitor is asking now: their messages since the last reply of the bot or an agent (several
     * as one question), else their latest message; "" when they wrote nothing.
     */
    async currentQuestion(conversationId: string): Promise<string> {
      const rows = (await convs.lastTextMessages(conversationId, 20)).filter((m) => m.sender !== "system");
      const parts: string[] = [];
      for (const m of rows.reverse()) {
        if (m.sender !== "visitor") break;
        parts.unshift(m.text);
      }
      if (parts.length) return parts.slice(-MAX_PARTS).join("\n");
      return rows.find((m) => m.sender === "visitor")?.text ?? "";
    },
    /** Claims a queued or bot conversation, or takes one over from another agent. */
    async claim(user: User, conversationId: string) {
      const conv = await mustGet(conversationId);
      if (conv.state === "closed") throw new KefuError("conversation_closed", 409, "conversation is closed");
      if (conv.state === "agent" && conv.agentId === user.id) return conv;
      const next = await assign(conv, user.id, conv.state === "agent" ? "take_over" : "claim");
      if (!next) throw new KefuError("conflict", 409, "conversation changed meanwhile; try again");
      return next;
    },
    async agentSend(user: User, conversationId: string, clientId: string, rawText: string, origin?: string): Promise<AckFrame> {
      const text = checkText(rawText, clientId);
      const notOwned = () => Object.assign(new KefuError("not_owner", 409, "claim the conversation before replying"), { clientId });
      const conv = await mustGet(conversationId);
      if (conv.state !== "agent" || conv.agentId !== user.id) throw notOwned();
      const agent = await agentRef(user.id);
      // Checked again in the storing transaction, the row locked: a transfer, take-over or close committed
      // since the read above (on another node) must not let this agent write into a conversation no longer theirs.
      const res = await append(
        conv.id,
        { sender: "agent", text, clientId, agentId: user.id, meta: { agent } },
        origin,
        (reply) => logHumanReply(conv.id, reply),
        (now) => {
          if (now?.state !== "agent" || now.agentId !== user.id) throw notOwned();
        },
      );
      return { type: "ack", conversation_id: conv.id, client_id: clientId, seq: res.message.seq };
    },
    async agentTyping(user: User, conversationId: string, on: boolean, origin: string) {
      const conv = await mustGet(conversationId);
      if (conv.state === "agent" && conv.agentId === user.id) publish(conv.id, { type: "typing", from: "agent", on }, origin);
    },
    async transfer(user: User, conversationId: string, toId: number) {
      const conv = await mustGet(conversationId);
      if (conv.state !== "agent") throw new KefuError("not_owned", 409, "only a conversation owned by an agent can be transferred; use claim");
      if (!canManage(user, conv)) throw notOwner();
      const target = await users.get(toId);
      if (!target || target.disabled) throw new KefuError("not_found", 404, "agent not found");
      if (presence.status(toId) === "offline") throw new KefuError("agent_offline", 409, `${target.name} is offline`);
      if (toId === conv.agentId) return conv;
      const next = await assign(conv, toId, "transfer");
      // Taken over, closed or transferred since the read (another node): this transfer did nothing.
      if (!next) throw await changedMeanwhile(user, conversationId);
      await assignQueued();
      return next;
    },
    async returnToBot(user: User, conversationId: string) {
      const conv = await mustGet(conversationId);
      if (conv.state !== "agent" && conv.state !== "queued") throw new KefuError("bad_state", 409, `conversation is ${conv.state}`);
      if (!canManage(user, conv)) throw notOwner();
      const next = await transition(conv, "bot", null, "returned_to_bot", "return_to_bot");
      if (!next) throw await changedMeanwhile(user, conversationId);
      await assignQueued();
      return next;
    },
    /** Only the owner (or an admin) closes: a queued or bot conversation is claimed first. */
    async close(user: User, conversationId: string) {
      const conv = await mustGet(conversationId);
      if (conv.state === "closed") return conv;
      if (user.role !== "admin" && !(conv.state === "agent" && conv.agentId === user.id)) throw notOwner();
      const next = await transition(conv, "closed", conv.agentId, "closed", "close");
      if (!next) {
        const now = await mustGet(conversationId);
        if (now.state === "closed") return now;
        throw await changedMeanwhile(user, conversationId);
      }
      await assignQueued();
      return next;
    },

    // ---- the answer pipeline ----

    /** Appends a bot message outside a live reply (off-hours answers); ignored once an agent owns the conversation. */
    /**
     * `alongside`: a message posted while the conversation's reply is being worked out (a plugin's "one moment,
     * checking…" from inside its hook) goes out before that reply instead of replacing it — unless the reply
     * has started streaming under its announced seq, which a message in between would take.
     */
    async postBotMessage(conversationId: string, text: string, sources?: { id: string; title?: string }[], opts: { alongside?: boolean } = {}): Promise<StoredMessage | null> {
      const conv = await convs.get(conversationId);
      if (!conv || (conv.state !== "bot" && conv.state !== "queued")) return null;
      const m: NewMessage = { sender: "bot", text, meta: sources?.length ? { sources } : undefined };
      const run = streams.get(conversationId);
      if (!opts.alongside || !run || run.seq) return (await append(conversationId, m)).message;
      const res = await convs.appendText(conversationId, m);
      publish(conversationId, toFrame(res.message));
      return res.message;
    },
    /** Hands a conversation in state bot to the human queue. */
    requestHuman: (conversationId: string, reason: string) => requestHuman(conversationId, reason),
    /** Recent visitor, bot and agent messages for the LLM's history window. */
    recentText: (conversationId: string, limit: number) => convs.lastTextMessages(conversationId, limit),

    /** Rows after a seq, for replay and the history API. */
    messagesAfter: (conversationId: string, afterSeq: number, limit?: number) => convs.messagesAfter(conversationId, afterSeq, limit),
    getConversation: (id: string) => convs.get(id),
    agentRef,

    /**
     * What the cluster presence saw change on other nodes (ClusterPresenceOptions.onChange): an agent gone
     * offline everywhere (their node died) gets the grace period, then their conversations return to the
     * queue; one who came online may take queued ones. Every queue frame is refreshed.
     */
    presenceChanged(diff: { online: number[]; offline: number[] }) {
      for (const userId of diff.offline) if (presence.status(userId) === "offline") startGrace(userId);
      for (const userId of diff.online) cancelGrace(userId);
      agentsChanged();
      if (diff.online.length) background("assigning queued conversations failed", assignQueued());
    },

    /** Answers waiting for a slot and in flight (`[chat] answers_in_flight`, `answer_wait_ms`). */
    answerQueue: () => answers.stats(),
    /** In-memory state per conversation and visitor, for sizing and tests: it shrinks when visitors leave. */
    memory: () => ({ drafts: drafts.size, streams: streams.size, waiting: answers.stats().waiting, rate_buckets: limiter.size() }),

    counters,

    /** Handoffs since start, by what asked for the human. */
    handoffStats(): Record<HandoffReason, number> & { total: number } {
      return { ...handoffs, total: HANDOFF_REASONS.reduce((n, r) => n + handoffs[r], 0) };
    },

    /** Stops bot replies (dropping half-streamed ones) and background work; sockets are closed by the caller. */
    stop() {
      stopped = true;
      unsubscribeHandoff();
      unsubscribeResync();
      unsubscribeAgents();
      for (const t of graceTimers.values()) clearTimeout(t);
      graceTimers.clear();
      for (const t of timers) clearTimeout(t);
      timers.clear();
      answers.stop();
      for (const id of [...streams.keys()]) settle(id, "stopped");
    },
  };
}
export type ChatService = ReturnType<typeof createChatService>;
