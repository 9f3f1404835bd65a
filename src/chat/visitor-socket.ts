import type { EventBus } from "../events/bus";
import { createTokenBucket } from "../limits/rate-limit";
import type { Logger } from "../log/logger";
import type { Conversation } from "./conversation-store";
import { toFrame } from "./frame-render";
import { createFrameParser } from "./frames";
import { PROTOCOL_VERSION, visitorFrames, type WelcomeFrame } from "./schemas";
import { type ChatService, chatError, type ConversationEvent, topics, type VisitorEvent, type VisitorSession } from "./service";
import type { SocketGuard } from "./socket-guard";
import { CLOSE_POLICY, type ChatSocket, type ChatSocketData, errorFrame, problemFrame, sendFrame } from "./socket-io";
import { type Lang, say } from "./texts";

const parseVisitorFrame = createFrameParser(visitorFrames);
const REPLAY_PAGE = 500;
/** Read receipts are stored at most this often per socket (each one is a write); the newest seq wins. */
const READ_EVERY_MS = 1000;
/** Typing changes over their budget are sent this much later, the newest preview winning. */
const TYPING_LATER_MS = 500;

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
 * One visitor connection (/ws). State lives in this closure, which Bun keeps in
 * ws.data for the life of the connection. Delivery rule: frames of the stream
 * (message, state) go out in seq order exactly once per socket; `lastSent`
 * drops repeats and a jump ahead is filled from the database.
 */
export function visitorSocket(deps: SocketDeps, ip: string): ChatSocketData {
  const { service, bus, log, sockets, guard } = deps;
  const config = service.config;
  const id = crypto.randomUUID();
  const { limits } = settings(service);
  // Every frame spends from this budget before it is parsed; typing changes have a smaller one.
  const budget = createTokenBucket({ burst: config.frame_burst, perSecond: config.frames_per_second });
  const typingBudget = createTokenBucket({ burst: 4, perSecond: 2 });
  /** Frames refused in a row since the last one that fit the budget. */
  let strikes = 0;
  let closing = false;
  /** The socket closed (a hello still being stored must not subscribe it to anything). */
  let gone = false;
  /** Frames that came while the hello was being stored (bounded by the frame budget); null otherwise. */
  let held: (string | Buffer)[] | null = null;
  let helloTimer: Timer | null = null;
  let readSeq = 0;
  let readAt = -Infinity;
  let readTimer: Timer | null = null;
  let ws: ChatSocket;
  let lang: Lang = service.config.default_lang;
  let session: VisitorSession | null = null;
  let lastSent = 0;
  let typingOn = false;
  let typingText: string | undefined;
  let typingTimer: Timer | null = null;
  let replies: Promise<void> = Promise.resolve();
  let leaveConversation: (() => void) | null = null;
  let leaveVisitor: (() => void) | null = null;

  const replay = () => {
    for (;;) {
      const rows = service.messagesAfter(session!.conversation.id, lastSent, REPLAY_PAGE);
      for (const r of rows) {
        sendFrame(ws, toFrame(r));
        lastSent = r.seq;
      }
      if (rows.length < REPLAY_PAGE) return;
    }
  };

  const onConversation = ({ frame, origin }: ConversationEvent) => {
    if (frame.type === "read" || (frame.type === "typing" && frame.from === "visitor")) return;
    if (frame.type === "message" || frame.type === "state") {
      if (frame.seq <= lastSent) return;
      if (frame.seq > lastSent + 1) return replay();
      lastSent = frame.seq;
      // The sending tab has this message already, as its ack.
      if (origin !== id) sendFrame(ws, frame);
      return;
    }
    if ((frame.type === "delta" || frame.type === "reset") && frame.seq <= lastSent) return;
    sendFrame(ws, frame);
  };

  const welcome = (conv: Conversation): WelcomeFrame => {
    const agent = conv.state === "agent" ? service.agentRef(conv.agentId) : undefined;
    return {
      type: "welcome",
      v: PROTOCOL_VERSION,
      visitor_id: session!.visitor.id,
      token: session!.token,
      conversation_id: conv.id,
      state: conv.state,
      ...(agent ? { agent } : {}),
      last_seq: conv.lastSeq,
      agents_online: service.agentsOnline(),
      limits,
    };
  };

  const attach = (conv: Conversation, afterSeq: number) => {
    leaveConversation?.();
    session!.conversation = conv;
    lastSent = afterSeq;
    // Subscribe before reading the backlog: nothing committed in between can be missed.
    leaveConversation = bus.subscribe<ConversationEvent>(topics.conversation(conv.id), onConversation);
    sendFrame(ws, welcome(service.getConversation(conv.id) ?? conv));
    replay();
  };

  const onVisitor = (ev: VisitorEvent) => {
    if (ev.conversation_id === session?.conversation.id) return;
    const conv = service.getConversation(ev.conversation_id);
    if (conv) attach(conv, 0);
  };

  const flushTyping = () => {
    typingTimer = null;
    if (session) service.visitorTyping(session.conversation.id, typingOn, id, typingText);
  };
  /** A change of typing or of its preview; over budget, the newest state goes out a little later. */
  const typing = (on: boolean, text: string | undefined) => {
    const preview = on ? text : undefined;
    if (on === typingOn && preview === typingText) return;
    typingOn = on;
    typingText = preview;
    if (typingTimer) return;
    if (typingBudget.take()) return flushTyping();
    typingTimer = setTimeout(flushTyping, TYPING_LATER_MS);
  };

  const flushRead = () => {
    readTimer = null;
    readAt = performance.now();
    if (session) void service.visitorRead(session.conversation.id, readSeq).catch((err) => log.error("read receipt not stored", { err }));
  };
  const read = (seq: number) => {
    readSeq = Math.max(readSeq, seq);
    if (readTimer) return;
    const wait = readAt + READ_EVERY_MS - performance.now();
    if (wait <= 0) flushRead();
    else readTimer = setTimeout(flushRead, wait);
  };

  /** Over budget: one rate_limited frame, then silence; a client that keeps going is closed and its IP cooled down. */
  const overBudget = () => {
    strikes++;
    if (strikes === 1) sendFrame(ws, { type: "error", code: "rate_limited", message: say(lang, "err_rate_limited") });
    if (strikes > config.flood_strikes && !closing) {
      closing = true;
      guard.coolDown(ip);
      log.warn("visitor socket closed for flooding", { ip, cooldown_s: config.flood_cooldown_s });
      ws.close(CLOSE_POLICY, "flooding");
    }
  };

  /**
   * Stored now (group commit); the follow-up `work` resolves to (ack, reaction) runs in the order the
   * frames came, whatever finishes first. A refusal becomes an error frame in the same order.
   */
  const inOrder = (work: Promise<() => void>, clientId?: string) => {
    const outcome = work.catch((err) => () => sendFrame(ws, errorFrame(err, lang, log, clientId)));
    replies = replies
      .then(() => outcome)
      .then((reply) => reply())
      .catch((err) => log.error("visitor reply failed", { err }));
  };

  /** The hello is stored: the connection belongs to this visitor from now on. */
  const begin = (s: VisitorSession, f: { conversation_id?: string; last_seq?: number }) => {
    if (gone) {
      // Closed meanwhile: nothing to subscribe; a conversation announced to nobody is forgotten.
      if (bus.subscribers(topics.visitor(s.visitor.id)) === 0) service.visitorGone(s.conversation.id);
      return;
    }
    session = s;
    if (helloTimer) clearTimeout(helloTimer);
    helloTimer = null;
    lang = s.visitor.lang;
    // A user whose hash does not match is ignored: the visitor goes on as this device's (or a new) anonymous one.
    if (s.identityRefused) sendFrame(ws, errorFrame(chatError("invalid_identity", 400), lang, log));
    leaveVisitor = bus.subscribe<VisitorEvent>(topics.visitor(s.visitor.id), onVisitor);
    // last_seq counts in the conversation the client knew; another conversation replays from the start.
    const known = f.conversation_id === undefined || f.conversation_id === s.conversation.id;
    attach(s.conversation, known ? (f.last_seq ?? 0) : 0);
  };

  const handle = (raw: string | Buffer) => {
    if (closing) return;
    if (!budget.take()) return overBudget();
    strikes = 0;
    if (held) {
      held.push(raw);
      return;
    }
    dispatch(raw);
  };

  const dispatch = (raw: string | Buffer) => {
    const parsed = parseVisitorFrame(raw, service.config.max_frame_bytes);
    if (!parsed.ok) return sendFrame(ws, problemFrame(parsed.problem, lang));
    const f = parsed.frame;
    try {
      if (f.type === "ping") return sendFrame(ws, { type: "pong" });
      if (f.type === "hello") {
        if (session) throw chatError("already_hello", 400);
        if (!f.token && !f.visitor_id && !guard.newVisitor(ip)) throw chatError("new_visitors_limited", 429);
        // Stored in the next group commit; frames sent behind the hello wait for it, in order.
        held = [];
        void service
          .hello(f, PROTOCOL_VERSION)
          .then(
            (s) => begin(s, f),
            (err) => sendFrame(ws, errorFrame(err, lang, log)),
          )
          .finally(() => {
            const frames = held ?? [];
            held = null;
            for (const r of frames) {
              if (closing || gone) break;
              // Another hello among them (the first was refused) holds the rest again.
              const again = held as (string | Buffer)[] | null;
              if (again) again.push(r);
              else dispatch(r);
            }
          });
        return;
      }
      if (!session) throw chatError("hello_required", 400);
      switch (f.type) {
        case "send": {
          const clientId = f.client_id;
          // Stored now (group commit); answered in the order the frames came, whatever finishes first.
          return inOrder(
            service.visitorSend(session, clientId, f.text, id).then((sent) => () => {
              sendFrame(ws, sent.ack);
              if (sent.message) service.react(sent.message);
            }),
            clientId,
          );
        }
        case "typing":
          return typing(f.on, f.text);
        case "availability":
          return sendFrame(ws, { type: "availability", agents_online: service.agentsOnline() });
        case "offline_message": {
          const clientId = f.client_id;
          return inOrder(
            service.offlineMessage(session, f, id).then((sent) => () => {
              sendFrame(ws, sent.ack);
              sent.queue();
            }),
            clientId,
          );
        }
        case "rate":
          return sendFrame(ws, service.rate(session, f.conversation_id, f.score, f.comment));
        case "read":
          return read(f.seq);
        case "handoff":
          return service.visitorHandoff(session);
        case "choose": {
          // In line with sends, so a choice and the messages around it are answered in order.
          return inOrder(
            service.visitorChoose(session, f.entry_id, f.client_id, id).then((chosen) => () => {
              if (chosen.ack) sendFrame(ws, chosen.ack);
              chosen.answer();
            }),
            f.client_id,
          );
        }
      }
    } catch (err) {
      sendFrame(ws, errorFrame(err, lang, log, "client_id" in f ? f.client_id : undefined));
    }
  };

  return {
    id,
    open(socket) {
      ws = socket;
      sockets.add(socket);
      guard.opened(ip);
      // A socket that answers pings but never says hello would otherwise live forever.
      helloTimer = setTimeout(() => {
        if (!session && !closing) {
          closing = true;
          socket.close(CLOSE_POLICY, "hello timeout");
        }
      }, config.hello_timeout_s * 1000);
    },
    message(_socket, raw) {
      handle(raw);
    },
    close(socket) {
      gone = true;
      held = null;
      sockets.delete(socket);
      guard.closed(ip);
      if (helloTimer) clearTimeout(helloTimer);
      if (typingTimer) clearTimeout(typingTimer);
      if (readTimer) {
        clearTimeout(readTimer);
        flushRead();
      }
      if (session && typingOn) service.visitorTyping(session.conversation.id, false, id);
      leaveConversation?.();
      leaveVisitor?.();
      // The visitor's last tab closed: stop generating a reply nobody reads (this aborts the upstream LLM call).
      if (session && bus.subscribers(topics.visitor(session.visitor.id)) === 0) service.visitorGone(session.conversation.id);
    },
  };
}

export function settings(service: ChatService) {
  const c = service.config;
  return { limits: { max_text_chars: c.max_text_chars, max_frame_bytes: c.max_frame_bytes, heartbeat_s: c.heartbeat_s } };
}
