/**
 * Plugin hot reload and hook cost (issue 16 done-when 5).
 *   bun bench/plugins-reload.ts            1,000 reloads, 5,000 hook calls per case, 300 chat round trips per case
 *   QUICK=1 bun bench/plugins-reload.ts    100 reloads, fewer calls (while working)
 *
 * 1. RSS over 1,000 reloads of one plugin (a file importing a helper) through the plugin host: each reload
 *    bundles it (Bun.build), starts a new worker, runs setup, swaps it in and terminates the old worker;
 *    one hook call between reloads. RSS after a forced GC every 100 reloads.
 * 2. For comparison, what the in-process alternative costs: the same bundle imported 1,000 times as new
 *    modules (`import(file?v=n)`), which Bun never unloads.
 * 3. Latency a hook adds: onMessage through the host with no plugin, one that passes, one that answers,
 *    three that pass; and end to end, a visitor's WebSocket round trip (send → bot answer) for a
 *    knowledge-base question without and with a pass-through plugin.
 * Writes bench/results/plugins-reload-<date>.json and .md.
 */
import { Database } from "bun:sqlite";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../src/log/logger";
import { bundlePlugin } from "../src/plugins/bundle";
import { createPluginHost } from "../src/plugins/host";
import { pluginMigrations } from "../src/plugins/migrations";
import { createSqliteSql } from "../src/storage/sqlite-driver";
import { startTestServer } from "../tests/helpers/server";
import { visitor } from "../tests/helpers/ws-client";
import { machineInfo, percentile, writeResult } from "./lib/machine";

const QUICK = process.env.QUICK === "1";
const RELOADS = QUICK ? 100 : 1000;
const CALLS = QUICK ? 1000 : 5000;
const TRIPS = QUICK ? 60 : 300;
const mib = () => Math.round((process.memoryUsage().rss / 2 ** 20) * 10) / 10;
const stats = (xs: number[], unit = 1) => {
  const s = [...xs].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * unit * 100) / 100;
  return { p50: r(percentile(s, 50)), p95: r(percentile(s, 95)), p99: r(percentile(s, 99)), n: s.length };
};

const work = mkdtempSync(join(tmpdir(), "kefu-bench-plugins-"));
const log = createLogger({ level: "silent" });
const db = new Database(":memory:");
const sql = createSqliteSql(db);
db.run(pluginMigrations[0]!.sql);

function pluginDir(name: string, files: Record<string, string>) {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
  return dir;
}

// 1. Reloads through the host.
const reloadDir = pluginDir("reload", {
  "bench.ts": `import { definePlugin } from "kefu/plugin";\nimport { answer } from "./_helper";\nexport default definePlugin({ name: "bench", setup(ctx) { this.t = setInterval(() => {}, 60000); }, dispose() { clearInterval(this.t); }, onMessage: ({ message }) => (message.text === "q" ? { text: answer } : undefined) });\n`,
  "_helper.ts": `export const answer = "x".repeat(1000);\n`,
});
const host = createPluginHost({ dir: reloadDir, sql, log, hookTimeoutMs: 5000, watch: false });
await host.start();
Bun.gc(true);
const rss: { reloads: number; rss_mib: number }[] = [{ reloads: 0, rss_mib: mib() }];
const reloadMs: number[] = [];
const t0 = performance.now();
for (let i = 1; i <= RELOADS; i++) {
  const t = performance.now();
  await host.reload("bench");
  reloadMs.push(performance.now() - t);
  if ((await host.onMessage({ text: "q", lang: "en" }))?.plugin !== "bench") throw new Error(`reload ${i}: no answer`);
  if (i % (RELOADS / 10) === 0) {
    Bun.gc(true);
    rss.push({ reloads: i, rss_mib: mib() });
    console.log(`reloads ${i}: rss ${mib()} MiB`);
  }
}
const reloadTotalS = (performance.now() - t0) / 1000;
const generation = host.listing()[0]!.generation;
await host.stop();
Bun.gc(true);
const afterStop = mib();

// 3. Hook latency through the host: the cases interleaved round by round, so they share the machine's moods.
const pass = (n: string) => `export default { name: ${JSON.stringify(n)}, onMessage() {} };`;
const hookCases: [string, Record<string, string>][] = [
  ["none", {}],
  ["1 pass", { "a.ts": pass("a") }],
  ["1 answers", { "a.ts": `export default { name: "a", onMessage: () => ({ text: "hello" }) };` }],
  ["3 pass", { "a.ts": pass("a"), "b.ts": pass("b"), "c.ts": pass("c") }],
];
const hosts = hookCases.map(([name, files]) => ({ name, host: createPluginHost({ dir: pluginDir(`hook-${name.replace(/\W/g, "")}`, files), sql, log, hookTimeoutMs: 5000, watch: false }), xs: [] as number[] }));
for (const h of hosts) {
  await h.host.start();
  for (let i = 0; i < 200; i++) await h.host.onMessage({ text: "q", lang: "en" }); // warm up
}
const ROUNDS = 5;
for (let r = 0; r < ROUNDS; r++) {
  for (const h of hosts) {
    for (let i = 0; i < CALLS / ROUNDS; i++) {
      const t = performance.now();
      await h.host.onMessage({ text: "q", lang: "en" });
      h.xs.push(performance.now() - t);
    }
  }
}
for (const h of hosts) await h.host.stop();
const hooks = hosts.map((h) => ({ case: h.name, us: stats(h.xs, 1000) }));
for (const h of hooks) console.log(`hook ${h.case}: p50 ${h.us.p50} µs p99 ${h.us.p99} µs`);

// End to end over the visitor WebSocket.
async function chatCase(name: string, files: Record<string, string>) {
  const dir = mkdtempSync(join(work, `chat-${name.replace(/\W/g, "")}-`));
  mkdirSync(join(dir, "plugins"));
  for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, "plugins", f), text);
  const s = await startTestServer({ log: { level: "silent" }, plugins: { watch: false }, chat: { rate_burst: 10000, rate_per_second: 1000, frame_burst: 10000, frames_per_second: 1000 } } as never, dir);
  const { c } = await visitor(s.wsUrl, { lang: "zh" });
  const xs: number[] = [];
  const questions = ["运费怎么算？", "怎么退货", "怎么开发票", "支持哪些支付方式"];
  for (let i = 0; i < TRIPS + 20; i++) {
    const t = performance.now();
    c.send({ type: "send", client_id: `b${i}`, text: questions[i % questions.length] });
    await c.nextType("message", (f) => f.from === "bot");
    if (i >= 20) xs.push(performance.now() - t);
  }
  c.close();
  await s.stop();
  return { case: name, ms: stats(xs) };
}
const chat = [await chatCase("no plugin", {}), await chatCase("1 pass-through plugin", { "a.ts": pass("a") })];
for (const c of chat) console.log(`chat ${c.case}: p50 ${c.ms.p50} ms p99 ${c.ms.p99} ms`);
// Last: these versions stay in the process and would weigh on everything measured after them.
// 2. The in-process alternative: new module versions that never unload.
const bundle = await bundlePlugin(join(reloadDir, "bench.ts"));
if (!bundle.ok) throw new Error(bundle.message);
Bun.gc(true);
const importRss: { imports: number; rss_mib: number }[] = [{ imports: 0, rss_mib: mib() }];
const inproc = join(work, "inproc");
mkdirSync(inproc);
for (let i = 1; i <= RELOADS; i++) {
  // Distinct text per version, as an edited plugin would be.
  const file = join(inproc, `v${i}.js`);
  writeFileSync(file, `${bundle.code}\n//${i}`);
  await import(`${file}?v=${i}`).catch(() => undefined);
  if (i % (RELOADS / 10) === 0) {
    Bun.gc(true);
    importRss.push({ imports: i, rss_mib: mib() });
  }
}

rmSync(work, { recursive: true, force: true });

const reloadStats = stats(reloadMs);
const data = {
  machine: machineInfo(),
  reloads: { count: RELOADS, generation, total_s: Math.round(reloadTotalS * 10) / 10, ms: reloadStats, rss, rss_after_stop_mib: afterStop },
  in_process_imports: { count: RELOADS, rss: importRss },
  hook_latency: hooks,
  chat_round_trip: chat,
};
const first = rss[0]!.rss_mib;
const last = rss.at(-1)!.rss_mib;
const md = [
  `# Plugin reloads and hook cost (${data.machine.date.slice(0, 10)})`,
  "",
  `${data.machine.cpu}, ${data.machine.cores} cores (shared with other work), Bun ${data.machine.bun}. Produced by \`bun bench/plugins-reload.ts\`${QUICK ? " (QUICK)" : ""}.`,
  "",
  `## ${RELOADS} reloads of one plugin (worker per version)`,
  "",
  `Each reload: Bun.build of the plugin and its helper, a new worker, setup, swap, old worker disposed and terminated; one hook call between reloads. ${RELOADS} reloads took ${data.reloads.total_s} s: p50 ${reloadStats.p50} ms, p95 ${reloadStats.p95} ms, p99 ${reloadStats.p99} ms per reload.`,
  "",
  "| reloads | RSS MiB |",
  "|---|---|",
  ...rss.map((r) => `| ${r.reloads} | ${r.rss_mib} |`),
  "",
  `RSS ${first} → ${last} MiB (${(last - first >= 0 ? "+" : "") + Math.round((last - first) * 10) / 10} MiB over ${RELOADS} reloads); after the host stopped: ${afterStop} MiB.`,
  "",
  `## For comparison: the same bundle imported in process ${RELOADS} times`,
  "",
  "| imports | RSS MiB |",
  "|---|---|",
  ...importRss.map((r) => `| ${r.imports} | ${r.rss_mib} |`),
  "",
  "## Latency a hook adds",
  "",
  `onMessage through the host (main thread → worker → main thread), ${CALLS} sequential calls per case:`,
  "",
  "| plugins | p50 µs | p95 µs | p99 µs |",
  "|---|---|---|---|",
  ...hooks.map((h) => `| ${h.case} | ${h.us.p50} | ${h.us.p95} | ${h.us.p99} |`),
  "",
  `A visitor's WebSocket round trip (send → bot answer, knowledge-base questions, answer cache on), ${TRIPS} messages per case:`,
  "",
  "| server | p50 ms | p95 ms | p99 ms |",
  "|---|---|---|---|",
  ...chat.map((c) => `| ${c.case} | ${c.ms.p50} | ${c.ms.p95} | ${c.ms.p99} |`),
].join("\n");
const paths = await writeResult("plugins-reload", data, md);
console.log(`wrote ${paths.join(", ")}`);
process.exit(0);
