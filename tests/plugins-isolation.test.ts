import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sample, scrapeMetrics } from "./helpers/prometheus";
import { startTestServer, type TestServer } from "./helpers/server";
import { visitor, type WsClient } from "./helpers/ws-client";

// Issue 16 done-when 2: a plugin that throws, one that never resolves and one that loops synchronously for
// 1 s. Visitors still get answers (within the answer deadline), the timeouts fire and are counted, and
// the server stays responsive: another visitor's round trip is measured while the loop runs.
const LOOP_MS = 1000;
const HOOK_TIMEOUT_MS = 250;
let s: TestServer;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kefu-plugins-isolation-"));
  mkdirSync(join(dir, "plugins"));
  writeFileSync(join(dir, "plugins", "a-throws.ts"), `export default { name: "throws", onMessage() { throw new Error("broken plugin"); } };`);
  writeFileSync(join(dir, "plugins", "b-hangs.ts"), `export default { name: "hangs", onMessage: () => new Promise(() => {}) };`);
  writeFileSync(
    join(dir, "plugins", "c-loops.ts"),
    `export default { name: "loops", onMessage({ message }) { if (message.text === "loop") { const end = Date.now() + ${LOOP_MS}; while (Date.now() < end) {} } } };`,
  );
  // Errors in a row never disable them here: every message meets all three.
  s = await startTestServer({ plugins: { hook_timeout_ms: HOOK_TIMEOUT_MS, max_consecutive_errors: 0, watch: false }, metrics: { token: "plugins-metrics-token" } }, dir);
});
afterAll(async () => {
  await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
/** Sends a message; resolves the times to its ack and to the bot's answer, in ms. */
async function roundTrip(c: WsClient, text: string) {
  const id = `i${++n}`;
  const t0 = performance.now();
  c.send({ type: "send", client_id: id, text });
  await c.nextType("ack", (f) => f.client_id === id);
  const ack = performance.now() - t0;
  const answer = await c.nextType("message", (f) => f.from === "bot");
  return { ack, answer: performance.now() - t0, text: answer.text as string };
}

test("throwing, hanging and CPU-looping plugins: answers still come, timeouts fire, another visitor is not held up", async () => {
  const a = (await visitor(s.wsUrl, { lang: "zh" })).c;
  const b = (await visitor(s.wsUrl, { lang: "zh" })).c;
  const baseline = await roundTrip(b, "运费怎么算？");
  expect(baseline.text).toContain("运费");

  // Visitor A's message makes the third plugin loop for a second in its worker.
  const looping = roundTrip(a, "loop");
  await Bun.sleep(50);
  const healthStart = performance.now();
  const health = await fetch(`${s.url}/healthz`);
  const healthMs = performance.now() - healthStart;
  const during = await roundTrip(b, "运费怎么算？");
  const looped = await looping;

  console.log(
    `plugins-isolation: baseline ack ${baseline.ack.toFixed(1)} ms answer ${baseline.answer.toFixed(1)} ms; during the ${LOOP_MS} ms loop: /healthz ${healthMs.toFixed(1)} ms, other visitor ack ${during.ack.toFixed(1)} ms answer ${during.answer.toFixed(1)} ms; the looping visitor's answer ${looped.answer.toFixed(1)} ms`,
  );
  expect(health.status).toBe(200);
  // A loop on the main thread would hold these for the rest of the second; in its worker it holds nothing.
  expect(healthMs).toBeLessThan(LOOP_MS / 2);
  expect(during.ack).toBeLessThan(LOOP_MS / 2);
  expect(during.text).toContain("运费");
  // Both visitors got their answers inside the answer deadline, each plugin skipped after its timeout.
  const deadline = s.kefu.ctx.config.llm.answer_deadline_ms;
  expect(during.answer).toBeLessThan(deadline);
  expect(looped.answer).toBeLessThan(deadline);
  expect(looped.text.length).toBeGreaterThan(0);

  const admin = await s.login("admin");
  const { plugins } = (await (await fetch(`${s.url}/api/admin/plugins`, { headers: { authorization: `Bearer ${admin}` } })).json()) as {
    plugins: { name: string; status: string; counters: { calls: number; errors: number; timeouts: number } }[];
  };
  const by = Object.fromEntries(plugins.map((p) => [p.name, p]));
  expect(by.throws).toMatchObject({ status: "active", counters: { calls: 3, errors: 3, timeouts: 0 } });
  expect(by.hangs).toMatchObject({ status: "active", counters: { calls: 3, errors: 3, timeouts: 3 } });
  expect(by.loops!.counters.timeouts).toBeGreaterThanOrEqual(1);
  expect(s.logs.some((l) => l.includes("plugin hook timed out") && l.includes('"plugin":"loops"'))).toBe(true);
  // /metrics shows the same counters per plugin, errors split into thrown and timed out.
  const m = await scrapeMetrics(s.url, "plugins-metrics-token");
  expect(sample(m, "kefu_plugin_calls_total", { plugin: "throws" })).toBe(3);
  expect(sample(m, "kefu_plugin_errors_total", { plugin: "throws", kind: "error" })).toBe(3);
  expect(sample(m, "kefu_plugin_errors_total", { plugin: "hangs", kind: "timeout" })).toBe(3);
  expect(sample(m, "kefu_plugin_errors_total", { plugin: "hangs", kind: "error" })).toBe(0);
  expect(sample(m, "kefu_plugin_active", { plugin: "loops" })).toBe(1);
  a.close();
  b.close();
}, 20_000);
