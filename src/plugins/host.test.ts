import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually } from "../../tests/helpers/eventually";
import { createLogger } from "../log/logger";
import { createPluginHost } from "./host";
import { pluginMigrations } from "./migrations";
import { createSqliteSql } from "../storage/sqlite-driver";

function memoryDb() {
  const db = new Database(":memory:");
  db.run(pluginMigrations[0]!.sql);
  return db;
}

function host(dir: string, lines: string[], extra: Partial<Parameters<typeof createPluginHost>[0]> = {}) {
  const sql = extra.sql ?? createSqliteSql(memoryDb());
  return createPluginHost({ dir, sql, hookTimeoutMs: 100, watch: false, log: createLogger({ level: "debug", write: (l) => lines.push(l) }), ...extra });
}

test("loads good plugins, reports broken ones by stage, first answer wins, throwing and slow hooks are skipped", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kefu-plugins-"));
  writeFileSync(join(dir, "a-broken.ts"), "export default { nope: true };");
  writeFileSync(join(dir, "b-syntax.ts"), "export default {{{");
  writeFileSync(join(dir, "c-throws.ts"), 'export default { name: "thrower", onMessage() { throw new Error("boom"); } };');
  writeFileSync(join(dir, "d-slow.ts"), 'export default { name: "slow", onMessage: () => new Promise((r) => setTimeout(() => r({ text: "late" }), 500)) };');
  writeFileSync(join(dir, "e-greet.ts"), 'import { definePlugin } from "kefu/plugin";\nexport default definePlugin({ name: "greet", onMessage: ({ message }) => (message.text === "hi" ? { text: "hello " + message.lang, choices: ["a", 1] } : undefined) });');
  writeFileSync(join(dir, "f-handoff.ts"), 'export default { name: "vip", onMessage: ({ message }) => (message.text === "vip" ? { handoff: true } : undefined) };');
  writeFileSync(join(dir, "_helper.ts"), "export const x = 1;");
  writeFileSync(join(dir, "types.d.ts"), "export {};");
  const lines: string[] = [];
  const plugins = host(dir, lines);
  try {
    await plugins.start();
    expect(plugins.list.map((p) => p.name)).toEqual(["thrower", "slow", "greet", "vip"]);
    const failed = plugins.listing().filter((p) => p.status === "failed");
    expect(failed.map((p) => [p.file, p.last_error?.stage])).toEqual([
      ["a-broken.ts", "validate"],
      ["b-syntax.ts", "bundle"],
    ]);
    expect(await plugins.onMessage({ text: "hi", lang: "en" })).toEqual({ plugin: "greet", verdict: { text: "hello en", choices: ["a"] } });
    expect(await plugins.onMessage({ text: "vip", lang: "zh" })).toEqual({ plugin: "vip", verdict: { handoff: true } });
    expect(await plugins.onMessage({ text: "other", lang: "zh" })).toBeNull();
    expect(lines.some((l) => l.includes("timed out"))).toBe(true);
    expect(lines.some((l) => l.includes("hook failed"))).toBe(true);
    const slow = plugins.listing().find((p) => p.name === "slow")!;
    expect(slow.counters).toMatchObject({ calls: 3, errors: 3, timeouts: 3, consecutive_errors: 3 });
  } finally {
    await plugins.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}, 15_000);

test("ctx.kv persists per plugin, config is validated with defaults, errors in a row disable a plugin", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kefu-plugins-"));
  writeFileSync(
    join(dir, "count.ts"),
    `export default { name: "count", config: { properties: { step: { type: "integer", default: 1 }, label: { type: "string" } }, required: ["label"] },
      async onMessage(ctx) {
        if (ctx.message.text === "fail") throw new Error("asked to");
        const n = ((await ctx.kv.get("n")) ?? 0) + ctx.config.step;
        await ctx.kv.set("n", n);
        return { text: ctx.config.label + n };
      } };`,
  );
  writeFileSync(join(dir, "other.ts"), `export default { name: "other", config: { properties: { x: { type: "integer" } } } };`);
  const lines: string[] = [];
  const plugins = host(dir, lines, { configs: { count: { label: "#", step: 2 }, other: { x: "nope" } }, maxConsecutiveErrors: 3 });
  try {
    await plugins.start();
    expect(plugins.listing().find((p) => p.name === "other")?.last_error).toMatchObject({ stage: "validate", message: "[plugins.other] x: expected integer, got string" });
    expect((await plugins.onMessage({ text: "a", lang: "en" }))?.verdict).toEqual({ text: "#2" });
    expect((await plugins.onMessage({ text: "b", lang: "en" }))?.verdict).toEqual({ text: "#4" });
    for (let i = 0; i < 3; i++) expect(await plugins.onMessage({ text: "fail", lang: "en" })).toBeNull();
    const count = plugins.listing().find((p) => p.name === "count")!;
    expect(count.status).toBe("auto_disabled");
    expect(count.last_error?.message).toContain("3 errors in a row");
    expect(await plugins.onMessage({ text: "a", lang: "en" })).toBeNull();
    await plugins.setEnabled("count", true);
    // The store outlives the version: the count goes on.
    expect((await plugins.onMessage({ text: "a", lang: "en" }))?.verdict).toEqual({ text: "#6" });
  } finally {
    await plugins.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}, 15_000);

test("a plugin that kills its worker (uncaught error, process.exit) is restarted, then disabled when it keeps doing it; kefu lives on", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kefu-plugins-"));
  writeFileSync(
    join(dir, "crash.ts"),
    `export default { name: "crash", onMessage({ message }) {
      if (message.text === "exit") process.exit(3);
      if (message.text === "throw") setTimeout(() => { throw new Error("async boom"); }, 1);
      return { text: "alive" };
    } };`,
  );
  const lines: string[] = [];
  const plugins = host(dir, lines, { maxConsecutiveErrors: 2 });
  const status = () => plugins.listing()[0]!;
  try {
    await plugins.start();
    await plugins.onMessage({ text: "throw", lang: "en" });
    expect(await eventually(() => status().status === "active" && status().generation === 2)).toBe(true);
    expect(status().last_error).toMatchObject({ stage: "run" });
    expect(lines.some((l) => l.includes("async boom"))).toBe(true);
    expect((await plugins.onMessage({ text: "hi", lang: "en" }))?.verdict).toEqual({ text: "alive" });
    // Errors in a row: a crash, then another before any call succeeds.
    expect(await plugins.onMessage({ text: "exit", lang: "en" })).toBeNull();
    expect(await eventually(() => status().generation === 3)).toBe(true);
    expect(await plugins.onMessage({ text: "exit", lang: "en" })).toBeNull();
    expect(await eventually(() => status().status === "auto_disabled")).toBe(true);
    expect(status().last_error?.message).toContain("exited 2 times in a row");
    // A scan (another file changed) leaves it off while its own file is unchanged.
    await plugins.scan();
    expect(status().status).toBe("auto_disabled");
  } finally {
    await plugins.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}, 15_000);

test("a top-level throw fails at stage import; an admin's disable outlives a restart", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kefu-plugins-"));
  writeFileSync(join(dir, "boom.ts"), `throw new Error("no config file");\nexport default { name: "boom" };`);
  writeFileSync(join(dir, "calm.ts"), `export default { name: "calm", onMessage: () => ({ text: "calm" }) };`);
  const sql = createSqliteSql(memoryDb());
  const first = host(dir, [], { sql });
  try {
    await first.start();
    expect(first.listing().find((p) => p.file === "boom.ts")?.last_error).toMatchObject({ stage: "import", message: expect.stringContaining("no config file") });
    await first.setEnabled("calm", false);
  } finally {
    await first.stop();
  }
  const second = host(dir, [], { sql });
  try {
    await second.start();
    expect(second.listing().find((p) => p.name === "calm")?.status).toBe("disabled");
    expect(await second.onMessage({ text: "x", lang: "en" })).toBeNull();
    await second.setEnabled("calm", true);
    expect((await second.onMessage({ text: "x", lang: "en" }))?.verdict).toEqual({ text: "calm" });
  } finally {
    await second.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}, 15_000);

test("a reload swaps atomically: a call in flight finishes on the old version, whose dispose runs after it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kefu-plugins-"));
  const version = (v: string) =>
    writeFileSync(
      join(dir, "swap.ts"),
      `let log;
      export default { name: "swap",
        setup(ctx) { log = ctx.log; },
        onMessage: async ({ message }) => { if (message.text === "slow") await new Promise((r) => setTimeout(r, 300)); return { text: "${v}" }; },
        dispose() { log.info("disposed ${v}"); } };`,
    );
  version("old");
  const lines: string[] = [];
  const plugins = host(dir, lines, { hookTimeoutMs: 2000 });
  try {
    await plugins.start();
    const inFlight = plugins.onMessage({ text: "slow", lang: "en" });
    await Bun.sleep(50);
    version("new");
    await plugins.reload("swap");
    // The new version answers new calls at once; the old one is still finishing its call.
    expect((await plugins.onMessage({ text: "fast", lang: "en" }))?.verdict).toEqual({ text: "new" });
    expect(lines.some((l) => l.includes("disposed old"))).toBe(false);
    expect((await inFlight)?.verdict).toEqual({ text: "old" });
    expect(await eventually(() => lines.some((l) => l.includes("disposed old")))).toBe(true);
    expect(lines.some((l) => l.includes("disposed new"))).toBe(false);
    expect(plugins.listing()[0]).toMatchObject({ status: "active", generation: 2 });
  } finally {
    await plugins.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}, 15_000);
