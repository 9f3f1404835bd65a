import { expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../log/logger";
import { loadPlugins } from "./loader";

test("loads good plugins, skips broken ones, first verdict wins, slow and throwing hooks are skipped", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kefu-plugins-"));
  writeFileSync(join(dir, "a-broken.ts"), "export default { nope: true };");
  writeFileSync(join(dir, "b-syntax.ts"), "export default {{{");
  writeFileSync(join(dir, "c-throws.ts"), 'export default { name: "thrower", onMessage() { throw new Error("boom"); } };');
  writeFileSync(join(dir, "d-slow.ts"), 'export default { name: "slow", onMessage: () => new Promise((r) => setTimeout(() => r({ reply: "late" }), 500)) };');
  writeFileSync(join(dir, "e-greet.ts"), 'export default { name: "greet", onMessage: (m) => (m.text === "hi" ? { reply: "hello " + m.lang } : undefined) };');
  writeFileSync(join(dir, "f-handoff.ts"), 'export default { name: "vip", onMessage: (m) => (m.text === "vip" ? { handoff: true } : undefined) };');
  const lines: string[] = [];
  const plugins = await loadPlugins({ dir, hookTimeoutMs: 50, log: createLogger({ level: "debug", write: (l) => lines.push(l) }) });
  expect(plugins.list.map((p) => p.name)).toEqual(["thrower", "slow", "greet", "vip"]);
  expect(lines.filter((l) => l.includes("failed to load"))).toHaveLength(2);
  expect(await plugins.onMessage({ text: "hi", lang: "en" })).toEqual({ plugin: "greet", verdict: { reply: "hello en" } });
  expect(await plugins.onMessage({ text: "vip", lang: "zh" })).toEqual({ plugin: "vip", verdict: { handoff: true } });
  expect(await plugins.onMessage({ text: "other", lang: "zh" })).toBeNull();
  expect(lines.some((l) => l.includes("timed out"))).toBe(true);
  expect(lines.some((l) => l.includes("hook failed"))).toBe(true);
});

test("the example plugin shipped by kefu init answers greetings", async () => {
  const plugins = await loadPlugins({ dir: join(import.meta.dir, "../../plugins"), log: createLogger({ level: "silent" }) });
  expect(plugins.list.map((p) => p.name)).toContain("example-greeting");
  const r = await plugins.onMessage({ text: "你好", lang: "zh" });
  expect(r?.verdict).toHaveProperty("reply");
});
