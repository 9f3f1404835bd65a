import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually } from "./helpers/eventually";
import { botReply as ask, type PluginTestServer, startPluginServer } from "./helpers/plugin-server";
import { visitor } from "./helpers/ws-client";

// Review of issue 16: the key/value store keeps what a plugin stored, or says why not; plugins do not see
// each other's keys; a plugin renamed to a name an admin disabled stops running.
let s: PluginTestServer;
let admin: string;
const plugins = () => s.plugins;
// Each version ticks in its store while it runs (a timer from setup, stopped by dispose).
const STORE = (name: string) => `let timer; export default { name: ${JSON.stringify(name)},
  setup({ kv }) { timer = setInterval(() => kv.set("tick", Date.now()), 20); },
  dispose() { clearInterval(timer); },
  async onMessage({ message, kv }) {
  const [cmd, arg] = message.text.split(" ");
  try {
    if (cmd === "${name}-set") { await kv.set("shared-key", "${name}'s value"); return { text: "ok" }; }
    if (cmd === "${name}-get") return { text: "got " + JSON.stringify(await kv.get("shared-key")) };
    if (cmd === "${name}-cyclic") { const o = { a: 1 }; o.self = o; await kv.set("cyc", o); return { text: "stored " + JSON.stringify(await kv.get("cyc")) }; }
    if (cmd === "${name}-emoji") { await kv.set("tag:a", 1); await kv.set("tag:😀", 2); await kv.set("tag:\u{10FFFF}", 3); await kv.set("tah", 4); return { text: (await kv.list("tag:")).map((r) => r.key).join(",") }; }
    if (cmd === "${name}-fn") { await kv.set("fn", () => 1); return { text: "stored " + JSON.stringify(await kv.get("fn")) }; }
  } catch (e) { return { text: "refused: " + e.message }; }
} };`;

beforeAll(async () => {
  s = await startPluginServer("review16-kv", { "a.ts": STORE("alpha"), "b.ts": STORE("beta") }, { plugins: { poll_ms: 200 } });
  admin = await s.login("admin");
});
afterAll(() => s.stop());


test("a value that is not JSON (cyclic, a function) is refused with a reason, not stored as '[object Object]'", async () => {
  const { c } = await visitor(s.wsUrl, { lang: "en" });
  expect(await ask(c, "alpha-cyclic")).toMatch(/^refused: /);
  expect(await ask(c, "alpha-fn")).toMatch(/^refused: /);
  c.close();
}, 10_000);

test("kv.list(prefix) finds keys whatever characters follow the prefix (an emoji too)", async () => {
  const { c } = await visitor(s.wsUrl, { lang: "en" });
  expect(await ask(c, "alpha-emoji")).toBe("tag:a,tag:😀,tag:\u{10FFFF}");
  c.close();
}, 10_000);

test("plugins do not see each other's keys", async () => {
  const { c } = await visitor(s.wsUrl, { lang: "en" });
  expect(await ask(c, "alpha-set")).toBe("ok");
  expect(await ask(c, "beta-get")).toBe("got null");
  expect(await ask(c, "alpha-get")).toBe(`got "alpha's value"`);
  c.close();
}, 10_000);

test("a plugin renamed to a name an admin disabled stops running (its old version is not left behind)", async () => {
  const res = await fetch(`${s.url}/api/admin/plugins/beta/disable`, { method: "POST", headers: { authorization: `Bearer ${admin}` } });
  expect(res.status).toBe(200);
  rmSync(join(plugins(), "b.ts"));
  writeFileSync(join(plugins(), "a.ts"), STORE("beta"));
  const list = async () => ((await (await fetch(`${s.url}/api/admin/plugins`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { plugins: { file: string; name: string; status: string }[] }).plugins;
  expect(await eventually(async () => (await list()).some((p) => p.file === "a.ts" && p.name === "beta" && p.status === "disabled"), 3000)).toBe(true);
  const tick = () => s.kefu.ctx.db.query<{ value: string }, []>("SELECT value FROM plugin_kv WHERE plugin = 'alpha' AND key = 'tick'").get()?.value;
  const before = tick();
  await Bun.sleep(300);
  expect(tick()).toBe(before);
  const { c } = await visitor(s.wsUrl, { lang: "en" });
  // Neither the old alpha version nor the new one answers.
  expect(await ask(c, "alpha-get")).not.toContain("got");
  expect(await ask(c, "beta-get")).not.toContain("got");
  c.close();
}, 10_000);
