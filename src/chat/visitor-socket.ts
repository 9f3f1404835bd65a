import type { EventBus } from "../events/bus";
import { type Bucket, takeFrom } from "../limits/rate-limit";
import type { Logger } from "../log/logger";
import type { Conversation } from "./conversation-store";
import { toFrame } from "./frame-render";
import { createFrameParser } from "./frames";
import { OwnMessages, StreamFollow } from "./stream-follow";
import { PROTOCOL_VERSION, visitorFrames, type VisitorFrame, type WelcomeFrame } from "./schemas";
import { type ChatService, chatError, type ConversationEvent, topics, type VisitorEvent, type VisitorSession } from "./service";
import type { SocketGuard } from "./socket-guard";
import { CLOSE_POLICY, type ChatSocket, type ChatSocketData, errorFrame, problemFrame, sendFrame } from "./socket-io";
import { type Lang, say } from "./texts";

const parseVisitorFrame = createFrameParser(visitorFrames);
/** Read receipts are stored at most this often per socket (each one is a write); the newest seq wins. */
const READ_EVERY_MS = 1000;
/** Typing changes over their budget are sent this much later, the newest preview winning. */
const TYPING_LATER_MS = 500;
/** Typing changes one connection may send in a burst, and per second. */
const TYPING_BURST = 4;
const TYPING_PER_SECOND = 2;

export interface SocketDeps {
  service: ChatService;
  bus: EventBus;
  log: Logger;
  /** Open chat sockets of this node, closed on shutdown. */
  sockets: Set<ChatSocket>;
  /** Per-IP limits of visitor sockets. */
  guard: SocketGuard;
}

/**
 * One visitor connection (/ws), kept by Bun in ws.data for the life of the connection. A class, so that
 * its handlers live once on the prototype rather than as closures in every connection (thousands of idle
 * sessions each pay only for their fields). Delivery rule: frames of the stream (message, state) go out
 * in seq order exactly once per socket; `lastSent` drops repeats and a jump ahead is filled from the database
 * (so is everything after `bus:resync`: the bus may have lost events), live frames waiting meanwhile.
 */
class VisitorConnection implements ChatSocketData {
  readonly id = crypto.randomUUID();
  private ws!: ChatSocket;
  // Every frame spends from this budget before it is parsed; typing changes have a smaller one.
  private readonly budget: Bucket;
  private readonly typingBudget: Bucket;
  /** Frames refused in a row since the last one that fit the budget. */
  private strikes = 0;
  private closing = false;
  /** The socket closed (a hello still being stored must not subscribe it to anything). */
  private gone = false;
  /** Frames that came while the hello was being stored (bounded by the frame budget); null otherwise. */
  private held: (string | Buffer)[] | null = null;
  private helloTimer: Timer | null = null;
  private readSeq = 0;
  private readAt = -Infinity;
  private readTimer: Timer | null = null;
  private lang: Lang;
  private session: VisitorSession | null = null;
  /** The conversation this socket follows (replaced when the visitor's conversation changes). */
  private stream: StreamFollow | null = null;
  /** Messages this socket sent: it has them as acks, a refetch skips them. */
  private readonly own = new OwnMessages("visitor");
  private typingOn = false;
  private typingText: string | undefined;
  private typingTimer: Timer | null = null;
  private replies: Promise<void> | null = null;
  private leaveConversation: (() => void) | null = null;
  private leaveVisitor: (() => void) | null = null;
  private leaveResync: (() => void) | null = null;

  constructor(
    private readonly deps: SocketDeps,
    private readonly ip: string,
  ) {
    const now = performance.now();
    this.budget = { tokens: deps.service.config.frame_burst, at: now };
    this.typingBudget = { tokens: TYPING_BURST, at: now };
    this.lang = deps.service.config.default_lang;
  }

  private send(frame: object) {
    sendFrame(this.ws, frame);
  }

  /** An ack of this socket's own message (see OwnMessages). */
  private ack(ack: { client_id: string; seq: number }) {
    this.own.acked(ack.client_id, ack.seq, this.stream);
    sendFrame(this.ws, ack);
  }

  /** Sends the stored rows this socket has not been sent (a gap, or a resync). */
  private catchUp(stream: StreamFollow) {
    return stream.catchUp(this.deps.service.messagesAfter, (r) => this.send(toFrame(r)), this.own);
  }

  private onConversation(stream: StreamFollow, { frame, origin }: ConversationEvent) {
    if (frame.type === "read" || (frame.type === "typing" && frame.from === "visitor")) return;
    if (frame.type === "message" || frame.type === "state") {
      if (frame.seq <= stream.lastSent) return;
      if (frame.seq > stream.lastSent + 1) return this.catchUp(stream);
      stream.lastSent = frame.seq;
      // The sending tab has this message already, as its ack.
      if (origin !== this.id) this.send(frame);
      else if (frame.type === "message" && frame.client_id) this.own.forget(frame.client_id);
      return;
    }
    if ((frame.type === "delta" || frame.type === "reset") && frame.seq <= stream.lastSent) return;
    this.send(frame);
  }

  private async welcome(conv: Conversation): Promise<WelcomeFrame> {
    const { service } = this.deps;
    const agent = conv.state === "agent" ? await service.agentRef(conv.agentId) : undefined;
    return {
      type: "welcome",
      v: PROTOCOL_VERSION,
      visitor_id: this.session!.visitor.id,
      token: this.session!.token,
      conversation_id: conv.id,
      state: conv.state,
      ...(agent ? { agent } : {}),
      last_seq: conv.lastSeq,
      agents_online: service.agentsOnline(),
      ...settings(service),
    };
  }

  /** Resolves once the welcome and the backlog are out. */
  private attach(conv: Conversation, afterSeq: number): Promise<void> {
    const { service, bus, log } = this.deps;
    this.leaveConversation?.();
    if (this.stream) this.stream.ended = true;
    this.session!.conversation = conv;
    const stream = new StreamFollow(conv.id, afterSeq, (ev) => this.onConversation(stream, ev), (err) => log.error("visitor replay failed", { err }));
    this.stream = stream;
    // Subscribe before reading the backlog: nothing committed in between can be missed (live frames wait for the welcome and the replay).
    this.leaveConversation = bus.subscribe<ConversationEvent>(topics.conversation(conv.id), (ev) => stream.push(ev));
    stream.hold(async () => {
      const welcome = await this.welcome((await service.getConversation(conv.id)) ?? conv);
      if (!stream.ended) this.send(welcome);
    });
    return this.catchUp(stream);
  }

  private onVisitor(ev: VisitorEvent) {
    if (ev.conversation_id === this.session?.conversation.id) return;
    void this.deps.service.getConversation(ev.conversation_id).then(
      (conv) => {
        if (conv && !this.gone && this.session && conv.id !== this.session.conversation.id) void this.attach(conv, 0);
      },
      (err) => this.deps.log.error("visitor conversation switch failed", { err }),
    );
  }

  private flushTyping() {
    this.typingTimer = null;
    if (this.session) this.deps.service.visitorTyping(this.session.conversation.id, this.typingOn, this.id, this.typingText);
  }
  /** A change of typing or of its preview; over budget, the newest state goes out a little later. */
  private typing(on: boolean, text: string | undefined) {
    const preview = on ? text : undefined;
    if (on === this.typingOn && preview === this.typingText) return;
    this.typingOn = on;
    this.typingText = preview;
    if (this.typingTimer) return;
    if (takeFrom(this.typingBudget, performance.now(), TYPING_BURST, TYPING_PER_SECOND)) return this.flushTyping();
    this.typingTimer = setTimeout(() => this.flushTyping(), TYPING_LATER_MS);
  }

  private flushRead() {
    this.readTimer = null;
    this.readAt = performance.now();
    const { service, log } = this.deps;
    if (this.session) void service.visitorRead(this.session.conversation.id, this.readSeq).catch((err) => log.error("read receipt not stored", { err }));
  }
  private read(seq: number) {
    this.readSeq = Math.max(this.readSeq, seq);
    if (this.readTimer) return;
    const wait = this.readAt + READ_EVERY_MS - performance.now();
    if (wait <= 0) this.flushRead();
    else this.readTimer = setTimeout(() => this.flushRead(), wait);
  }

  /** Over budget: one rate_limited frame, then silence; a client that keeps going is closed and its IP cooled down. */
  private overBudget() {
    const { service, guard, log } = this.deps;
    this.strikes++;
    service.counters.refused.frames++;
    if (this.strikes === 1) this.send({ type: "error", code: "rate_limited", message: say(this.lang, "err_rate_limited") });
    if (this.strikes > service.config.flood_strikes && !this.closing) {
      this.closing = true;
      guard.coolDown(this.ip);
      log.warn("visitor socket closed for flooding", { ip: this.ip, cooldown_s: service.config.flood_cooldown_s });
      this.ws.close(CLOSE_POLICY, "flooding");
    }
  }

  /**
   * Stored now (group commit); the follow-up `work` resolves to (ack, reaction) runs in the order the
   * frames came, whatever finishes first. A refusal becomes an error frame in the same order.
   */
  private inOrder(work: Promise<() => void>, clientId?: string) {
    const { log } = this.deps;
    if (clientId) this.own.add(clientId);
    const outcome = work.catch((err) => () => {
      if (clientId) this.own.forget(clientId);
      this.send(errorFrame(err, this.lang, log, clientId));
    });
    this.replies = (this.replies ?? Promise.resolve())
      .then(() => outcome)
      .then((reply) => reply())
      .catch((err) => log.error("visitor reply failed", { err }));
  }

  /** The hello is stored: the connection belongs to this visitor from now on. Resolves once the welcome and the backlog are out. */
  private async begin(s: VisitorSession, f: { conversation_id?: string; last_seq?: number; token?: string }) {
    const { service, bus, log } = this.deps;
    if (this.gone) {
      // Closed meanwhile: nothing to subscribe; a conversation announced to nobody is forgotten.
      if (bus.subscribers(topics.visitor(s.visitor.id)) === 0) service.visitorGone(s.conversation.id);
      return;
    }
    this.session = s;
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.helloTimer = null;
    this.lang = s.visitor.lang;
    // A user whose hash does not match is ignored: the visitor goes on as this device's (or a new) anonymous one.
    if (s.identityRefused) this.send(errorFrame(chatError("invalid_identity", 400), this.lang, log));
    this.leaveVisitor = bus.subscribe<VisitorEvent>(topics.visitor(s.visitor.id), (ev) => this.onVisitor(ev));
    // The bus may have lost events (an outage of the Redis bus): refetch from the database by seq.
    this.leaveResync = bus.subscribe(topics.resync, () => void (this.stream && this.catchUp(this.stream)));
    // last_seq counts in the conversation the client knew; another conversation replays from the start.
    const known = f.conversation_id === undefined || f.conversation_id === s.conversation.id;
    const sent = this.attach(s.conversation, known ? (f.last_seq ?? 0) : 0);
    // A returning visitor whose last message went unanswered (its node died): this node may answer it.
    if (f.token && s.conversation.lastSeq > 0) service.resumed(s.conversation);
    await sent;
  }

  private hello(f: Extract<VisitorFrame, { type: "hello" }>) {
    const { service, log } = this.deps;
    // Stored in the next group commit; frames sent behind the hello wait for it, in order.
    this.held = [];
    void service
      .hello(f, PROTOCOL_VERSION)
      .then(
        (s) => this.begin(s, f),
        (err) => this.send(errorFrame(err, this.lang, log)),
      )
      .finally(() => {
        const frames = this.held ?? [];
        this.held = null;
        for (const r of frames) {
          if (this.closing || this.gone) break;
          // Another hello among them (the first was refused) holds the rest again.
          if (this.held) (this.held as (string | Buffer)[]).push(r);
          else this.dispatch(r);
        }
      });
  }

  private dispatch(raw: string | Buffer) {
    const { service, guard, log } = this.deps;
    const parsed = parseVisitorFrame(raw, service.config.max_frame_bytes);
    if (!parsed.ok) return this.send(problemFrame(parsed.problem, this.lang));
    const f = parsed.frame;
    try {
      if (f.type === "ping") return this.send({ type: "pong" });
      if (f.type === "hello") {
        if (this.session) throw chatError("already_hello", 400);
        if (!f.token && !f.visitor_id && !guard.newVisitor(this.ip) && ++service.counters.refused.new_visitors) throw chatError("new_visitors_limited", 429);
        return this.hello(f);
      }
      const session = this.session;
      if (!session) throw chatError("hello_required", 400);
      switch (f.type) {
        case "send": {
          const clientId = f.client_id;
          // Stored now (group commit); answered in the order the frames came, whatever finishes first.
          return this.inOrder(
            service.visitorSend(session, clientId, f.text, this.id).then((sent) => () => {
              this.ack(sent.ack);
              if (sent.message) service.react(sent.message);
            }),
            clientId,
          );
        }
        case "typing":
          return this.typing(f.on, f.text);
        case "availability":
          return this.send({ type: "availability", agents_online: service.agentsOnline() });
        case "offline_message": {
          const clientId = f.client_id;
          return this.inOrder(
            service.offlineMessage(session, f, this.id).then((sent) => () => {
              this.ack(sent.ack);
              sent.queue();
            }),
            clientId,
          );
        }
        case "rate":
          return this.inOrder(service.rate(session, f.conversation_id, f.score, f.comment).then((rated) => () => this.send(rated)));
        case "read":
          return this.read(f.seq);
        case "handoff":
          return this.inOrder(service.visitorHandoff(session).then(() => () => {}));
        case "choose": {
          // In line with sends, so a choice and the messages around it are answered in order.
          return this.inOrder(
            service.visitorChoose(session, f.entry_id, f.client_id, this.id).then((chosen) => () => {
              if (chosen.ack) this.ack(chosen.ack);
              chosen.answer();
            }),
            f.client_id,
          );
        }
      }
    } catch (err) {
      this.send(errorFrame(err, this.lang, log, "client_id" in f ? f.client_id : undefined));
    }
  }

  open(socket: ChatSocket) {
    this.ws = socket;
    this.deps.sockets.add(socket);
    this.deps.service.counters.sockets.visitor++;
    this.deps.guard.opened(this.ip);
    // A socket that answers pings but never says hello would otherwise live forever.
    this.helloTimer = setTimeout(() => {
      if (!this.session && !this.closing) {
        this.closing = true;
        socket.close(CLOSE_POLICY, "hello timeout");
      }
    }, this.deps.service.config.hello_timeout_s * 1000);
  }

  message(_socket: ChatSocket, raw: string | Buffer) {
    if (this.closing) return;
    const config = this.deps.service.config;
    if (!takeFrom(this.budget, performance.now(), config.frame_burst, config.frames_per_second)) return this.overBudget();
    this.strikes = 0;
    if (this.held) {
      this.held.push(raw);
      return;
    }
    this.dispatch(raw);
  }

  close(socket: ChatSocket) {
    const { service, bus, sockets, guard } = this.deps;
    this.gone = true;
    this.held = null;
    sockets.delete(socket);
    service.counters.sockets.visitor--;
    guard.closed(this.ip);
    if (this.helloTimer) clearTimeout(this.helloTimer);
    if (this.typingTimer) clearTimeout(this.typingTimer);
    if (this.readTimer) {
      clearTimeout(this.readTimer);
      this.flushRead();
    }
    const session = this.session;
    if (session && this.typingOn) service.visitorTyping(session.conversation.id, false, this.id);
    this.leaveConversation?.();
    this.leaveVisitor?.();
    this.leaveResync?.();
    if (this.stream) this.stream.ended = true;
    // The visitor's last tab closed: stop generating a reply nobody reads (this aborts the upstream LLM call).
    if (session && bus.subscribers(topics.visitor(session.visitor.id)) === 0) service.visitorGone(session.conversation.id);
  }
}

export function visitorSocket(deps: SocketDeps, ip: string): ChatSocketData {
  return new VisitorConnection(deps, ip);
}

export function settings(service: ChatService) {
  const c = service.config;
  return { limits: { max_text_chars: c.max_text_chars, max_frame_bytes: c.max_frame_bytes, heartbeat_s: c.heartbeat_s } };
}
