import type { User } from "../auth/user-store";
import { KefuError } from "../errors/kefu-error";
import { toFrame } from "./frame-render";
import { createFrameParser } from "./frames";
import { agentFrames, PROTOCOL_VERSION } from "./schemas";
import { type AgentEvent, type AgentsEvent, type ConversationEvent, type NoteEvent, topics } from "./service";
import { CLOSE_POLICY, type ChatSocket, type ChatSocketData, errorFrame, problemFrame, sendFrame } from "./socket-io";
import { settings, type SocketDeps } from "./visitor-socket";

const parseAgentFrame = createFrameParser(agentFrames);
const REPLAY_PAGE = 500;

interface Watch {
  lastSent: number;
  leave: () => void;
}

/**
 * One agent connection (/ws/agent, bearer token checked by the auth guard before
 * the upgrade). The agent sees the queue, every conversation they own, and any
 * other they choose to watch; frames carry `conversation_id`. Same per-stream
 * delivery rule as visitor sockets: in seq order, once, gaps filled from storage.
 */
/** How often an open agent socket re-checks its token and account when it sends nothing (expiry, the CLI). */

/** The least time between two `queue` frames to one agent socket (changes in between are merged). */
const QUEUE_MIN_INTERVAL_MS = 250;
export const AGENT_RECHECK_MS = 30_000;

/**
 * `currentUser` re-resolves the socket's token (null once it is revoked, expired or the account disabled);
 * `onRevoke` registers for this process's revocations and returns the unsubscribe function.
 */
export function agentSocket(
  deps: SocketDeps,
  userId: number,
  currentUser: () => User | null,
  onRevoke: (fn: (userId: number) => void) => () => void,
): ChatSocketData {
  const { service, bus, log, sockets } = deps;
  const id = crypto.randomUUID();
  const watching = new Map<string, Watch>();
  const leave: (() => void)[] = [];
  let ws: ChatSocket;
  let queueTimer: Timer | null = null;
  let queueSentAt = -Infinity;
  let online = false;
  /** This socket sent `presence`: the console has loaded, the agent may be given conversations. */
  let ready = false;

  const replay = (conversationId: string, w: Watch, afterSeq: number) => {
    for (let after = afterSeq; ; ) {
      const rows = service.messagesAfter(conversationId, after, REPLAY_PAGE);
      for (const r of rows) sendFrame(ws, { ...toFrame(r), conversation_id: conversationId });
      if (rows.length) {
        after = rows[rows.length - 1].seq;
        w.lastSent = Math.max(w.lastSent, after);
      }
      if (rows.length < REPLAY_PAGE) return;
    }
  };

  const onConversation = (conversationId: string, w: Watch) => ({ frame, origin }: ConversationEvent) => {
    if (frame.type === "message" || frame.type === "state") {
      if (frame.seq <= w.lastSent) return;
      if (frame.seq > w.lastSent + 1) return replay(conversationId, w, w.lastSent);
      w.lastSent = frame.seq;
      if (origin !== id) sendFrame(ws, { ...frame, conversation_id: conversationId });
      return;
    }
    if ((frame.type === "delta" || frame.type === "reset") && frame.seq <= w.lastSent) return;
    if (frame.type === "typing" && origin === id) return;
    sendFrame(ws, { ...frame, conversation_id: conversationId });
  };

  /** Follows a conversation live; replays what came after `afterSeq` (null: live only). */
  const watch = (conversationId: string, afterSeq: number | null) => {
    let w = watching.get(conversationId);
    const lastSeq = service.getConversation(conversationId)?.lastSeq ?? 0;
    if (!w) {
      const created: Watch = { lastSent: afterSeq ?? lastSeq, leave: () => {} };
      const leaveStream = bus.subscribe<ConversationEvent>(topics.conversation(conversationId), onConversation(conversationId, created));
      const leaveNotes = bus.subscribe<NoteEvent>(topics.notes(conversationId), ({ note, origin }) => origin !== id && sendFrame(ws, note));
      created.leave = () => {
        leaveStream();
        leaveNotes();
      };
      watching.set(conversationId, created);
      w = created;
    }
    if (afterSeq !== null) {
      replay(conversationId, w, afterSeq);
      // Notes are not in the stream (no seq): all of them come with every replay; `id` tells them apart.
      for (const note of service.notes(conversationId)) sendFrame(ws, note);
    }
  };

  const sendQueue = () => {
    queueTimer = null;
    queueSentAt = performance.now();
    // A socket being closed (the server stopping) reads nothing more: the database may be closed already.
    if (ws.readyState === 1) sendFrame(ws, service.queue(userId));
  };
  // Many changes in one burst (a handoff plus an assignment) become one queue frame, and a busy server
  // (every visitor message in a queued or owned conversation changes the queue) sends each agent at most
  // one every QUEUE_MIN_INTERVAL_MS: the frame carries up to 200 summaries and costs queries to build.
  const queueSoon = () => {
    queueTimer ??= setTimeout(sendQueue, Math.max(0, QUEUE_MIN_INTERVAL_MS - (performance.now() - queueSentAt)));
  };

  const onAssigned = (ev: AgentEvent) => {
    const summary = service.summary(ev.conversation_id);
    if (!summary) return;
    sendFrame(ws, { type: "assigned", conversation: summary });
    watch(ev.conversation_id, watching.get(ev.conversation_id)?.lastSent ?? 0);
  };

  let recheckTimer: Timer | null = null;
  /** The account, or null after closing the socket because its token or account is no longer good. */
  const stillAllowed = (): User | null => {
    const user = currentUser();
    if (user && !user.disabled) return user;
    if (ws.readyState === 1) {
      sendFrame(ws, { type: "error", code: "unauthorized", message: "account no longer active" });
      ws.close(CLOSE_POLICY, "unauthorized");
    }
    return null;
  };

  const handle = (raw: string | Buffer) => {
    const parsed = parseAgentFrame(raw, service.config.max_frame_bytes);
    if (!parsed.ok) return sendFrame(ws, problemFrame(parsed.problem, "en"));
    const f = parsed.frame;
    try {
      const user = stillAllowed();
      if (!user) return;
      switch (f.type) {
        case "ping":
          return sendFrame(ws, { type: "pong" });
        case "presence":
          service.setPresence(userId, f.status, !ready);
          ready = true;
          return;
        case "queue":
          return sendQueue();
        case "watch":
          if (!service.getConversation(f.conversation_id)) throw new KefuError("not_found", 404, "conversation not found");
          return watch(f.conversation_id, f.last_seq ?? 0);
        case "unwatch":
          watching.get(f.conversation_id)?.leave();
          watching.delete(f.conversation_id);
          return;
        case "claim":
          service.claim(user, f.conversation_id);
          return;
        case "send":
          return sendFrame(ws, service.agentSend(user, f.conversation_id, f.client_id, f.text, id));
        case "typing":
          return service.agentTyping(user, f.conversation_id, f.on, id);
        case "transfer":
          service.transfer(user, f.conversation_id, f.agent_id);
          return;
        case "return_to_bot":
          service.returnToBot(user, f.conversation_id);
          return;
        case "close":
          service.close(user, f.conversation_id);
          return;
        case "note":
          return sendFrame(ws, service.addNote(user, f.conversation_id, f.client_id, f.text, id));
      }
    } catch (err) {
      sendFrame(ws, errorFrame(err, "en", log, "client_id" in f ? f.client_id : undefined));
    }
  };

  return {
    id,
    open(socket) {
      ws = socket;
      sockets.add(socket);
      service.counters.sockets.agent++;
      const user = currentUser();
      if (!user) return socket.close(CLOSE_POLICY, "unauthorized");
      // A socket that only listens must end too when its token is revoked: at once for a logout or a
      // password change here, within AGENT_RECHECK_MS for expiry or a change made by another process.
      leave.push(onRevoke((id) => id === userId && stillAllowed()));
      recheckTimer = setInterval(stillAllowed, AGENT_RECHECK_MS);
      leave.push(bus.subscribe<AgentsEvent>(topics.agents, queueSoon));
      leave.push(bus.subscribe<AgentEvent>(topics.agent(userId), onAssigned));
      // Connected with the last chosen status; nothing is assigned to this socket before it sends `presence`.
      const status = service.agentOnline(userId);
      online = true;
      sendFrame(ws, { type: "welcome", v: PROTOCOL_VERSION, agent: { id: user.id, name: user.displayName ?? user.name }, status, ...settings(service) });
      for (const c of service.ownedBy(userId)) watch(c.conversation_id, null);
      sendQueue();
    },
    message(_socket, raw) {
      handle(raw);
    },
    close(socket) {
      sockets.delete(socket);
      service.counters.sockets.agent--;
      if (queueTimer) clearTimeout(queueTimer);
      if (recheckTimer) clearInterval(recheckTimer);
      for (const l of leave) l();
      for (const w of watching.values()) w.leave();
      watching.clear();
      if (online) service.agentOffline(userId, ready);
    },
  };
}
