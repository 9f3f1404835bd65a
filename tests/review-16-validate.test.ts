import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type PluginTestServer, startPluginServer } from "./helpers/plugin-server";

// Review of issue 16: a plugin whose config schema cannot be checked (a pattern that is not a regular
// expression) fails at stage validate with the key named, and the version that failed does not live on.
let s: PluginTestServer;
const marker = () => join(s.dir, "alive.txt");
const ticks = () => (existsSync(marker()) ? statSync(marker()).size : 0);
beforeAll(async () => {
  s = await startPluginServer("review16-validate", {}, { plugins: { watch: false, badpattern: { code: "A1" } } as never }, (dir) =>
    // Its module ticks a file while its worker runs.
    writeFileSync(
      join(dir, "plugins", "badpattern.ts"),
      `import { appendFileSync } from "node:fs";
       setInterval(() => appendFileSync(${JSON.stringify(join(dir, "alive.txt"))}, "x"), 10);
       export default { name: "badpattern", config: { properties: { code: { type: "string", pattern: "[" } } }, onMessage: () => undefined };`,
    ),
  );
});
afterAll(() => s.stop());

test("an invalid pattern in a plugin's config schema: stage validate naming the key, and the failed worker is gone", async () => {
  const admin = await s.login("admin");
  const { plugins } = (await (await fetch(`${s.url}/api/admin/plugins`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { plugins: { name: string; status: string; last_error: { stage: string; message: string } | null }[] };
  const p = plugins.find((x) => x.name === "badpattern");
  expect(p?.status).toBe("failed");
  expect(p?.last_error?.stage).toBe("validate");
  expect(p?.last_error?.message).toContain("code");
  await Bun.sleep(100);
  const size = ticks();
  await Bun.sleep(300);
  expect(ticks()).toBe(size);
}, 10_000);
