import type { ServerFrame } from "./types";

/** Closed by the server for policy: the token was revoked or expired, or the account disabled. */
const CLOSE_POLICY = 1008;
const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;

export type SocketStatus = "connecting" | "online" | "offline";

export interface SocketOptions {
  url: () => string;
  onFrame: (frame: ServerFrame) => void;
  onStatus: (status: SocketStatus) => void;
  /** The server refused the session (close 1008), or the socket keeps failing before any welcome. */
  onRefused: (repeatedFailures: boolean) => void;
}

/**
 * The console's /ws/agent connection: reconnects with exponential backoff (with jitter), sends a ping every
 * `heartbeat_s` of the welcome's limits. What to replay after a reconnect (watch with last_seq, unacked
 * sends) is the caller's job, on the next `welcome`.
 */
export function createAgentSocket(opts: SocketOptions) {
  let ws: WebSocket | null = null;
  let failures = 0;
  let stopped = true;
  let retryTimer: ReturnType<typeof setTimeout> | null = null;
  let pingTimer: ReturnType<typeof setInterval> | null = null;

  const clearTimers = () => {
    if (retryTimer) clearTimeout(retryTimer);
    if (pingTimer) clearInterval(pingTimer);
    retryTimer = pingTimer = null;
  };

  function connect() {
    clearTimers();
    opts.onStatus("connecting");
    const socket = new WebSocket(opts.url());
    ws = socket;
    let welcomed = false;
    socket.onmessage = (e) => {
      if (typeof e.data !== "string") return;
      let frame: ServerFrame;
      try {
        frame = JSON.parse(e.data) as ServerFrame;
      } catch {
        return;
      }
      if (frame.type === "welcome") {
        welcomed = true;
        failures = 0;
        opts.onStatus("online");
        const limits = frame.limits as { heartbeat_s?: number } | undefined;
        const every = Math.max(5, limits?.heartbeat_s ?? 25) * 1000;
        if (pingTimer) clearInterval(pingTimer);
        pingTimer = setInterval(() => send({ type: "ping" }), every);
      }
      opts.onFrame(frame);
    };
    socket.onclose = (e) => {
      if (ws !== socket) return;
      ws = null;
      clearTimers();
      opts.onStatus("offline");
      if (stopped) return;
      if (e.code === CLOSE_POLICY) {
        stopped = true;
        return opts.onRefused(false);
      }
      if (!welcomed) failures++;
      // An upgrade refused with 401 looks like any network failure to a browser: from the third failure in a
      // row on, the caller checks the session after each (once is not enough: the server may have been down
      // at the third and refuse the token once it is back).
      if (failures >= 3) opts.onRefused(true);
      if (stopped) return;
      const base = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** Math.min(failures, 10));
      retryTimer = setTimeout(connect, base / 2 + Math.random() * (base / 2));
    };
  }

  function send(frame: object): boolean {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      failures = 0;
      connect();
    },
    stop() {
      stopped = true;
      clearTimers();
      const socket = ws;
      ws = null;
      socket?.close(1000, "bye");
      opts.onStatus("offline");
    },
    send,
    /** Reconnects at once (e.g. when the browser says it is online again). */
    nudge() {
      if (!stopped && !ws) connect();
    },
  };
}

export type AgentSocket = ReturnType<typeof createAgentSocket>;
