import type { Bot, BotEvent, BotInput } from "../../src/chat/bot";
import { startTestServer, type TestServer } from "./server";

export type Frame = { type: string; [k: string]: any };

/** Generous upper bound for "this should arrive": only stops a broken test from hanging, never measures speed. */
const WAIT_MS = 20_000;

/**
 * A WebSocket test client that records every frame and lets a test consume them
 * in order: `next(pred)` returns the first unread frame matching `pred` and marks
 * everything before it as read.
 */
export class WsClient {
  readonly frames: Frame[] = [];
  private cursor = 0;
  private wake: (() => void) | null = null;
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    ws.onmessage = (e) => {
      this.frames.push(typeof e.data === "string" ? JSON.parse(e.data) : { type: "<binary>" });
      this.wake?.();
    };
    this.closed = new Promise((resolve) => {
      ws.addEventListener("close", (e) => {
        resolve({ code: e.code, reason: e.reason });
        this.wake?.();
      });
    });
  }

  static async connect(url: string, headers?: Record<string, string>): Promise<WsClient> {
    const ws = new WebSocket(url, headers ? { headers } : undefined);
    const client = new WsClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
    });
    return client;
  }

  send(frame: object | string | Uint8Array) {
    this.ws.send(typeof frame === "string" || frame instanceof Uint8Array ? frame : JSON.stringify(frame));
  }

  /** The first unread frame matching `pred` (default: any). */
  async next(pred: (f: Frame) => boolean = () => true, what = "a matching frame"): Promise<Frame> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      for (let i = this.cursor; i < this.frames.length; i++) {
        if (pred(this.frames[i])) {
          this.cursor = i + 1;
          return this.frames[i];
        }
      }
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`socket closed while waiting for ${what}; got ${JSON.stringify(this.unread())}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.unread())}`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 200);
      });
      this.wake = null;
    }
  }

  nextType(type: string, extra: (f: Frame) => boolean = () => true) {
    return this.next((f) => f.type === type && extra(f), `a ${type} frame`);
  }

  /** Frames received and not yet consumed by next(). */
  unread(): Frame[] {
    return this.frames.slice(this.cursor);
  }

  /** Sends ping and waits for its pong: every frame the server sent before it is now in `frames`. */
  async sync() {
    const before = this.frames.length;
    this.send({ type: "ping" });
    const deadline = Date.now() + WAIT_MS;
    while (!this.frames.slice(before).some((f) => f.type === "pong")) {
      if (Date.now() > deadline || this.ws.readyState === WebSocket.CLOSED) throw new Error("no pong");
      await Bun.sleep(5);
    }
  }

  close() {
    this.ws.close();
    return this.closed;
  }
}

/** Connects a visitor and completes the hello; returns the client and its welcome frame. */
export async function visitor(wsUrl: string, hello: object = {}) {
  const c = await WsClient.connect(`${wsUrl}/ws`);
  c.send({ type: "hello", ...hello });
  const welcome = await c.nextType("welcome");
  return { c, welcome };
}

/**
 * Connects an agent socket with a bearer token; returns the client after its welcome. Like the console, it
 * then says `presence` (online unless told otherwise), without which nothing is assigned to the socket;
 * `presence: null` leaves the socket silent.
 */
export async function agent(wsUrl: string, token: string, opts: { presence?: "online" | "away" | null } = {}) {
  const c = await WsClient.connect(`${wsUrl}/ws/agent?access_token=${encodeURIComponent(token)}`);
  const welcome = await c.nextType("welcome");
  const presence = opts.presence === undefined ? "online" : opts.presence;
  if (presence) c.send({ type: "presence", status: presence });
  return { c, welcome };
}

/**
 * A bot driven by the test: `answer(text)` returns the events for one visitor
 * message. Default: streams "echo: <text>" in two deltas and answers confidently,
 * unless the text contains "???" (then an unconfident fallback).
 */
export function scriptedBot(answer?: (input: BotInput) => BotEvent[] | Promise<BotEvent[]>): Bot & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async *reply(input) {
      calls.push(input.text);
      const events: BotEvent[] = answer
        ? await answer(input)
        : input.text.includes("???")
          ? [{ type: "answer", text: "not sure", confident: false }]
          : [
              { type: "delta", text: "echo: " },
              { type: "delta", text: input.text },
              { type: "answer", text: `echo: ${input.text}`, confident: true, sources: [{ id: "faq-1" }] },
            ];
      for (const e of events) yield e;
    },
  };
}

type Overrides = Parameters<typeof startTestServer>[0];

/** startTestServer with a test bot installed (the chat reads ctx.bot on every reply). */
export async function startChatServer(overrides: Overrides = {}, bot: Bot = scriptedBot()): Promise<TestServer> {
  const server = await startTestServer({ ...overrides, log: { level: "warn", ...overrides?.log } });
  server.kefu.ctx.bot = bot;
  return server;
}

let ids = 0;
export const cid = (prefix = "m") => `${prefix}-${++ids}-${crypto.randomUUID().slice(0, 8)}`;

let agents = 0;

/** Creates an agent account (with options login() does not offer) and returns its id and bearer token. */
export async function makeAgent(server: TestServer, opts: { name?: string; maxConcurrent?: number; displayName?: string } = {}) {
  const name = opts.name ?? `chat-agent-${++agents}`;
  const password = "correct horse battery";
  const user = await server.kefu.ctx.auth.addUser(name, "agent", password, { maxConcurrent: opts.maxConcurrent, displayName: opts.displayName });
  const res = await fetch(`${server.url}/api/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, password }),
  });
  const { token } = (await res.json()) as { token: string };
  return { id: user.id, name: opts.displayName ?? name, token };
}
