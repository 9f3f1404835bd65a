/**
 * A kefu cluster for the acceptance tests: N nodes as child processes (`bun src/cli/main.ts serve -c …`),
 * each with its own local data dir and node_id, sharing one PostgreSQL database and one Redis; optionally an
 * nginx in front of some of them. Nothing is faked: the nodes are the real server, the servers are real.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cliEntry } from "../helpers/server";
import { freePort, type OwnNginx, startNginx } from "../helpers/services";
import { type Frame, WsClient } from "../helpers/ws-client";

export type Toml = { [section: string]: { [key: string]: unknown } };

/** TOML for a config object: primitives and arrays of primitives, nested tables, arrays of tables. */
export function toToml(config: Toml): string {
  const value = (v: unknown): string => {
    if (typeof v === "string") return JSON.stringify(v);
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    if (Array.isArray(v)) return `[${v.map(value).join(", ")}]`;
    throw new Error(`cannot write ${JSON.stringify(v)} as a TOML value`);
  };
  const isTable = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);
  const isTableArray = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every(isTable);
  const out: string[] = [];
  const table = (name: string, obj: Record<string, unknown>, header: string) => {
    out.push(header);
    for (const [k, v] of Object.entries(obj)) if (v !== undefined && !isTable(v) && !isTableArray(v)) out.push(`${k} = ${value(v)}`);
    for (const [k, v] of Object.entries(obj)) {
      if (isTable(v)) table(`${name}.${k}`, v as Record<string, unknown>, `[${name}.${k}]`);
      else if (isTableArray(v)) for (const item of v as Record<string, unknown>[]) table(`${name}.${k}`, item, `[[${name}.${k}]]`);
    }
    out.push("");
  };
  for (const [section, values] of Object.entries(config)) table(section, values, `[${section}]`);
  return out.join("\n");
}

function merge(base: Toml, extra: Toml | undefined): Toml {
  const out: Toml = structuredClone(base);
  for (const [s, values] of Object.entries(extra ?? {})) out[s] = { ...(out[s] ?? {}), ...values };
  return out;
}

export const METRICS_TOKEN = "cluster-test-metrics-token-0123456789";
export const PASSWORD = "correct horse battery";

export interface ClusterOptions {
  nodes: number;
  /** The shared database (createTestDatabase().url). */
  pgUrl: string;
  /** The shared Redis. */
  redisUrl: string;
  /** Config sections merged over the cluster defaults, for every node (a function: per node). */
  config?: Toml | ((index: number) => Toml);
  /** Put an nginx in front of these node indexes (default: none). */
  nginx?: number[];
}

export interface KefuNode {
  index: number;
  nodeId: string;
  port: number;
  url: string;
  wsUrl: string;
  dir: string;
  configPath: string;
  proc: ReturnType<typeof Bun.spawn> | null;
  /** Everything the node wrote to stderr (JSON log lines), over all its runs. */
  log: string;
}

export interface Cluster {
  nodes: KefuNode[];
  nginx: OwnNginx | null;
  dir: string;
  /** Sends a signal to node i (SIGKILL by default) and waits for it to exit. */
  kill(i: number, signal?: "SIGKILL" | "SIGTERM"): Promise<void>;
  /** Starts node i again (same config, port, data dir and node_id) and waits for /readyz. */
  restart(i: number): Promise<void>;
  /** Resolves once node i answers /readyz with 200. */
  waitReady(i: number, timeoutMs?: number): Promise<void>;
  /** Creates a user through the CLI (`kefu user add … --password-stdin -c <node 0's config>`) and logs in on node `via`. */
  user(role: "agent" | "admin", opts?: { name?: string; maxConcurrent?: number; via?: number }): Promise<{ id: number; name: string; token: string }>;
  /** Logs in an existing user on node i. */
  login(name: string, i?: number): Promise<string>;
  /** GET /metrics of node i (Prometheus text). */
  metrics(i: number): Promise<string>;
  /** Parsed JSON log lines of node i. */
  logLines(i: number): Record<string, any>[];
  stop(): Promise<void>;
}

let userSeq = 0;

/** Starts the nodes (in parallel), waits until every one is ready, then the nginx if asked for. */
export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), "kefu-cluster-"));
  const run = crypto.randomUUID().slice(0, 6);
  const nodes: KefuNode[] = [];
  for (let i = 0; i < opts.nodes; i++) {
    const port = await freePort();
    const nodeDir = join(dir, `node${i}`);
    mkdirSync(join(nodeDir, "plugins"), { recursive: true });
    const nodeId = `test-${run}-node${i}`;
    const config = merge(
      {
        server: { host: "127.0.0.1", port, shutdown_timeout_ms: 2000 },
        storage: { dir: join(nodeDir, "data"), driver: "postgres", url: opts.pgUrl },
        cluster: { bus: "redis", url: opts.redisUrl, node_id: nodeId, canary_interval_ms: 500, heartbeat_ms: 500 },
        log: { level: "info", requests: false },
        metrics: { token: METRICS_TOKEN },
        auth: { login_ip_burst: 10000, login_ip_per_minute: 10000, login_account_ip_burst: 10000, login_account_ip_per_minute: 10000 },
        chat: {
          rate_burst: 10000,
          rate_per_second: 1000,
          frame_burst: 100000,
          frames_per_second: 100000,
          max_sockets_per_ip: 100000,
          new_visitors_per_ip_per_minute: 100000,
        },
        plugins: { dir: join(nodeDir, "plugins"), watch: false, poll_ms: 0 },
      },
      typeof opts.config === "function" ? opts.config(i) : opts.config,
    );
    const configPath = join(nodeDir, "config.toml");
    writeFileSync(configPath, toToml(config));
    nodes.push({ index: i, nodeId, port, url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}`, dir: nodeDir, configPath, proc: null, log: "" });
  }

  const spawn = (node: KefuNode) => {
    const proc = Bun.spawn([process.execPath, cliEntry, "serve", "-c", node.configPath], { stdin: "ignore", stdout: "ignore", stderr: "pipe", cwd: node.dir });
    node.proc = proc;
    void (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) node.log += decoder.decode(chunk, { stream: true });
    })().catch(() => {});
  };

  const waitReady = async (i: number, timeoutMs = 60_000) => {
    const node = nodes[i]!;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (node.proc && node.proc.exitCode !== null) throw new Error(`node ${i} exited with ${node.proc.exitCode} before it was ready:\n${node.log.slice(-4000)}`);
      const ok = await fetch(`${node.url}/readyz`, { signal: AbortSignal.timeout(1000) })
        .then((r) => r.status === 200)
        .catch(() => false);
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`node ${i} not ready within ${timeoutMs} ms:\n${node.log.slice(-4000)}`);
      await Bun.sleep(100);
    }
  };

  let nginx: OwnNginx | null = null;
  const stop = async () => {
    await nginx?.stop().catch(() => {});
    await Promise.all(
      nodes.map(async (n) => {
        if (n.proc && n.proc.exitCode === null) {
          n.proc.kill("SIGTERM");
          const done = await Promise.race([n.proc.exited.then(() => true), Bun.sleep(5000).then(() => false)]);
          if (!done) {
            n.proc.kill("SIGKILL");
            await n.proc.exited;
          }
        }
      }),
    );
    if (!process.env.KEFU_KEEP_CLUSTER) rmSync(dir, { recursive: true, force: true });
  };

  try {
    // The first node alone: it runs the shared migrations; the others then start side by side.
    spawn(nodes[0]!);
    await waitReady(0);
    for (const n of nodes.slice(1)) spawn(n);
    await Promise.all(nodes.slice(1).map((n) => waitReady(n.index)));
    if (opts.nginx?.length) nginx = await startNginx(opts.nginx.map((i) => nodes[i]!.port));
  } catch (err) {
    await stop();
    throw err;
  }

  const login = async (name: string, i = 0) => {
    const res = await fetch(`${nodes[i]!.url}/api/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name, password: PASSWORD }),
    });
    if (res.status !== 200) throw new Error(`login of ${name} on node ${i} failed: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { token: string }).token;
  };

  return {
    nodes,
    get nginx() {
      return nginx;
    },
    dir,
    async kill(i, signal = "SIGKILL") {
      const p = nodes[i]!.proc;
      if (!p || p.exitCode !== null) return;
      p.kill(signal);
      await p.exited;
    },
    async restart(i) {
      const p = nodes[i]!.proc;
      if (p && p.exitCode === null && p.signalCode === null) throw new Error(`node ${i} is still running`);
      spawn(nodes[i]!);
      await waitReady(i);
    },
    waitReady,
    async user(role, o = {}) {
      const name = o.name ?? `${role}-${run}-${++userSeq}`;
      const args = ["user", "add", name, "--role", role, "--password-stdin", "-c", nodes[0]!.configPath];
      if (o.maxConcurrent) args.push("--max-concurrent", String(o.maxConcurrent));
      const p = Bun.spawn([process.execPath, cliEntry, ...args], { stdin: new TextEncoder().encode(PASSWORD + "\n"), stdout: "pipe", stderr: "pipe", cwd: nodes[0]!.dir });
      const [out, err, code] = [await new Response(p.stdout).text(), await new Response(p.stderr).text(), await p.exited];
      if (code !== 0) throw new Error(`kefu ${args.join(" ")} exited with ${code}:\n${out}${err}`);
      const id = Number(/\(id (\d+)\)/.exec(out)?.[1]);
      return { id, name, token: await login(name, o.via ?? 0) };
    },
    login,
    async metrics(i) {
      const res = await fetch(`${nodes[i]!.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
      if (res.status !== 200) throw new Error(`GET /metrics on node ${i}: ${res.status}`);
      return res.text();
    },
    logLines(i) {
      return nodes[i]!.log
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => {
          try {
            return JSON.parse(l) as Record<string, any>;
          } catch {
            return { msg: l };
          }
        });
    },
    stop,
  };
}

/** The stored frames of a conversation (message and state rows), read with an agent's token from any node. */
export async function history(baseUrl: string, token: string, conversationId: string): Promise<Frame[]> {
  const rows: Frame[] = [];
  let after = 0;
  for (;;) {
    const res = await fetch(`${baseUrl}/api/conversations/${encodeURIComponent(conversationId)}/messages?after_seq=${after}&limit=200`, { headers: { authorization: `Bearer ${token}` } });
    if (res.status !== 200) throw new Error(`history of ${conversationId}: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { messages: Frame[]; has_more: boolean };
    rows.push(...body.messages);
    if (!body.has_more || body.messages.length === 0) return rows;
    after = body.messages.at(-1)!.seq;
  }
}

/** Polls `check` until it returns true; throws with `what` (and the last error) after timeoutMs. */
export async function within(timeoutMs: number, what: string, check: () => boolean | Promise<boolean>, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}${last ? ` (last error: ${(last as Error).message})` : ""}`);
    await Bun.sleep(everyMs);
  }
}

/**
 * Stored rows of one conversation as one client saw them, by seq, with how often each came: `message` and
 * `state` frames, and `ack` (the sending socket gets its own message as an ack instead).
 */
export function seqCounts(frames: Frame[], conversationId?: string): Map<number, number> {
  const counts = new Map<number, number>();
  for (const f of frames) {
    if ((f.type !== "message" && f.type !== "state" && f.type !== "ack") || typeof f.seq !== "number") continue;
    if (conversationId !== undefined && f.conversation_id !== undefined && f.conversation_id !== conversationId) continue;
    counts.set(f.seq, (counts.get(f.seq) ?? 0) + 1);
  }
  return counts;
}

/** Problems with a client's view of seqs 1..last: duplicates and gaps (empty when exactly once each). */
export function exactlyOnce(frames: Frame[], last: number, conversationId?: string, from = 1): string[] {
  const counts = seqCounts(frames, conversationId);
  const problems: string[] = [];
  for (const [seq, n] of counts) if (n > 1) problems.push(`seq ${seq} ${n} times`);
  for (let s = from; s <= last; s++) if (!counts.has(s)) problems.push(`seq ${s} missing`);
  return problems;
}

/**
 * A visitor as the widget behaves: keeps its token, conversation and last_seq, resumes with them on
 * reconnect (through any URL, e.g. the nginx), and resends unacknowledged messages with the same client_id.
 * Every frame of every connection is kept in `frames` (in arrival order, tagged with the connection number).
 */
export class ChatVisitor {
  token = "";
  visitorId = "";
  conversationId = "";
  lastSeq = 0;
  conn!: WsClient;
  connections = 0;
  readonly frames: (Frame & { conn: number })[] = [];
  readonly acked = new Map<string, number>();
  readonly unacked = new Map<string, string>();
  private seen = 0;
  private ids = 0;

  constructor(readonly name = `v${crypto.randomUUID().slice(0, 6)}`) {}

  static async open(wsUrl: string, hello: object = {}, name?: string): Promise<ChatVisitor> {
    const v = new ChatVisitor(name);
    await v.connect(wsUrl, hello);
    return v;
  }

  /** Opens a connection and says hello (resuming when the visitor is known). Resolves with the welcome. */
  async connect(wsUrl: string, hello: object = {}): Promise<Frame> {
    const c = await WsClient.connect(`${wsUrl}/ws`);
    const conn = ++this.connections;
    this.conn = c;
    this.seen = 0;
    const resume = this.token ? { token: this.token, visitor_id: this.visitorId, conversation_id: this.conversationId, last_seq: this.lastSeq } : {};
    c.send({ type: "hello", lang: "en", ...hello, ...resume });
    const pump = () => {
      for (; this.seen < c.frames.length; this.seen++) {
        const f: Record<string, any> & { type: string; conn: number } = { ...c.frames[this.seen]!, conn };
        this.frames.push(f);
        if (f.type === "welcome") {
          if (f.conversation_id !== this.conversationId && this.conversationId) this.lastSeq = 0;
          this.token = f.token;
          this.visitorId = f.visitor_id;
          this.conversationId = f.conversation_id;
        }
        if (f.type === "ack") {
          this.acked.set(f.client_id, f.seq);
          this.unacked.delete(f.client_id);
        }
        if ((f.type === "ack" || f.type === "message" || f.type === "state") && typeof f.seq === "number") this.lastSeq = Math.max(this.lastSeq, f.seq);
      }
    };
    // WsClient records frames itself; mirror them here as they come.
    const orig = c.ws.onmessage!;
    c.ws.onmessage = (e) => {
      (orig as (e: MessageEvent) => void)(e);
      if (this.conn === c) pump();
    };
    const welcome = await c.nextType("welcome");
    pump();
    for (const [clientId, text] of this.unacked) c.send({ type: "send", client_id: clientId, text });
    return welcome;
  }

  /** Sends a message; returns its client_id (see `acked`). */
  send(text: string): string {
    const clientId = `${this.name}-${++this.ids}-${crypto.randomUUID().slice(0, 6)}`;
    this.unacked.set(clientId, text);
    if (this.conn.ws.readyState === WebSocket.OPEN) this.conn.send({ type: "send", client_id: clientId, text });
    return clientId;
  }

  async sendAndAck(text: string, timeoutMs = 20_000): Promise<number> {
    const id = this.send(text);
    await within(timeoutMs, `ack of ${id}`, () => this.acked.has(id), 10);
    return this.acked.get(id)!;
  }

  frame(frame: object) {
    this.conn.send(frame);
  }

  get open() {
    return this.conn.ws.readyState === WebSocket.OPEN;
  }

  /** Stored rows received over all connections: message and state frames, and acks of its own messages. */
  rows() {
    return this.frames.filter((f) => (f.type === "message" || f.type === "state" || f.type === "ack") && typeof f.seq === "number");
  }

  close() {
    return this.conn.close();
  }
}
