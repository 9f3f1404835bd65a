/**
 * Cluster mode's cost, issue 18 done when 5: the same chat load on
 *   1. one node on SQLite (bus local),
 *   2. one node on PostgreSQL + Redis,
 *   3. two nodes on PostgreSQL + Redis behind nginx (round robin),
 * side by side in one run. Each visitor has two tabs; tab A writes, tab B (on the other node in setup 3:
 * consecutive connections through round robin alternate nodes) receives the message. Measured per message:
 * ack latency (send → ack on tab A) and delivery latency (send → the message on tab B); the cross-node
 * overhead is setup 3's delivery minus setup 2's.
 *
 *   bun bench/cluster.ts [--visitors 40] [--messages 40] [--rate 4]   (rate: messages per second per visitor)
 *
 * Needs PostgreSQL, Redis and nginx (scripts/cluster-services.sh; KEFU_TEST_PG_URL, KEFU_TEST_REDIS_URL).
 * Writes bench/results/cluster-<date>.json and adds a section to bench/results/cluster.md.
 */
import { appendFileSync, existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { parseExposition } from "../tests/helpers/prometheus";
import { createTestDatabase, missingServices, REDIS_URL } from "../tests/helpers/services";
import { type Frame, WsClient } from "../tests/helpers/ws-client";
import { type Cluster, startCluster, type Toml } from "../tests/cluster/harness";
import { machineInfo, percentile, today } from "./lib/machine";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: { visitors: { type: "string", default: "40" }, messages: { type: "string", default: "40" }, rate: { type: "string", default: "4" } },
});
const VISITORS = Number(values.visitors);
const MESSAGES = Number(values.messages);
const RATE = Number(values.rate);

const missing = await missingServices({ pg: true, redis: true, nginx: true });
if (missing) {
  console.error(`bench/cluster: ${missing} — start them with scripts/cluster-services.sh`);
  process.exit(1);
}

interface SetupResult {
  setup: string;
  nodes: number;
  messages: number;
  acked: number;
  delivered: number;
  ack_ms: { p50: number; p99: number; max: number };
  delivery_ms: { p50: number; p99: number; max: number };
  visitor_sockets_per_node: number[];
  duration_s: number;
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const r = (v: number) => Math.round(v * 10) / 10;
  return { p50: r(percentile(s, 50)), p99: r(percentile(s, 99)), max: r(s.at(-1) ?? NaN) };
};

async function measure(setup: string, cluster: Cluster, url: string): Promise<SetupResult> {
  const tabs: { a: WsClient; b: WsClient }[] = [];
  for (let i = 0; i < VISITORS; i++) {
    const a = await WsClient.connect(`${url}/ws`);
    a.send({ type: "hello", lang: "en" });
    const w = await a.nextType("welcome");
    a.send({ type: "send", client_id: `warm-${i}`, text: "hello" });
    await a.nextType("ack");
    const b = await WsClient.connect(`${url}/ws`);
    b.send({ type: "hello", token: w.token, conversation_id: w.conversation_id, last_seq: 0 });
    await b.nextType("welcome");
    tabs.push({ a, b });
  }
  const perNode = await Promise.all(
    cluster.nodes.map(async (_, i) => parseExposition(await cluster.metrics(i)).get("kefu_sockets_open")?.samples.find((s) => s.labels.kind === "visitor")?.value ?? 0),
  );
  const sentAt = new Map<string, number>();
  const ack: number[] = [];
  const delivery: number[] = [];
  for (const { a, b } of tabs) {
    a.ws.addEventListener("message", (e) => {
      const f = JSON.parse(String(e.data)) as Frame;
      const t0 = f.type === "ack" ? sentAt.get(f.client_id) : undefined;
      if (t0 !== undefined) ack.push(performance.now() - t0);
    });
    b.ws.addEventListener("message", (e) => {
      const f = JSON.parse(String(e.data)) as Frame;
      const t0 = f.type === "message" && f.from === "visitor" ? sentAt.get(f.client_id) : undefined;
      if (t0 !== undefined) delivery.push(performance.now() - t0);
    });
  }
  const started = performance.now();
  const interval = 1000 / RATE;
  await Promise.all(
    tabs.map(async ({ a }, i) => {
      await Bun.sleep((interval * i) / VISITORS); // spread the visitors over one interval
      for (let m = 0; m < MESSAGES; m++) {
        const id = `${setup}-${i}-${m}`;
        sentAt.set(id, performance.now());
        a.send({ type: "send", client_id: id, text: `question ${m} from visitor ${i} about parcel ${(i * 31 + m) % 97}` });
        await Bun.sleep(interval);
      }
    }),
  );
  const total = VISITORS * MESSAGES;
  const deadline = Date.now() + 30_000;
  while ((ack.length < total || delivery.length < total) && Date.now() < deadline) await Bun.sleep(50);
  const duration = (performance.now() - started) / 1000;
  for (const { a, b } of tabs) {
    a.ws.close();
    b.ws.close();
  }
  return {
    setup,
    nodes: cluster.nodes.length,
    messages: total,
    acked: ack.length,
    delivered: delivery.length,
    ack_ms: stats(ack),
    delivery_ms: stats(delivery),
    visitor_sockets_per_node: perNode,
    duration_s: Math.round(duration * 10) / 10,
  };
}

const single: Toml = { storage: { driver: "sqlite", url: "" }, cluster: { bus: "local", url: "" }, log: { level: "warn" } };
const setups: { name: string; nodes: number; config?: Toml; nginx: boolean }[] = [
  { name: "1 node, SQLite", nodes: 1, config: single, nginx: false },
  { name: "1 node, PostgreSQL + Redis", nodes: 1, config: { log: { level: "warn" } }, nginx: false },
  { name: "2 nodes behind nginx, PostgreSQL + Redis", nodes: 2, config: { log: { level: "warn" } }, nginx: true },
];

const results: SetupResult[] = [];
for (const s of setups) {
  const db = await createTestDatabase("kefu_bench");
  const cluster = await startCluster({ nodes: s.nodes, pgUrl: db.url, redisUrl: REDIS_URL, config: s.config, nginx: s.nginx ? [0, 1] : undefined });
  try {
    console.log(`${s.name}: ${VISITORS} visitors × ${MESSAGES} messages at ${RATE}/s each ...`);
    const r = await measure(s.name, cluster, s.nginx ? cluster.nginx!.wsUrl : cluster.nodes[0]!.wsUrl);
    console.log(`  ack p50 ${r.ack_ms.p50} ms p99 ${r.ack_ms.p99} ms · delivery p50 ${r.delivery_ms.p50} ms p99 ${r.delivery_ms.p99} ms · ${r.acked}/${r.messages} acked, ${r.delivered} delivered`);
    results.push(r);
  } finally {
    await cluster.stop();
    await db.drop();
  }
}

const [, pg, two] = results;
const overhead = pg && two ? { p50: Math.round((two.delivery_ms.p50 - pg.delivery_ms.p50) * 10) / 10, p99: Math.round((two.delivery_ms.p99 - pg.delivery_ms.p99) * 10) / 10 } : null;
const machine = machineInfo();
const data = { scenario: "cluster", machine, load: { visitors: VISITORS, messages_per_visitor: MESSAGES, rate_per_visitor: RATE }, results, cross_node_delivery_overhead_ms: overhead };
const jsonPath = new URL(`./results/cluster-${today()}.json`, import.meta.url).pathname;
await Bun.write(jsonPath, JSON.stringify(data, null, 2) + "\n");

const mdPath = new URL("./results/cluster.md", import.meta.url).pathname;
const row = (r: SetupResult) =>
  `| ${r.setup} | ${r.ack_ms.p50} | ${r.ack_ms.p99} | ${r.delivery_ms.p50} | ${r.delivery_ms.p99} | ${r.acked}/${r.messages} | ${r.delivered}/${r.messages} | ${r.visitor_sockets_per_node.join(" / ")} |`;
const section = `
## ${machine.date.slice(0, 16).replace("T", " ")} UTC — ${machine.cpu}, ${machine.cores} cores, ${machine.memGiB} GiB, ${machine.os}, Bun ${machine.bun}

\`bun bench/cluster.ts --visitors ${VISITORS} --messages ${MESSAGES} --rate ${RATE}\`: ${VISITORS} visitors with two tabs each, ${MESSAGES} messages per visitor at ${RATE}/s (${VISITORS * RATE} msg/s in all); nodes, PostgreSQL, Redis, nginx and the load generator on this one machine. Delivery: tab A's send until tab B has the message (in the 2-node setup the tabs are on different nodes).

| setup | ack p50 ms | ack p99 ms | delivery p50 ms | delivery p99 ms | acked | delivered | visitor sockets per node |
|---|---|---|---|---|---|---|---|
${results.map(row).join("\n")}

Cross-node delivery overhead (2 nodes − 1 node on PostgreSQL + Redis): p50 ${overhead?.p50 ?? "–"} ms, p99 ${overhead?.p99 ?? "–"} ms. Raw: \`bench/results/cluster-${today()}.json\`.
`;
if (!existsSync(mdPath)) await Bun.write(mdPath, "# Cluster benchmark (bench/cluster.ts)\n\nThe same chat load on one node (SQLite), one node (PostgreSQL + Redis) and two nodes behind nginx; newest run last.\n");
appendFileSync(mdPath, section);
console.log(`wrote ${jsonPath} and a section in ${mdPath}`);
