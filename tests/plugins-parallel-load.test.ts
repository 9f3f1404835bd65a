import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { type PluginTestServer, startPluginServer } from "./helpers/plugin-server";

// Plugins load side by side: one whose setup waits (a slow connection to the shop's system) must not hold the
// next one up until its 5 s load timeout, nor the server's start by one timeout per plugin. Shown without a
// clock: each setup waits for the other one's marker, which only loading them at the same time can satisfy.
let s: PluginTestServer;
const setup = (dir: string, me: string, other: string) => `import { existsSync, writeFileSync } from "node:fs";
export default { name: "${me}", async setup() {
  const dir = ${JSON.stringify(dir)};
  writeFileSync(dir + "/${me}", "");
  while (!existsSync(dir + "/${other}")) await new Promise((r) => setTimeout(r, 10));
}, onMessage() {} };`;
beforeAll(async () => {
  s = await startPluginServer("parallel-load", {}, { plugins: { watch: false } }, (dir) => {
    const { mkdirSync, writeFileSync } = require("node:fs") as typeof import("node:fs");
    mkdirSync(join(dir, "plugins"), { recursive: true });
    writeFileSync(join(dir, "plugins", "a-first.ts"), setup(dir, "first", "second"));
    writeFileSync(join(dir, "plugins", "b-second.ts"), setup(dir, "second", "first"));
  });
}, 20_000);
afterAll(() => s.stop());

test("two plugins whose setups wait for each other both load", async () => {
  const admin = await s.login("admin");
  const { plugins } = (await (await fetch(`${s.url}/api/admin/plugins`, { headers: { authorization: `Bearer ${admin}` } })).json()) as {
    plugins: { name: string; status: string; last_error: unknown }[];
  };
  expect(plugins.map((p) => [p.name, p.status, p.last_error])).toEqual([
    ["first", "active", null],
    ["second", "active", null],
  ]);
}, 10_000);
