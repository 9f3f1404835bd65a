import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type FakeLlm, startFakeLlm } from "../bench/fake-llm/server";
import { startTestServer, type TestServer } from "./helpers/server";
import { visitor } from "./helpers/ws-client";

// A plugin's breaker strategy decides when a provider's circuit breaker opens: here after two failures,
// where the configured failure-rate strategy (50 calls minimum) would keep calling the failing provider.
let s: TestServer;
let llm: FakeLlm;
let dir: string;
beforeAll(async () => {
  llm = await startFakeLlm({ errorRate: 1, errorStatus: 500 });
  dir = mkdtempSync(join(tmpdir(), "kefu-plugins-breaker-"));
  mkdirSync(join(dir, "plugins"));
  writeFileSync(
    join(dir, "plugins", "guard.ts"),
    `import { definePlugin } from "kefu/plugin";
export default definePlugin({ name: "guard", breaker: { shouldOpen: (w, outcome) => !outcome.ok && w.failures >= 2 && w.provider === "flaky" } });`,
  );
  s = await startTestServer(
    {
      log: { level: "warn" },
      plugins: { watch: false },
      llm: { providers: [{ name: "flaky", base_url: llm.url, model: "m", max_concurrency: 4 }], breaker_min_requests: 50, breaker_open_ms: 60_000, answer_deadline_ms: 3000 },
    },
    dir,
  );
});
afterAll(async () => {
  await s.stop();
  await llm.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("a plugin's breaker.shouldOpen opens a failing provider's breaker long before the failure-rate strategy would", async () => {
  const admin = await s.login("admin");
  const breaker = async () =>
    ((await (await fetch(`${s.url}/api/admin/llm/providers`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { providers: { name: string; breaker: { state: string; strategy: string } }[] }).providers[0]!
      .breaker;
  expect(await breaker()).toMatchObject({ state: "closed", strategy: "plugin:guard" });
  const { c } = await visitor(s.wsUrl, { lang: "en" });
  let sent = 0;
  while ((await breaker()).state !== "open" && sent < 8) {
    c.send({ type: "send", client_id: `q${++sent}`, text: `tell me something about topic number ${sent} that nobody knows` });
    await c.nextType("message", (f) => f.from === "bot");
  }
  expect((await breaker()).state).toBe("open");
  // Two failures to decide, one more outcome to apply the verdict: far below breaker_min_requests.
  expect(llm.stats.requests).toBeLessThanOrEqual(4);
  c.close();
}, 20_000);
