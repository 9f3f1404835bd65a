/**
 * WebSocket chat load: N visitors connected at once, each sending M messages one
 * after another (the next as soon as the previous is acked). Measures ack latency
 * (send → ack, i.e. until the message is committed with synchronous=FULL) and
 * stored visitor messages per second. The server runs as a child process with its
 * default bot (the answer pipeline over the demo knowledge base, no LLM configured),
 * so each visitor message also gets a stored bot reply. With --idle, that many
 * more visitors first connect and stay idle (open sessions), and the server's
 * memory is reported. The load client shares the machine's cores with the server.
 * Baseline in the same run: bench/lib/ws-baseline.ts (a bare WebSocket server that
 * commits each message to SQLite before acking) under the same active load.
 *
 *   bun bench/ws-load.ts [--visitors 200] [--messages 50] [--idle 10000]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startKefuProcess } from "./lib/kefu-process";
import { machineInfo, percentile, writeResult } from "./lib/machine";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: { visitors: { type: "string", default: "200" }, messages: { type: "string", default: "50" }, idle: { type: "string", default: "0" } },
});
const VISITORS = Number(values.visitors);
const MESSAGES = Number(values.messages);
const IDLE = Number(values.idle);
const work = mkdtempSync(join(tmpdir(), "kefu-wsload-"));
const config = join(work, "config.toml");
writeFileSync(
  config,
  `[server]
host = "127.0.0.1"
port = 0
[storage]
dir = "${join(work, "data")}"
[log]
level = "info"
requests = false
[chat]
rate_burst = 10000
rate_per_second = 1000
bot_misses_before_handoff = 0
# One load client on one address plays thousands of visitors: lift the per-address limits.
max_sockets_per_ip = 1000000
new_visitors_per_ip_per_minute = 1000000
frame_burst = 100000
frames_per_second = 100000
`,
);

interface Visitor {
  ws: WebSocket;
  pending: Map<string, () => void>;
}

async function connect(port: number): Promise<Visitor> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  const pending = new Map<string, () => void>();
  const welcomed = new Promise<void>((resolveWelcome, reject) => {
    ws.onerror = () => reject(new Error("connect failed"));
    ws.onmessage = (e) => {
      const f = JSON.parse(e.data as string) as { type: string; client_id?: string };
      if (f.type === "welcome") resolveWelcome();
      else if (f.type === "ack") pending.get(f.client_id!)?.();
      else if (f.type === "error") throw new Error(`server error frame: ${e.data}`);
    };
  });
  ws.onopen = () => ws.send(JSON.stringify({ type: "hello", lang: "en" }));
  await welcomed;
  return { ws, pending };
}

async function visitorRun(v: Visitor, index: number, latencies: number[]) {
  for (let m = 0; m < MESSAGES; m++) {
    const id = `v${index}-m${m}`;
    const acked = new Promise<void>((r) => v.pending.set(id, r));
    const t0 = performance.now();
    v.ws.send(JSON.stringify({ type: "send", client_id: id, text: `question ${m} from visitor ${index}` }));
    await acked;
    latencies.push(performance.now() - t0);
    v.pending.delete(id);
  }
}

async function startBaseline() {
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "lib/ws-baseline.ts"), work], { stdout: "pipe", stderr: "inherit" });
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  const { value } = await reader.read();
  return { proc, port: (JSON.parse(new TextDecoder().decode(value)) as { port: number }).port };
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
}

async function connectMany(port: number, n: number): Promise<Visitor[]> {
  const out: Visitor[] = [];
  for (let i = 0; i < n; i += 200) out.push(...(await Promise.all(Array.from({ length: Math.min(200, n - i) }, () => connect(port)))));
  return out;
}

/** The active load: VISITORS visitors × MESSAGES messages, each sent after the previous ack. */
async function activeLoad(port: number) {
  const visitors = await connectMany(port, VISITORS);
  const latencies: number[] = [];
  const t0 = performance.now();
  await Promise.all(visitors.map((v, i) => visitorRun(v, i, latencies)));
  const seconds = (performance.now() - t0) / 1000;
  for (const v of visitors) v.ws.close();
  const sorted = latencies.sort((a, b) => a - b);
  return {
    messages: sorted.length,
    seconds: round(seconds),
    messages_per_s: Math.round(sorted.length / seconds),
    ack_ms: { p50: round(percentile(sorted, 50)), p90: round(percentile(sorted, 90)), p99: round(percentile(sorted, 99)), max: round(sorted[sorted.length - 1]!) },
  };
}
const round = (x: number) => Math.round(x * 100) / 100;

const base = await startBaseline();
let baseline: Awaited<ReturnType<typeof activeLoad>>;
try {
  baseline = await activeLoad(base.port);
} finally {
  base.proc.kill("SIGTERM");
  await base.proc.exited;
}

const { proc, port } = await startKefuProcess(config);
try {
  const rssStart = rssMiB(proc.pid);
  let idle: { sessions: number; connect_s: number; rss_mib_before: number; rss_mib_after: number } | null = null;
  let idleSockets: Visitor[] = [];
  if (IDLE > 0) {
    const t = performance.now();
    idleSockets = await connectMany(port, IDLE);
    idle = { sessions: IDLE, connect_s: round((performance.now() - t) / 1000), rss_mib_before: rssStart, rss_mib_after: rssMiB(proc.pid) };
    console.log(`idle sessions open: ${JSON.stringify(idle)}`);
  }
  const kefu = await activeLoad(port);
  const rssEnd = rssMiB(proc.pid);
  for (const v of idleSockets) v.ws.close();

  const result = {
    machine: machineInfo(),
    params: { visitors: VISITORS, messages_per_visitor: MESSAGES, idle_sessions: IDLE, bot: "answer pipeline, demo knowledge base, no LLM", synchronous: "FULL" },
    kefu: { ...kefu, rows_per_s: kefu.messages_per_s * 2, rss_mib_end: rssEnd },
    idle,
    baseline_bare_ws_sqlite: baseline,
  };
  const md = [
    `# WebSocket chat load (${result.machine.date.slice(0, 10)})`,
    "",
    `${VISITORS} visitors connected at once, each sending ${MESSAGES} messages back to back (next after the ack)` +
      (IDLE ? `, while ${IDLE} more visitor sessions stay open and idle.` : "."),
    "Every message is committed (SQLite WAL, synchronous=FULL) before its ack; kefu also stores a bot reply for each",
    "(answer pipeline over the demo knowledge base, no LLM). Server in a child process; the load client shares the cores.",
    "Baseline, same run and load: a bare Bun WebSocket server that commits each message to SQLite before acking.",
    "",
    "| server | messages | seconds | msgs/s | ack p50 ms | ack p90 ms | ack p99 ms | ack max ms |",
    "|---|---|---|---|---|---|---|---|",
    ...([["kefu", kefu], ["baseline: bare WS + SQLite insert", baseline]] as const).map(
      ([name, r]) => `| ${name} | ${r.messages} | ${r.seconds} | ${r.messages_per_s} | ${r.ack_ms.p50} | ${r.ack_ms.p90} | ${r.ack_ms.p99} | ${r.ack_ms.max} |`,
    ),
    "",
    idle
      ? `Idle sessions: ${idle.sessions} visitors connected (hello → welcome, each creating a visitor and a conversation) in ${idle.connect_s} s; server memory ${idle.rss_mib_before} MiB before, ${idle.rss_mib_after} MiB with them open, ${rssEnd} MiB after the active load.`
      : `Server memory after the load: ${rssEnd} MiB.`,
    "",
    `Machine: ${result.machine.cpu}, ${result.machine.cores} cores, ${result.machine.memGiB} GB, ${result.machine.os}, Bun ${result.machine.bun}.`,
  ].join("\n");
  const files = await writeResult("ws-load", result, md);
  console.log(md);
  console.log(`\nwrote ${files.join(", ")}`);
} finally {
  proc.kill("SIGTERM");
  await proc.exited;
  rmSync(work, { recursive: true, force: true });
}
