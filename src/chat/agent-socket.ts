import type { User } from "../auth/user-store";
import { KefuError } from "../errors/kefu-error";
import { toFrame } from "./frame-render";
import type { StoredMessage } from "./conversation-store";
import { createFrameParser } from "./frames";
import { OwnMessages, StreamFollow } from "./stream-follow";
import { agentFrames, PROTOCOL_VERSION } from "./schemas";
import { type AgentEvent, type AgentsEvent, type ConversationEvent, type NoteEvent, topics } from "./service";
import { CLOSE_POLICY, type ChatSocket, type ChatSocketData, errorFrame, problemFrame, sendFrame } from "./socket-io";
import { settings, type SocketDeps } from "./visitor-socket";

const parseAgentFrame = createFrameParser(agentFrames);

interface Watch {
  stream: StreamFollow;
  leave: () => void;
}

/**
 * One agent connection (/ws/agent, bearer token checked by the auth guard before
 * the upgrade). The agent sees the queue, every conversation they own, and any
 * other they choose to watch; frames carry `conversation_id`. Same per-stream
 * delivery rule as visitor sockets: in seq order, once, gaps filled from storage
 * (and everything after `bus:resync`). Frames from the agent are handled one at a time, in order.
 */
/** How often an open agent socket re-checks its token and account when it sends nothing (expiry, the CLI). */

/** The least time between two `queue` frames to one agent socket (changes in between are merged). */
const QUEUE_MIN_INTERVAL_MS = 250;
export const AGENT_RECHECK_MS = 30_000;

/**
 * `currentUser` re-resolves the socket's token (null once it is revoked, expired or the account disabled);
 * `onRevoke` registers for revocations (of any node: they travel on the bus) and returns the unsubscribe function.
 */
export function agentSocket(
  deps: SocketDeps,
  userId: number,
  currentUser: () => Promise<User | null>,
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
  let closed = false;
  /** This socket sent `presence`: the console has loaded, the agent may be given conversations. */
  let ready = false;
  /** Frames of this socket, handled one after the other. */
  let frames: Promise<void> = Promise.resolve();
  /** Messages this socket sent: it has them as acks, a refetch skips them. */
  const own = new OwnMessages("agent");

  const sendRow = (conversationId: string) => (r: StoredMessage) => sendFrame(ws, { ...toFrame(r), conversation_id: conversationId });

  const onConversation = (conversationId: string, stream: StreamFollow, { frame, origin }: ConversationEvent) => {
    if (frame.type === "message" || frame.type === "state") {
      if (frame.seq <= stream.lastSent) return;
      if (frame.seq > stream.lastSent + 1) return stream.catchUp(service.messagesAfter, sendRow(conversationId), own);
      stream.lastSent = frame.seq;
      if (origin !== id) sendFrame(ws, { ...frame, conversation_id: conversationId });
      else if (frame.type === "message" && frame.client_id) own.forget(frame.client_id);
      return;
    }
    if ((frame.type === "delta" || frame.type === "reset") && frame.seq <= stream.lastSent) return;
    if (frame.type === "typing" && origin === id) return;
    sendFrame(ws, { ...frame, conversation_id: conversationId });
  };

  /** Follows a conversation live; replays what came after `afterSeq` (null: live only). */
  const watch = (conversationId: string, afterSeq: number | null) => {
    let w = watching.get(conversationId);
    if (!w) {
      const stream: StreamFollow = new StreamFollow(
        conversationId,
        afterSeq ?? 0,
        (ev) => onConversation(conversationId, stream, ev),
        (err) => log.error("agent replay failed", { conversation_id: conversationId, err }),
      );
      const leaveStream = bus.subscribe<ConversationEvent>(topics.conversation(conversationId), (ev) => stream.push(ev));
      const leaveNotes = bus.subscribe<NoteEvent>(topics.notes(conversationId), ({ note, origin }) => origin !== id && sendFrame(ws, note));
      const created: Watch = {
        stream,
        leave: () => {
          stream.ended = true;
          leaveStream();
          leaveNotes();
        },
      };
      watching.set(conversationId, created);
      w = created;
      // Live only: from the conversation's last seq now (live frames wait for it).
      if (afterSeq === null) {
        stream.hold(async () => {
          stream.lastSent = Math.max(stream.lastSent, (await service.getConversation(conversationId))?.lastSeq ?? 0);
        });
      }
    }
    if (afterSeq !== null) {
      const { stream } = w;
      stream.replay(service.messagesAfter, sendRow(conversationId), afterSeq);
      // Notes are not in the stream (no seq): all of them come with every replay; `id` tells them apart.
      stream.hold(async () => {
        const all = await service.notes(conversationId);
        if (!stream.ended) for (const note of all) sendFrame(ws, note);
      });
    }
  };

  const sendQueue = async () => {
    queueTimer = null;
    queueSentAt = performance.now();
    // A socket being closed (the server stopping) reads nothing more: the database may be closed already.
    if (ws.readyState !== 1) return;
    const frame = await service.queue(userId);
    if (ws.readyState === 1) sendFrame(ws, frame);
  };
  const sendQueueLogged = () => void sendQueue().catch((err) => log.error("queue frame failed", { err }));
  // Many changes in one burst (a handoff plus an assignment) become one queue frame, and a busy server
  // (every visitor message in a queued or owned conversation changes the queue) sends each agent at most
  // one every QUEUE_MIN_INTERVAL_MS: the frame carries up to 200 summaries and costs queries to build.
  const queueSoon = () => {
    queueTimer ??= setTimeout(sendQueueLogged, Math.max(0, QUEUE_MIN_INTERVAL_MS - (performance.now() - queueSentAt)));
  };

  const onAssigned = async (ev: AgentEvent) => {
    const summary = await service.summary(ev.conversation_id);
    if (!summary || closed) return;
    sendFrame(ws, { type: "assigned", conversation: summary });
    // Already followed (e.g. transferred back): only what it has not been sent, after the reads queued before.
    const w = watching.get(ev.conversation_id);
    if (w) void w.stream.catchUp(service.messagesAfter, sendRow(ev.conversation_id), own);
    else watch(ev.conversation_id, 0);
  };

  /** The bus may have lost events: every watched stream refetches by seq, and a fresh queue goes out. */
  const onResync = () => {
    for (const [conversationId, w] of watching) w.stream.catchUp(service.messagesAfter, sendRow(conversationId), own);
    queueSoon();
  };

  let recheckTimer: Timer | null = null;
  /** The account, or null after closing the socket because its token or account is no longer good. */
  const stillAllowed = async (): Promise<User | null> => {
    const user = await currentUser();
    if (user && !user.disabled) return user;
    if (ws.readyState === 1) {
      sendFrame(ws, { type: "error", code: "unauthorized", message: "account no longer active" });
      ws.close(CLOSE_POLICY, "unauthorized");
    }
    return null;
  };
  const recheck = () => void stillAllowed().catch((err) => log.error("agent token check failed", { err }));

  const handle = async (raw: string | Buffer) => {
    const parsed = parseAgentFrame(raw, service.config.max_frame_bytes);
    if (!parsed.ok) return sendFrame(ws, problemFrame(parsed.problem, "en"));
    const f = parsed.frame;
    try {
      const user = await stillAllowed();
      if (!user || closed) return;
      switch (f.type) {
        case "ping":
          return sendFrame(ws, { type: "pong" });
        case "presence": {
          // Marked before the await: a socket closing meanwhile must disconnect as ready, as presence counted it.
          const first = !ready;
          ready = true;
          return await service.setPresence(userId, f.status, first);
        }
        // Awaited, not returned: a rejection must reach the catch below (an error frame), not the frame chain's log.
        case "queue":
          return await sendQueue();
        case "watch":
          if (!(await service.getConversation(f.conversation_id))) throw new KefuError("not_found", 404, "conversation not found");
          return watch(f.conversation_id, f.last_seq ?? 0);
        case "unwatch":
          watching.get(f.conversation_id)?.leave();
          watching.delete(f.conversation_id);
          return;
        case "claim":
          await service.claim(user, f.conversation_id);
          return;
        case "send": {
          own.add(f.client_id, f.conversation_id);
          const ack = await service.agentSend(user, f.conversation_id, f.client_id, f.text, id).catch((err) => {
            own.forget(f.client_id);
            throw err;
          });
          own.acked(ack.client_id, ack.seq, watching.get(f.conversation_id)?.stream);
          return sendFrame(ws, ack);
        }
        case "typing":
          return await service.agentTyping(user, f.conversation_id, f.on, id);
        case "transfer":
          await service.transfer(user, f.conversation_id, f.agent_id);
          return;
        case "return_to_bot":
          await service.returnToBot(user, f.conversation_id);
          return;
        case "close":
          await service.close(user, f.conversation_id);
          return;
        case "note":
          return sendFrame(ws, await service.addNote(user, f.conversation_id, f.client_id, f.text, id));
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
      // A socket that only listens must end too when its token is revoked: at once for a logout or a
      // password change here, within AGENT_RECHECK_MS for expiry or a change made by another process.
      leave.push(onRevoke((id) => id === userId && recheck()));
      recheckTimer = setInterval(recheck, AGENT_RECHECK_MS);
      leave.push(bus.subscribe<AgentsEvent>(topics.agents, queueSoon));
      leave.push(
        bus.subscribe<AgentEvent>(topics.agent(userId), (ev) => void onAssigned(ev).catch((err) => log.error("assignment frame failed", { err }))),
      );
      leave.push(bus.subscribe(topics.resync, onResync));
      // Frames that come before the welcome wait for it (they are handled in order after it).
      frames = (async () => {
        const user = await currentUser();
        if (closed) return;
        if (!user) return socket.close(CLOSE_POLICY, "unauthorized");
        // Connected with the last chosen status; nothing is assigned to this socket before it sends `presence`.
        online = true;
        const status = await service.agentOnline(userId);
        if (closed) return;
        sendFrame(ws, { type: "welcome", v: PROTOCOL_VERSION, agent: { id: user.id, name: user.displayName ?? user.name }, status, ...settings(service) });
        for (const c of await service.ownedBy(userId)) watch(c.conversation_id, null);
        await sendQueue();
      })().catch((err) => log.error("agent socket open failed", { err }));
    },
    message(_socket, raw) {
      frames = frames.then(() => handle(raw)).catch((err) => log.error("agent frame failed", { err }));
    },
    close(socket) {
      closed = true;
      sockets.delete(socket);
      service.counters.sockets.agent--;
      if (queueTimer) clearTimeout(queueTimer);
      if (recheckTimer) clearInterval(recheckTimer);
      for (const l of leave) l();
      for (const w of watching.values()) w.leave();
      watching.clear();
      if (online) void service.agentOffline(userId, ready).catch((err) => log.error("agent offline failed", { err }));
    },
  };
}
