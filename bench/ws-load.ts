/**
 * WebSocket chat load: N visitors connected at once, each sending M messages one
 * after another (the next as soon as the previous is acked). Measures ack latency
 * (send → ack, i.e. until the message is committed with synchronous=FULL) and
 * stored visitor messages per second. The server runs as a child process with the
 * simple bot answering every message, so each visitor message also stores a bot
 * reply. The load client shares the machine's cores with the server.
 *
 *   bun bench/ws-load.ts [--visitors 200] [--messages 50]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { machineInfo, percentile, writeResult } from "./lib/machine";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: { visitors: { type: "string", default: "200" }, messages: { type: "string", default: "50" } },
});
const VISITORS = Number(values.visitors);
const MESSAGES = Number(values.messages);
const root = resolve(import.meta.dir, "..");
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
`,
);

async function startServer() {
  const proc = Bun.spawn([process.execPath, join(root, "src/cli/main.ts"), "serve", "-c", config], { stdout: "ignore", stderr: "pipe" });
  const reader = (proc.stderr as ReadableStream<Uint8Array>).getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`server exited before starting:\n${text}`);
    text += new TextDecoder().decode(value);
    const m = /"msg":"kefu started".*?"url":"http:\/\/[^"]*:(\d+)"/.exec(text);
    if (m) {
      void (async () => {
        while (!(await reader.read()).done);
      })();
      return { proc, port: Number(m[1]) };
    }
  }
}

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

const { proc, port } = await startServer();
try {
  const visitors: Visitor[] = [];
  for (let i = 0; i < VISITORS; i += 50) {
    visitors.push(...(await Promise.all(Array.from({ length: Math.min(50, VISITORS - i) }, () => connect(port)))));
  }
  const latencies: number[] = [];
  const t0 = performance.now();
  await Promise.all(visitors.map((v, i) => visitorRun(v, i, latencies)));
  const seconds = (performance.now() - t0) / 1000;
  for (const v of visitors) v.ws.close();

  const sorted = latencies.sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 100) / 100;
  const result = {
    machine: machineInfo(),
    params: { visitors: VISITORS, messages_per_visitor: MESSAGES, bot: "simple bot, answers every message", synchronous: "FULL" },
    messages: sorted.length,
    seconds: round(seconds),
    messages_per_s: Math.round(sorted.length / seconds),
    rows_per_s: Math.round((2 * sorted.length) / seconds),
    ack_ms: { p50: round(percentile(sorted, 50)), p90: round(percentile(sorted, 90)), p99: round(percentile(sorted, 99)), max: round(sorted[sorted.length - 1]) },
  };
  const md = [
    `# WebSocket chat load (${result.machine.date.slice(0, 10)})`,
    "",
    `${VISITORS} visitors connected at once, each sending ${MESSAGES} messages back to back (next after the ack).`,
    "Every message is committed (SQLite WAL, synchronous=FULL) before its ack and gets a stored bot reply.",
    "Server in a child process; the load client runs on the same machine and shares its cores.",
    "",
    "| messages | seconds | visitor msgs/s | stored rows/s | ack p50 ms | ack p90 ms | ack p99 ms | ack max ms |",
    "|---|---|---|---|---|---|---|---|",
    `| ${result.messages} | ${result.seconds} | ${result.messages_per_s} | ${result.rows_per_s} | ${result.ack_ms.p50} | ${result.ack_ms.p90} | ${result.ack_ms.p99} | ${result.ack_ms.max} |`,
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
