/**
 * A flooding visitor against good ones: 100 good visitors (each on its own client address, as behind a
 * reverse proxy) send messages at a steady pace and we measure send → ack; first alone, then while one
 * attacker in another process sends frames flat out from one address and reconnects whenever it is cut
 * off. The aim: the good visitors' ack p99 with the flood within 2× of the p99 without it.
 *
 *   bun bench/flood.ts [--visitors 100] [--messages 10] [--interval-ms 1100]
 *
 * The server runs as a child process on its defaults except `trusted_proxies = ["127.0.0.1"]` (the load
 * client writes X-Forwarded-For); the flooder is a third process, so the load client is not starved by it.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startKefuProcess } from "./lib/kefu-process";
import { machineInfo, percentile, writeResult } from "./lib/machine";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    visitors: { type: "string", default: "100" },
    messages: { type: "string", default: "10" },
    "interval-ms": { type: "string", default: "1100" },
    flooder: { type: "string" },
    seconds: { type: "string", default: "30" },
  },
});

if (values.flooder) await flooder(Number(values.flooder), Number(values.seconds));
else await main();

/** The attacker: one address, frames flat out, reconnect at once when closed or refused. Prints its counts. */
async function flooder(port: number, seconds: number) {
  const stats = { frames_sent: 0, connections: 0, refused_upgrades: 0, closed_1008: 0, rate_limited_frames: 0 };
  const until = performance.now() + seconds * 1000;
  const frame = JSON.stringify({ type: "send", client_id: "flood", text: "buy now buy now buy now" });
  while (performance.now() < until) {
    await new Promise<void>((done) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { "x-forwarded-for": "10.66.0.1" } });
      let opened = false;
      ws.onopen = () => {
        opened = true;
        stats.connections++;
        ws.send(JSON.stringify({ type: "hello" }));
        const pump = () => {
          if (ws.readyState !== WebSocket.OPEN) return;
          for (let i = 0; i < 200; i++) ws.send(frame);
          stats.frames_sent += 200;
          setImmediate(pump);
        };
        pump();
      };
      ws.onmessage = (e) => {
        if (String(e.data).includes('"rate_limited"')) stats.rate_limited_frames++;
      };
      ws.onclose = (e) => {
        if (!opened) stats.refused_upgrades++;
        if (e.code === 1008) stats.closed_1008++;
        setTimeout(done, opened ? 0 : 50);
      };
    });
  }
  console.log(JSON.stringify(stats));
  process.exit(0);
}

async function main() {
  const VISITORS = Number(values.visitors);
  const MESSAGES = Number(values.messages);
  const INTERVAL = Number(values["interval-ms"]);
  const work = mkdtempSync(join(tmpdir(), "kefu-flood-"));
  const config = join(work, "config.toml");
  writeFileSync(
    config,
    `[server]
host = "127.0.0.1"
port = 0
trusted_proxies = ["127.0.0.1"]
[storage]
dir = "${join(work, "data")}"
[log]
level = "info"
requests = false
[chat]
bot_misses_before_handoff = 0
`,
  );
  const { proc, port } = await startKefuProcess(config);
  try {
    const quiet = await goodVisitors(port, VISITORS, MESSAGES, INTERVAL, "quiet");
    const attacker = Bun.spawn([process.execPath, import.meta.path, "--flooder", String(port), "--seconds", String(Math.ceil((MESSAGES * INTERVAL) / 1000) + 8)], {
      stdout: "pipe",
      stderr: "inherit",
    });
    await Bun.sleep(2000); // the flood is on before the measured visitors start
    const flooded = await goodVisitors(port, VISITORS, MESSAGES, INTERVAL, "flood");
    const flood = JSON.parse((await new Response(attacker.stdout).text()).trim().split("\n").pop()!) as Record<string, number>;
    const ratio = Math.round((flooded.ack_ms.p99 / quiet.ack_ms.p99) * 100) / 100;
    const result = {
      machine: machineInfo(),
      params: { visitors: VISITORS, messages_per_visitor: MESSAGES, interval_ms: INTERVAL, server: "defaults + trusted_proxies 127.0.0.1", bot: "answer pipeline, demo knowledge base, no LLM" },
      without_flood: quiet,
      with_flood: flooded,
      flooder: flood,
      p99_ratio: ratio,
    };
    const md = [
      `# Good visitors under a flooding client (${result.machine.date.slice(0, 10)})`,
      "",
      `${VISITORS} visitors, each on its own address, send ${MESSAGES} messages ${INTERVAL} ms apart; send → ack measured.`,
      "Baseline in the same run: the same visitors without the flood. The flooder (its own process, one address) sends",
      "frames flat out and reconnects the moment it is cut off or refused, for the whole measured phase.",
      "",
      "| phase | acks | errors | ack p50 ms | ack p90 ms | ack p99 ms | ack max ms |",
      "|---|---|---|---|---|---|---|",
      ...([["without flood", quiet], ["with flood", flooded]] as const).map(
        ([name, r]) => `| ${name} | ${r.acks} | ${r.errors} | ${r.ack_ms.p50} | ${r.ack_ms.p90} | ${r.ack_ms.p99} | ${r.ack_ms.max} |`,
      ),
      "",
      `p99 with / without the flood: **${ratio}×** (aim: under 2×).`,
      `Flooder: ${flood.frames_sent} frames sent over ${flood.connections} connections, ${flood.closed_1008} closed with 1008, ${flood.refused_upgrades} reconnects refused (cool-down), ${flood.rate_limited_frames} rate_limited frames received.`,
      "",
      `Machine: ${result.machine.cpu}, ${result.machine.cores} cores, ${result.machine.memGiB} GB, ${result.machine.os}, Bun ${result.machine.bun}. Server, load client and flooder share the cores.`,
    ].join("\n");
    const files = await writeResult("flood", result, md);
    console.log(md);
    console.log(`\nwrote ${files.join(", ")}`);
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
    rmSync(work, { recursive: true, force: true });
  }
}

async function goodVisitors(port: number, n: number, messages: number, interval: number, phase: string) {
  const latencies: number[] = [];
  let errors = 0;
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { headers: { "x-forwarded-for": `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}` } });
      const pending = new Map<string, (ok: boolean) => void>();
      await new Promise<void>((welcomed, failed) => {
        ws.onerror = () => failed(new Error("good visitor could not connect"));
        ws.onmessage = (e) => {
          const f = JSON.parse(e.data as string) as { type: string; client_id?: string };
          if (f.type === "welcome") welcomed();
          else if (f.type === "ack") pending.get(f.client_id!)?.(true);
          else if (f.type === "error" && f.client_id) pending.get(f.client_id)?.(false);
        };
        ws.onopen = () => ws.send(JSON.stringify({ type: "hello", lang: "en" }));
      });
      // Spread the visitors over one interval so they do not all send in the same millisecond.
      await Bun.sleep((i / n) * interval);
      for (let m = 0; m < messages; m++) {
        const id = `${phase}-v${i}-m${m}`;
        const acked = new Promise<boolean>((r) => pending.set(id, r));
        const t0 = performance.now();
        ws.send(JSON.stringify({ type: "send", client_id: id, text: `question ${m} about shipping from visitor ${i}` }));
        if (await acked) latencies.push(performance.now() - t0);
        else errors++;
        pending.delete(id);
        await Bun.sleep(interval);
      }
      ws.close();
    }),
  );
  const sorted = latencies.sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 100) / 100;
  return { acks: sorted.length, errors, ack_ms: { p50: r(percentile(sorted, 50)), p90: r(percentile(sorted, 90)), p99: r(percentile(sorted, 99)), max: r(sorted[sorted.length - 1] ?? NaN) } };
}
