/**
 * `rest`: autocannon (100 connections) against kefu's `POST /api/ask` (ask_open, demo knowledge base, no
 * LLM) with the same question every time (answer cache) and with distinct phrasings (each request the
 * next of ~5,400), next to a trivial Bun route that reads the JSON body and answers a fixed object — the
 * same-run baseline. autocannon runs in this process, the servers in their own; this process's CPU is
 * reported so a client-bound figure shows.
 *
 *   bun bench/run.ts rest [--quick] [--connections 100] [--seconds 10] [--no-build] [--note "…"]
 * Run time: 3 × (seconds + 1) + kefu's start; --quick ~15 s.
 */
import autocannon from "autocannon";
import { context, finish, options, ratio, table } from "./common";
import { cachedQuestion, loadPhrasings } from "./phrasings";
import { cpuSeconds, label, startServer, type Server, type ServerName } from "./servers";

const opts = options({ connections: "100", seconds: "10" });
const connections = Number(opts.rest.connections);
const seconds = opts.quick ? 2 : Number(opts.rest.seconds);
const ctx = context(opts);
const texts = loadPhrasings().texts;

interface Row {
  server: ServerName;
  body: "same" | "distinct";
  req_per_s: number;
  latency_ms: { p50: number; p90: number; p99: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  server_cpu_pct: number;
  client_cpu_pct: number;
  client_bound: boolean;
}
const rows: Row[] = [];

async function hammer(server: Server, body: Row["body"]) {
  let i = 0;
  const bodyOf = () => JSON.stringify({ text: body === "same" ? cachedQuestion : texts[i++ % texts.length] });
  // A short warm-up (JIT, caches), not measured.
  await autocannon({ url: `http://127.0.0.1:${server.port}/api/ask`, connections, duration: 1, method: "POST", headers: { "content-type": "application/json" }, body: bodyOf() });
  const c0 = cpuSeconds(server.pid);
  const me0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await autocannon({
    url: `http://127.0.0.1:${server.port}`,
    connections,
    duration: seconds,
    requests: [{ method: "POST", path: "/api/ask", headers: { "content-type": "application/json" }, setupRequest: (req: Record<string, unknown>) => ({ ...req, body: bodyOf() }) }],
  });
  const wall = (performance.now() - t0) / 1000;
  const me = process.cpuUsage(me0);
  const clientPct = Math.round(((me.user + me.system) / 1e6 / wall) * 100);
  const row: Row = {
    server: server.name,
    body,
    req_per_s: Math.round(r.requests.average),
    latency_ms: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    server_cpu_pct: Math.round(((cpuSeconds(server.pid) - c0) / wall) * 100),
    client_cpu_pct: clientPct,
    client_bound: clientPct > 85,
  };
  rows.push(row);
  console.log(
    `  ${label[server.name]} ${body}: ${row.req_per_s} req/s, latency p50/p99 ${row.latency_ms.p50}/${row.latency_ms.p99} ms, non-2xx ${row.non2xx}, errors ${row.errors}, server CPU ${row.server_cpu_pct}%, autocannon CPU ${row.client_cpu_pct}%${row.client_bound ? " [CLIENT-BOUND]" : ""}`,
  );
}

const hows: string[] = [];
for (const [name, bodies] of [["trivial-http", ["same"]], ["kefu", ["same", "distinct"]]] as const) {
  const server = await startServer(name, { noBuild: opts.noBuild });
  hows.push(`${label[name]}: ${server.how}`);
  try {
    for (const b of bodies) await hammer(server, b);
  } finally {
    await server.stop();
  }
}

const triv = rows.find((r) => r.server === "trivial-http")?.req_per_s;
const md = [
  `# rest: POST /api/ask under autocannon (${ctx.machine.date.slice(0, 10)}${ctx.quick ? ", --quick" : ""})`,
  "",
  `${connections} connections, ${seconds} s each after a 1 s warm-up; autocannon's latency percentiles (all requests). Same = one question (answer cache); distinct = the next of ${texts.length} phrasings each request.`,
  "",
  ...table(
    ["server", "body", "req/s", "latency p50 / p90 / p99 ms", "non-2xx", "errors", "server CPU %", "autocannon CPU %", "÷ trivial route"],
    rows.map((r) => [
      label[r.server],
      r.body,
      r.req_per_s,
      `${r.latency_ms.p50} / ${r.latency_ms.p90} / ${r.latency_ms.p99}`,
      r.non2xx,
      r.errors + r.timeouts,
      r.server_cpu_pct,
      `${r.client_cpu_pct}${r.client_bound ? " (client-bound)" : ""}`,
      ratio(r.req_per_s, triv, 3),
    ]),
  ),
  "",
  ...hows.map((h) => `- ${h}.`),
];
await finish("rest", ctx, { params: { connections, seconds }, rows }, md);
