/**
 * The visitor side of docs/protocol.md: hello with the stored identity and `last_seq`, reconnect with
 * exponential backoff (0.5 s doubling to 30 s, with jitter), resend of unacknowledged frames with their
 * `client_id`, heartbeat pings. It knows nothing about the DOM; the view listens to `onFrame`.
 */
import type { InFrame, OutFrame } from "./frames";
import type { KefuUser } from "./settings";
import type { Storage } from "./storage";

export type ConnectionStatus = "idle" | "connecting" | "open" | "down";

export type Connection = ReturnType<typeof createConnection>;

export function createConnection(opts: {
  server: URL;
  storage: Storage;
  lang: string;
  user: () => KefuUser | null;
  /** `sent` is the stored frame an ack or error answers (possibly sent by another tab: they share storage). */
  onFrame: (f: InFrame, sent?: OutFrame) => void;
  onStatus: (s: ConnectionStatus) => void;
  /** The server resumed a different visitor than the stored one: drop the old one's view. */
  onVisitorChanged: () => void;
}) {
  const { storage } = opts;
  let ws: WebSocket | null = null;
  let status: ConnectionStatus = "idle";
  let attempt = 0;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let pingTimer: ReturnType<typeof setInterval> | undefined;
  let lastSeq = 0;
  let conversationId: string | undefined = storage.get().conversation_id;
  let wanted = false;

  const setStatus = (s: ConnectionStatus) => {
    if (s !== status) opts.onStatus((status = s));
  };
  const wsUrl = () => {
    const u = new URL("/ws", opts.server);
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    return u.href;
  };
  const raw = (frame: object) => {
    if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
  };
  const wire = (f: OutFrame) => (f.type === "choose" ? { type: f.type, client_id: f.client_id, entry_id: f.entry_id } : f);
  const pending = () => storage.get().pending ?? [];

  const open = () => {
    clearTimeout(retryTimer);
    if (!wanted || ws) return;
    setStatus("connecting");
    const sock = new WebSocket(wsUrl());
    ws = sock;
    sock.onopen = () => {
      const saved = storage.get();
      const user = opts.user();
      sock.send(
        JSON.stringify({
          type: "hello",
          v: 1,
          ...(saved.token ? { visitor_id: saved.visitor_id, token: saved.token } : {}),
          ...(saved.conversation_id ? { conversation_id: saved.conversation_id, last_seq: saved.conversation_id === conversationId ? lastSeq : 0 } : {}),
          lang: opts.lang,
          context: { url: location.href.slice(0, 2000), title: document.title.slice(0, 2000), referrer: document.referrer.slice(0, 2000), user_agent: navigator.userAgent.slice(0, 2000), screen: `${screen.width}x${screen.height}` },
          ...(user ? { user } : {}),
        }),
      );
    };
    sock.onmessage = (ev) => {
      let f: InFrame;
      let sent: OutFrame | undefined;
      try {
        f = JSON.parse(String(ev.data)) as InFrame;
      } catch {
        return;
      }
      if (!f || typeof f !== "object" || typeof f.type !== "string") return; // not a frame of this protocol
      if (f.type === "welcome" && f.visitor_id !== storage.get().visitor_id && storage.get().visitor_id) {
        // Another visitor than the stored one (setUser to someone else, a token dropped): what was
        // queued or shown belongs to the previous one and must not be sent or shown as this one's.
        storage.update({ pending: [] });
        opts.onVisitorChanged();
      }
      if (f.type === "welcome") {
        attempt = 0;
        if (f.conversation_id !== conversationId) lastSeq = 0; // rule 4: the server replays the new one from the start
        conversationId = f.conversation_id;
        storage.update({ visitor_id: f.visitor_id, token: f.token, conversation_id: f.conversation_id });
        setStatus("open");
        clearInterval(pingTimer);
        pingTimer = setInterval(() => raw({ type: "ping" }), Math.max(5, f.limits?.heartbeat_s ?? 25) * 1000);
        for (const p of pending()) raw(wire(p)); // rule 5
      } else if (f.type === "ack" || f.type === "message" || f.type === "state") {
        lastSeq = Math.max(lastSeq, f.seq); // rule 2
        if (f.type === "ack" || (f.type === "message" && f.client_id)) {
          const id = f.client_id;
          sent = pending().find((p) => p.client_id === id);
          if (sent) storage.update({ pending: pending().filter((p) => p.client_id !== id) });
        }
      } else if (f.type === "error" && f.code === "unauthorized") {
        // The server no longer knows this visitor (e.g. a new database): start over as a new one.
        storage.update({ visitor_id: undefined, token: undefined, conversation_id: undefined });
        conversationId = undefined;
        lastSeq = 0;
        sock.close();
      } else if (f.type === "error" && f.client_id) {
        const id = f.client_id;
        sent = pending().find((p) => p.client_id === id);
        if (sent) storage.update({ pending: pending().filter((p) => p.client_id !== id) });
      }
      opts.onFrame(f, sent);
    };
    sock.onclose = () => {
      if (ws !== sock) return;
      ws = null;
      clearInterval(pingTimer);
      if (!wanted) return setStatus("idle");
      setStatus("down");
      const delay = Math.min(30_000, 500 * 2 ** attempt++) * (0.75 + Math.random() * 0.5);
      retryTimer = setTimeout(open, delay);
    };
  };
  // Come back at once when the network or the tab does, instead of waiting out the backoff.
  addEventListener("online", () => wanted && !ws && open());
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && wanted && !ws) {
      attempt = 0;
      open();
    }
  });

  return {
    get status() {
      return status;
    },
    get conversationId() {
      return conversationId;
    },
    connect() {
      wanted = true;
      open();
    },
    /** Closes and opens again, e.g. after setUser (a hello is sent once per connection). */
    reconnect() {
      const old = ws;
      ws = null;
      old?.close();
      attempt = 0;
      if (wanted) open();
    },
    disconnect() {
      wanted = false;
      clearTimeout(retryTimer);
      const old = ws;
      ws = null;
      old?.close();
      lastSeq = 0;
      conversationId = undefined;
      setStatus("idle");
    },
    /** Queues a frame that needs an ack: stored first, so a reload or a reconnect resends it. */
    submit(f: OutFrame) {
      storage.update({ pending: [...pending(), f] });
      raw(wire(f));
    },
    /** Frames that may be lost with the connection (typing, read, handoff, availability, rate). */
    send(frame: { type: string; [k: string]: unknown }) {
      raw(frame);
      return ws?.readyState === WebSocket.OPEN;
    },
    pending,
  };
}
