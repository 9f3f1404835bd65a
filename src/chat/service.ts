import type { Database } from "bun:sqlite";
import type { Static } from "@sinclair/typebox";
import type { User, UserStore } from "../auth/user-store";
import { KefuError } from "../errors/kefu-error";
import { createWriteBatcher } from "../storage/write-batch";
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
import { createAgentStatusStore, createPresence } from "./presence";
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
  db: Database;
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

/**
 * The chat's rules: who may write where, state changes, handoff, assignment and
 * bot replies. Sockets and HTTP routes translate frames into calls here; this
 * module never touches a socket. Invariant: every row appended to a conversation
 * first settles that conversation's bot reply in flight (dropping a half-streamed
 * draft with a `reset`), so an announced seq is always the next one and the stream
 * stays gap-free.
 */
export function createChatService(opts: ChatServiceOptions) {
  const { db, bus, log, config, users } = opts;
  const convs = createConversationStore(db);
  const batch = createWriteBatcher(db);
  const visitors = createVisitorStore(db);
  const identify = createIdentify(visitors, config);
  const notes = createNoteStore(db);
  const agentStatus = createAgentStatusStore(db);
  const presence = createPresence(agentStatus.get);
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
  /** Stores a draft under the id its visitor already knows. */
  const storeDraft = (d: Conversation, context?: VisitorContext): Conversation => {
    drafts.delete(d.id);
    draftOf.delete(d.visitorId);
    return started(convs.create(d.visitorId, d.lang, d.id, context));
  };
  const lifecycle = (e: ConversationLifecycle) => bus.publish<ConversationLifecycle>(topics.lifecycle, e);
  const started = (c: Conversation) => (lifecycle({ type: "started", conversation_id: c.id, visitor_id: c.visitorId }), c);
  /** Bot answers wait here for one of `answers_in_flight` slots; past `answer_wait_ms` they are shed (`shed`). */
  const answers = createAnswerQueue({
    maxInFlight: config.answers_in_flight,
    maxWaitMs: config.answer_wait_ms,
    start: (id, waitedMs, release) => {
      const conv = convs.get(id);
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
  let assigning = false;
  let stopped = false;

  const agentRef = (userId: number | null): AgentRef | undefined => {
    if (userId === null) return undefined;
    const u = users.get(userId);
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
  let shared: Omit<QueueFrame, "mine"> | null = null;
  const sharedQueue = (): Omit<QueueFrame, "mine"> => {
    if (shared) return shared;
    const loads = convs.loads();
    const agents: AgentSummary[] = users
      .list()
      .filter((u) => !u.disabled)
      .map((u) => ({ id: u.id, name: u.displayName ?? u.name, status: presence.status(u.id), load: loads.get(u.id) ?? 0, max_concurrent: u.maxConcurrent }));
    shared = { type: "queue", queued: convs.queued(), open: convs.open(), agents };
    const computed = shared;
    setTimeout(() => {
      if (shared === computed) shared = null;
    }, 0);
    return shared;
  };

  function mustGet(conversationId: string): Conversation {
    const c = convs.get(conversationId);
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

  /** `also` runs in the insert's transaction with the new row (not for a duplicate). */
  function append(conversationId: string, m: NewMessage, origin?: string, also?: (message: StoredMessage) => void) {
    settle(conversationId, m.sender === "visitor" ? "newer_message" : "superseded");
    const res = also
      ? db.transaction(() => {
          const r = convs.appendText(conversationId, m);
          if (!r.duplicate) also(r.message);
          return r;
        })()
      : convs.appendText(conversationId, m);
    if (!res.duplicate) publish(conversationId, toFrame(res.message), origin);
    return res;
  }

  /** Stores a bot reply (inside the caller's transaction, if any); the caller publishes it after the commit. */
  function storeBot(conversationId: string, run: BotRun, m: Omit<NewMessage, "sender">): StoredMessage {
    const { message } = convs.appendText(conversationId, { sender: "bot", ...m });
    if (run.seq && message.seq !== run.seq) {
      log.warn("bot reply stored under another seq than its deltas", { conversation_id: conversationId, reserved: run.seq, seq: message.seq });
    }
    return message;
  }

  /** Changes state and appends the visitor-facing notice as a state row; null if the state moved meanwhile. */
  function transition(conv: Conversation, to: ConversationState, agentId: number | null, text: TextKey, reason: string) {
    settle(conv.id, "superseded");
    const agent = agentRef(agentId);
    const res = convs.changeState(conv.id, conv.state, to, agentId, {
      sender: "system",
      text: say(conv.lang, text, { name: agent?.name ?? "" }),
      meta: { reason, ...(agent ? { agent } : {}) },
    });
    if (!res) return null;
    if (to === "agent") lifecycle({ type: "assigned", conversation_id: conv.id, agent_id: agentId!, reason });
    else if (to === "queued" || to === "closed") lifecycle({ type: to, conversation_id: conv.id, reason });
    logAssignment(log, { conversation_id: conv.id, from: conv.state, to, from_agent: conv.agentId, agent: agentId, reason });
    publish(conv.id, toFrame(res.message));
    agentsChanged();
    return res.conversation;
  }

  function assign(conv: Conversation, agentId: number, reason: string) {
    const next = transition(conv, "agent", agentId, conv.state === "agent" ? "transferred" : "agent_joined", reason);
    if (next) bus.publish<AgentEvent>(topics.agent(agentId), { type: "assigned", conversation_id: conv.id });
    return next;
  }

  /** Gives queued conversations, oldest first, to available agents, least busy first. */
  function assignQueued() {
    if (assigning || stopped) return;
    assigning = true;
    try {
      for (;;) {
        const conv = convs.oldestQueued();
        if (!conv) return;
        const loads = convs.loads();
        const candidates = presence
          .available()
          .map((id) => users.get(id))
          .filter((u): u is User => u !== null && !u.disabled)
          .map((u) => ({ id: u.id, load: loads.get(u.id) ?? 0, maxConcurrent: u.maxConcurrent }));
        const agentId = pickAgent(candidates);
        if (agentId === null) return;
        if (!assign(conv, agentId, "auto")) return;
      }
    } finally {
      assigning = false;
    }
  }

  /**
   * Queues a conversation for a human. With nobody online it waits as a ticket (an agent who comes online
   * gets it, reason included) and the bot keeps answering what it knows, with a note that a human follows up.
   */
  function requestHuman(conversationId: string, reason: string) {
    const draft = drafts.get(conversationId);
    const conv = convs.get(conversationId) ?? (draft ? storeDraft(draft) : null);
    if (!conv || conv.state !== "bot") return;
    if (!transition(conv, "queued", null, "queued", reason)) return;
    handoffs[reasonGroup(reason)]++;
    assignQueued();
    const now = convs.get(conversationId)!;
    if (now.state === "queued") queueNotice(now);
  }

  function queueNotice(conv: Conversation) {
    append(conv.id, { sender: "system", text: say(conv.lang, presence.anyoneOnline() ? "agents_busy" : "no_agent_online") });
  }

  /** The owner has been gone longer than agent_grace_s: their conversations wait for another agent. */
  function requeueOwnedBy(userId: number) {
    graceTimers.delete(userId);
    if (stopped || presence.status(userId) !== "offline") return;
    const owned = convs.ownedBy(userId);
    for (const s of owned) {
      const conv = convs.get(s.conversation_id);
      if (conv?.state === "agent" && conv.agentId === userId) transition(conv, "queued", null, "queued", "agent_offline");
    }
    if (owned.length) log.info("conversations of an agent gone offline returned to the queue", { agent_id: userId, conversations: owned.length });
    assignQueued();
    for (const s of owned) {
      const conv = convs.get(s.conversation_id);
      if (conv?.state === "queued") queueNotice(conv);
    }
  }
  function startGrace(userId: number) {
    if (graceTimers.has(userId) || stopped) return;
    const timer = setTimeout(() => requeueOwnedBy(userId), config.agent_grace_s * 1000);
    graceTimers.set(userId, timer);
  }
  function cancelGrace(userId: number) {
    const timer = graceTimers.get(userId);
    if (timer) clearTimeout(timer);
    graceTimers.delete(userId);
  }
  // After a restart nobody is connected: every owner gets the grace period to come back.
  for (const userId of convs.loads().keys()) startGrace(userId);

  const noteFrame = (n: Note): NoteFrame => ({
    type: "note",
    conversation_id: n.conversationId,
    id: n.id,
    text: n.text,
    agent: agentRef(n.agentId) ?? { id: n.agentId, name: `#${n.agentId}` },
    at: n.createdAt,
    client_id: n.clientId,
  });

  /** The visitor messages since the last reply or notice (any other row), oldest first: one question; `newest` its last row. */
  function unanswered(conversationId: string): { parts: string[]; newest: StoredMessage | null } {
    const parts: string[] = [];
    let newest: StoredMessage | null = null;
    // Usually the newest two rows settle it (the message and the reply before it): read more only when they do not.
    let rows = convs.newestFirst(conversationId, 2);
    if (rows.length === 2 && rows.every((m) => m.sender === "visitor" || m.sender === "system")) rows = convs.newestFirst(conversationId, MAX_PARTS + 4);
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
  function logAnswer(conversationId: string, ev: Answer, asked: Asked, replySeq: number) {
    opts.recordAnswer?.({
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
  function logHumanReply(conversationId: string, reply: StoredMessage) {
    if (!opts.recordAnswer) return;
    const rows = convs.tail(conversationId, MAX_PARTS + 10).reverse();
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
    opts.recordAnswer({
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
   * hands over after too many misses. A streamed reply is stored at once; any other joins the next group commit.
   */
  function deliver(conversationId: string, ev: Answer, run: BotRun | null, asked: Asked | null) {
    const store = () => {
      const c = convs.get(conversationId);
      const shaped = c && shape(c, ev);
      if (!shaped) return null;
      const message = run ? storeBot(conversationId, run, shaped.reply) : convs.appendText(conversationId, { sender: "bot", ...shaped.reply }).message;
      if (shaped.misses !== c.botMisses) convs.setBotMisses(conversationId, shaped.misses);
      if (asked) logAnswer(conversationId, ev, asked, message.seq);
      return { message, misses: shaped.misses, state: c.state };
    };
    const after = (stored: ReturnType<typeof store>) => {
      if (!stored) return;
      publish(conversationId, toFrame(stored.message));
      const limit = config.bot_misses_before_handoff;
      if (stored.state === "bot" && !ev.confident && limit > 0 && stored.misses >= limit) requestHuman(conversationId, "bot_misses");
    };
    if (run?.seq) after(db.transaction(store)());
    else void batch.write(store).then(after, (err) => log.error("bot reply not stored", { conversation_id: conversationId, err }));
  }

  /**
   * No answer slot came free in time: the visitor's unanswered messages get the short busy reply (in the
   * next group commit), which ends them as a reply does. Not a miss: an overloaded server is no reason to
   * queue everybody for a human.
   */
  function shed(conversationId: string) {
    void batch
      .write(() => {
        const c = convs.get(conversationId);
        const { parts, newest } = c ? unanswered(conversationId) : { parts: [], newest: null };
        if (!c || (c.state !== "bot" && c.state !== "queued") || streams.has(conversationId) || !newest) return null;
        const message = convs.appendText(conversationId, { sender: "bot", text: say(c.lang, "bot_busy"), meta: { reason: "busy" } }).message;
        logAnswer(conversationId, { type: "answer", text: message.text, confident: false, path: "busy", step: "answer_queue" }, askedBy(parts.join("\n"), newest), message.seq);
        return message;
      })
      .then(
        (message) => message && publish(conversationId, toFrame(message)),
        (err) => log.error("busy reply not stored", { conversation_id: conversationId, err }),
      );
  }

  /** `waitedMs`: time spent waiting for a slot (it counts toward the answer deadline); `release` frees the slot. */
  async function runBot(conv: Conversation, waitedMs = 0, release: () => void = () => {}) {
    settle(conv.id, "newer_message");
    const { parts, newest } = unanswered(conv.id);
    if (!newest) return;
    const asked = askedBy(parts.join("\n"), newest);
    const run: BotRun = { ctrl: new AbortController(), seq: 0, text: "" };
    streams.set(conv.id, run);
    const current = () => streams.get(conv.id) === run;
    /** Ends the run; a draft that is not the reply is dropped first (the message of the same seq follows). */
    const finish = (ev: Answer, dropped: ResetReason = "superseded") => {
      streams.delete(conv.id);
      if (run.text && run.text !== ev.text) publish(conv.id, { type: "reset", seq: run.seq, reason: dropped });
      deliver(conv.id, ev, run, asked);
    };
    const failed = (): Answer => ({ type: "answer", text: say(conv.lang, "bot_failed"), confident: false, path: "fallback", step: "failed" });
    const timer = setTimeout(() => {
      if (!current()) return;
      log.warn("bot reply timed out", { conversation_id: conv.id, timeout_ms: config.bot_timeout_ms });
      run.ctrl.abort();
      finish(failed(), "timeout");
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
          run.seq ||= mustGet(conv.id).lastSeq + 1;
          run.text += ev.text;
          publish(conv.id, { type: "delta", seq: run.seq, text: ev.text });
        } else if (ev.type === "reset") {
          if (!run.text) continue;
          run.text = "";
          publish(conv.id, { type: "reset", seq: run.seq, reason: "provider_failed" });
        } else if (ev.type === "answer") {
          finish(ev.text ? ev : failed());
          return;
        } else {
          settle(conv.id, "superseded");
          requestHuman(conv.id, ev.reason ? `bot:${ev.reason}` : "bot");
          return;
        }
      }
      if (current()) finish(failed(), "stopped");
    } catch (err) {
      if (!current()) return;
      log.warn("bot reply failed", { conversation_id: conv.id, err });
      finish(failed(), "provider_failed");
    } finally {
      release();
      clearTimeout(timer);
      timers.delete(timer);
    }
  }

  /** Answers a picked choice with its entry, verbatim; an error when it was not offered here or is gone. */
  async function chosen(conversationId: string, entryId: string, clientId?: string): Promise<{ choice: Choice; answer: ChosenAnswer | null }> {
    const choice = convs.offeredChoice(conversationId, entryId);
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
  function typedChoice(conversationId: string, text: string): Choice | null {
    const { choices, latest } = convs.latestChoices(conversationId);
    const typed = normalizeForMatch(text);
    const n = latest && /^\d{1,2}$/.test(typed) ? Number(typed) : 0;
    return choices.find((c, i) => n === i + 1 || normalizeForMatch(c.question) === typed) ?? null;
  }

  /**
   * The visitor's open conversation, starting a new one when the current one was
   * closed; every tab of the visitor is told to switch.
   */
  function openConversation(s: VisitorSession): Conversation {
    const { visitor, conversation: current, context } = s;
    const stored = convs.get(current.id);
    if (stored && stored.state !== "closed") return stored;
    // Closed, or a draft never written: the visitor's open conversation (another tab may have stored its
    // own draft meanwhile), else a new one — under the draft's id, which this tab already announced.
    const next = convs.openOf(visitor.id) ?? (stored ? started(convs.create(visitor.id, current.lang, undefined, context)) : storeDraft(current, context));
    if (context) convs.setContextIfUnset(next.id, context);
    bus.publish<VisitorEvent>(topics.visitor(visitor.id), { type: "conversation", conversation_id: next.id });
    return next;
  }

  /** The visitor and conversation of a hello (inside the group commit's transaction). */
  function resolveHello(h: { visitor_id?: string; token?: string; lang?: string; context?: VisitorContext; user?: VisitorUser }): VisitorSession {
    let current: { visitor: Visitor; token: string } | null = null;
    if (h.token || h.visitor_id) {
      const found = h.token ? visitors.byToken(h.token) : null;
      if (!found || (h.visitor_id !== undefined && h.visitor_id !== found.id)) throw chatError("unauthorized", 401);
      current = { visitor: { id: found.id, lang: h.lang ? pickLang(h.lang, found.lang) : found.lang }, token: h.token! };
      visitors.touch(current.visitor.id, current.visitor.lang);
    }
    const identified = h.user ? identify(h.user, current, h.lang) : current;
    const { visitor, token } = identified ?? current ?? visitors.create(pickLang(h.lang, config.default_lang));
    const stored = convs.openOf(visitor.id);
    const context = h.context && Object.keys(h.context).length ? h.context : undefined;
    if (stored && context) convs.setContextIfUnset(stored.id, context);
    return { visitor, token, conversation: stored ?? draftFor(visitor), context, identityRefused: h.user !== undefined && identified === null };
  }

  function checkText(raw: string, clientId?: string): string {
    const text = raw.trim();
    if (!text) throw chatError("empty_text", 400, {}, clientId);
    if (text.length > config.max_text_chars && [...text].length > config.max_text_chars) {
      throw chatError("text_too_long", 400, { max: config.max_text_chars }, clientId);
    }
    return text;
  }

  const unsubscribeHandoff = bus.subscribe<HandoffRequest>(topics.handoff, (req) => requestHuman(req.conversation_id, req.reason ?? "plugin"));

  /** Agents see a queued or owned conversation's new visitor message in their lists (last_text, unread). */
  function visitorWrote(conversationId: string) {
    const conv = convs.get(conversationId);
    if (conv && (conv.state === "queued" || conv.state === "agent")) agentsChanged();
  }

  function canManage(user: User, conv: Conversation) {
    return user.role === "admin" || conv.state !== "agent" || conv.agentId === user.id;
  }
  const notOwner = () => new KefuError("not_owner", 403, "this conversation is owned by another agent");

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
      return batch.write(() => resolveHello(h));
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
      const conv = openConversation(s);
      // The bot reply in flight ends now, before the message takes the next seq (the invariant of `append`);
      // the next reply answers this message together with the ones that reply was for.
      settle(conv.id, "newer_message");
      // Group commit: messages arriving in the same event-loop turn share one transaction and one fsync.
      const res = await batch.write(() => convs.appendText(conv.id, { sender: "visitor", text, clientId }));
      if (!res.duplicate) {
        publish(conv.id, toFrame(res.message), origin);
        visitorWrote(conv.id);
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
      if (name || email) visitors.describe(s.visitor.id, { name, email });
      const conv = openConversation(s);
      settle(conv.id, "newer_message");
      const res = await batch.write(() => convs.appendText(conv.id, { sender: "visitor", text, clientId: f.client_id, meta: { reason: "offline_message" } }));
      if (!res.duplicate) publish(conv.id, toFrame(res.message), origin);
      return {
        ack: { type: "ack", client_id: f.client_id, seq: res.message.seq },
        // After the ack, as a send's reaction: the ticket's state row and notice follow the message.
        queue: () => {
          if (res.duplicate) return;
          if (convs.get(conv.id)?.state === "bot") requestHuman(conv.id, "offline_message");
          else visitorWrote(conv.id);
        },
      };
    },

    /** CSAT: stored on the visitor's own conversation (replacing an earlier rating); another one is not_found; limited like send. */
    rate(s: VisitorSession, conversationId: string, score: number, comment?: string) {
      // Each rating is a write and a fresh queue for every agent: it spends from the visitor's message rate.
      if (!limiter.take(s.visitor.id) && ++counters.refused.chat) throw chatError("rate_limited", 429);
      const text = comment?.trim() || undefined;
      if (!convs.rate(conversationId, s.visitor.id, { score, ...(text ? { comment: text } : {}) })) throw chatError("not_found", 404);
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
      const conv = convs.get(message.conversationId);
      if (!conv || stopped || (conv.state !== "bot" && conv.state !== "queued")) return;
      if (conv.lastSeq > message.seq && convs.tail(conv.id, conv.lastSeq - message.seq).some((m) => m.sender === "visitor")) return;
      if (wantsHuman(message.text)) return conv.state === "bot" ? requestHuman(conv.id, "keyword") : queueNotice(conv);
      const choice = typedChoice(conv.id, message.text);
      if (choice) {
        void chosen(conv.id, choice.entry_id).then(
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
      const conv = convs.get(s.conversation.id);
      if (!conv || conv.state === "closed") throw chatError("choice_not_offered", 400, {}, clientId);
      const { choice, answer } = await chosen(conv.id, entryId, clientId);
      settle(conv.id, "newer_message");
      const res = await batch.write(() => convs.appendText(conv.id, { sender: "visitor", text: choice.question, clientId, meta: { choice: entryId } }));
      if (!res.duplicate) publish(conv.id, toFrame(res.message), clientId ? origin : undefined);
      return {
        ack: clientId ? { type: "ack", client_id: clientId, seq: res.message.seq } : null,
        answer: () => {
          if (!res.duplicate) answer ? deliverChosen(conv.id, answer, choice, res.message) : answers.enqueue(conv.id);
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
    visitorHandoff(s: VisitorSession) {
      const conv = openConversation(s);
      requestHuman(conv.id, "visitor");
    },
    /** `text` is the preview of what the visitor is writing; visitor sockets drop visitor typing, so only agents get it. */
    visitorTyping(conversationId: string, on: boolean, origin: string, text?: string) {
      publish(conversationId, { type: "typing", from: "visitor", on, ...(on && text !== undefined ? { text } : {}) }, origin);
    },
    /** Stores how far the visitor has read (in the next group commit); a draft has nothing to read. */
    async visitorRead(conversationId: string, seq: number) {
      const conv = convs.get(conversationId);
      if (!conv) return;
      const upTo = Math.min(seq, conv.lastSeq);
      await batch.write(() => convs.setVisitorRead(conversationId, upTo));
      publish(conversationId, { type: "read", conversation_id: conversationId, seq: upTo });
    },

    // ---- agents ----

    /**
     * A socket of the agent opened. It is given nothing automatically until it sends `presence`
     * (the console says so once it has loaded). Returns the agent's last chosen status.
     */
    agentOnline(userId: number): "online" | "away" {
      cancelGrace(userId);
      presence.connect(userId);
      agentsChanged();
      return agentStatus.get(userId);
    },
    /** A socket closed (`ready`: it had sent presence); once all are gone, the grace period starts. */
    agentOffline(userId: number, ready: boolean) {
      if (presence.disconnect(userId, ready)) startGrace(userId);
      if (!stopped) agentsChanged();
    },
    /** The agent chose a status on a socket (`first`: that socket's first presence; it now takes conversations). */
    setPresence(userId: number, status: "online" | "away", first: boolean) {
      agentStatus.set(userId, status);
      presence.set(userId, status, first);
      agentsChanged();
      if (status === "online") assignQueued();
    },
    queue(userId: number): QueueFrame {
      const { queued, open, agents } = sharedQueue();
      return { type: "queue", queued, mine: convs.ownedBy(userId), open, agents };
    },
    summary: (id: string): ConversationSummary | null => convs.summary(id),
    ownedBy: (userId: number): ConversationSummary[] => convs.ownedBy(userId),
    /** The summary with where the visitor is and their earlier conversations; null if unknown. */
    detail(id: string): ConversationDetail | null {
      const s = convs.summary(id);
      if (!s) return null;
      const identity = visitors.identity(s.visitor_id);
      return {
        ...s,
        visitor: { ...s.visitor, first_seen_at: identity?.firstSeenAt ?? s.created_at },
        context: { ...convs.context(id), lang: s.lang },
        previous: convs.previous(id),
      };
    },
    search: (f: SearchFilter) => convs.search(f),
    /** How many conversations a search matches (limit and offset aside). */
    searchTotal: (f: SearchFilter) => convs.searchTotal(f),
    /** Replaces the tags (trimmed, duplicates dropped); every agent gets a fresh queue. */
    setTags(id: string, tags: string[]): ConversationSummary {
      mustGet(id);
      const clean = [...new Set(tags.map((t) => t.trim()))];
      if (clean.some((t) => !t)) throw new KefuError("invalid_tag", 400, "a tag is empty after trimming");
      convs.setTags(id, clean);
      agentsChanged();
      return convs.summary(id)!;
    },
    /**
     * A private note (any agent, any conversation): stored beside the stream, published to agent sockets
     * only. A repeated client_id of the same agent returns the stored note and publishes nothing.
     */
    addNote(user: User, conversationId: string, clientId: string, rawText: string, origin?: string): NoteFrame {
      const text = checkText(rawText, clientId);
      mustGet(conversationId);
      const { note, duplicate } = notes.add(conversationId, user.id, clientId, text);
      const frame = noteFrame(note);
      if (!duplicate) bus.publish<NoteEvent>(topics.notes(conversationId), { note: frame, origin });
      return frame;
    },
    notes: (conversationId: string): NoteFrame[] => notes.list(conversationId).map(noteFrame),
    /**
     * What the visitor is asking now: their messages since the last reply of the bot or an agent (several
     * as one question), else their latest message; "" when they wrote nothing.
     */
    currentQuestion(conversationId: string): string {
      const rows = convs.lastTextMessages(conversationId, 20).filter((m) => m.sender !== "system");
      const parts: string[] = [];
      for (const m of rows.reverse()) {
        if (m.sender !== "visitor") break;
        parts.unshift(m.text);
      }
      if (parts.length) return parts.slice(-MAX_PARTS).join("\n");
      return rows.find((m) => m.sender === "visitor")?.text ?? "";
    },
    /** Claims a queued or bot conversation, or takes one over from another agent. */
    claim(user: User, conversationId: string) {
      const conv = mustGet(conversationId);
      if (conv.state === "closed") throw new KefuError("conversation_closed", 409, "conversation is closed");
      if (conv.state === "agent" && conv.agentId === user.id) return conv;
      const next = assign(conv, user.id, conv.state === "agent" ? "take_over" : "claim");
      if (!next) throw new KefuError("conflict", 409, "conversation changed meanwhile; try again");
      return next;
    },
    agentSend(user: User, conversationId: string, clientId: string, rawText: string, origin?: string): AckFrame {
      const text = checkText(rawText, clientId);
      const conv = mustGet(conversationId);
      if (conv.state !== "agent" || conv.agentId !== user.id) {
        throw Object.assign(new KefuError("not_owner", 409, "claim the conversation before replying"), { clientId });
      }
      const res = append(conv.id, { sender: "agent", text, clientId, agentId: user.id, meta: { agent: agentRef(user.id) } }, origin, (reply) =>
        logHumanReply(conv.id, reply),
      );
      return { type: "ack", conversation_id: conv.id, client_id: clientId, seq: res.message.seq };
    },
    agentTyping(user: User, conversationId: string, on: boolean, origin: string) {
      const conv = mustGet(conversationId);
      if (conv.state === "agent" && conv.agentId === user.id) publish(conv.id, { type: "typing", from: "agent", on }, origin);
    },
    transfer(user: User, conversationId: string, toId: number) {
      const conv = mustGet(conversationId);
      if (conv.state !== "agent") throw new KefuError("not_owned", 409, "only a conversation owned by an agent can be transferred; use claim");
      if (!canManage(user, conv)) throw notOwner();
      const target = users.get(toId);
      if (!target || target.disabled) throw new KefuError("not_found", 404, "agent not found");
      if (presence.status(toId) === "offline") throw new KefuError("agent_offline", 409, `${target.name} is offline`);
      if (toId === conv.agentId) return conv;
      const next = assign(conv, toId, "transfer");
      assignQueued();
      return next;
    },
    returnToBot(user: User, conversationId: string) {
      const conv = mustGet(conversationId);
      if (conv.state !== "agent" && conv.state !== "queued") throw new KefuError("bad_state", 409, `conversation is ${conv.state}`);
      if (!canManage(user, conv)) throw notOwner();
      const next = transition(conv, "bot", null, "returned_to_bot", "return_to_bot");
      assignQueued();
      return next;
    },
    /** Only the owner (or an admin) closes: a queued or bot conversation is claimed first. */
    close(user: User, conversationId: string) {
      const conv = mustGet(conversationId);
      if (conv.state === "closed") return conv;
      if (user.role !== "admin" && !(conv.state === "agent" && conv.agentId === user.id)) throw notOwner();
      const next = transition(conv, "closed", conv.agentId, "closed", "close");
      assignQueued();
      return next;
    },

    // ---- the answer pipeline ----

    /** Appends a bot message outside a live reply (off-hours answers); ignored once an agent owns the conversation. */
    /**
     * `alongside`: a message posted while the conversation's reply is being worked out (a plugin's "one moment,
     * checking…" from inside its hook) goes out before that reply instead of replacing it — unless the reply
     * has started streaming under its announced seq, which a message in between would take.
     */
    postBotMessage(conversationId: string, text: string, sources?: { id: string; title?: string }[], opts: { alongside?: boolean } = {}): StoredMessage | null {
      const conv = convs.get(conversationId);
      if (!conv || (conv.state !== "bot" && conv.state !== "queued")) return null;
      const m: NewMessage = { sender: "bot", text, meta: sources?.length ? { sources } : undefined };
      const run = streams.get(conversationId);
      if (!opts.alongside || !run || run.seq) return append(conversationId, m).message;
      const res = convs.appendText(conversationId, m);
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
