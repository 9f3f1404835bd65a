import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually } from "./helpers/eventually";
import { botReply as ask, type PluginTestServer, startPluginServer } from "./helpers/plugin-server";
import { visitor, type WsClient } from "./helpers/ws-client";

// Review of issue 16: the ways a shop developer edits plugins/ — quick double saves, delete and re-create,
// rename, a symlink to a plugin kept elsewhere (a deploy directory), a plugin that loops at import time.
let s: PluginTestServer;
let admin: string;
const plugins = () => s.plugins;
const deploy = () => join(s.dir, "deploy");
const src = (name: string, word: string, trigger = name) =>
  `export default { name: ${JSON.stringify(name)}, onMessage: ({ message }) => (message.text === ${JSON.stringify(trigger)} ? { text: ${JSON.stringify(word)} } : undefined) };\n`;

beforeAll(async () => {
  s = await startPluginServer("review16-reload", { "quick.ts": src("quick", "quick v1") }, { plugins: { poll_ms: 200 } }, (dir) => {
    const away = join(dir, "deploy");
    mkdirSync(join(away, "folder"), { recursive: true });
    writeFileSync(join(away, "linked.ts"), src("linked", "linked v1"));
    symlinkSync(join(away, "linked.ts"), join(dir, "plugins", "linked.ts"));
    writeFileSync(join(away, "folder", "index.ts"), `import { w } from "./w";\nexport default { name: "linkdir", onMessage: ({ message }) => (message.text === "linkdir" ? { text: w } : undefined) };\n`);
    writeFileSync(join(away, "folder", "w.ts"), `export const w = "linkdir v1";\n`);
    symlinkSync(join(away, "folder"), join(dir, "plugins", "linkdir"));
  });
  admin = await s.login("admin");
});
afterAll(() => s.stop());

async function listing() {
  const res = await fetch(`${s.url}/api/admin/plugins`, { headers: { authorization: `Bearer ${admin}` } });
  return ((await res.json()) as { plugins: { name: string; status: string; file: string; generation: number }[] }).plugins;
}
/** Asks until the answer is `want` (hot reload takes a moment), at most 3 s. */
async function answersWith(c: WsClient, text: string, want: string) {
  let last = "";
  // Slowly: a visitor sending too fast is rate-limited.
  const ok = await eventually(async () => (last = await ask(c, text)) === want || (await Bun.sleep(700), false), 5000);
  expect(last).toBe(want);
  return ok;
}

test("a symlinked plugin file and a symlinked plugin folder load, and reload when their target changes", async () => {
  const { c } = await visitor(s.wsUrl, { lang: "en" });
  expect(await ask(c, "linked")).toBe("linked v1");
  expect(await ask(c, "linkdir")).toBe("linkdir v1");
  writeFileSync(join(deploy(), "linked.ts"), src("linked", "linked v2"));
  writeFileSync(join(deploy(), "folder", "w.ts"), `export const w = "linkdir v2";\n`);
  await answersWith(c, "linked", "linked v2");
  await answersWith(c, "linkdir", "linkdir v2");
  c.close();
}, 15_000);

test("two saves within the debounce: the last one runs; delete and re-create; rename", async () => {
  const { c } = await visitor(s.wsUrl, { lang: "en" });
  expect(await ask(c, "quick")).toBe("quick v1");
  writeFileSync(join(plugins(), "quick.ts"), src("quick", "quick v2"));
  writeFileSync(join(plugins(), "quick.ts"), src("quick", "quick v3"));
  await answersWith(c, "quick", "quick v3");
  rmSync(join(plugins(), "quick.ts"));
  writeFileSync(join(plugins(), "quick.ts"), src("quick", "quick v4"));
  await answersWith(c, "quick", "quick v4");
  renameSync(join(plugins(), "quick.ts"), join(plugins(), "quick2.ts"));
  expect(await eventually(async () => (await listing()).some((p) => p.file === "quick2.ts" && p.status === "active") && !(await listing()).some((p) => p.file === "quick.ts"), 3000)).toBe(true);
  expect(await ask(c, "quick")).toBe("quick v4");
  c.close();
}, 20_000);

test("a reload after the temp directory of the bundles was cleaned away (tmp cleaners on long-running servers)", async () => {
  writeFileSync(join(plugins(), "tmpclean.ts"), src("tmpclean", "tmpclean v1"));
  const { c } = await visitor(s.wsUrl, { lang: "en" });
  await answersWith(c, "tmpclean", "tmpclean v1");
  // The host's bundle directory: the temp dir holding this plugin's bundle.
  const work = readdirSync(tmpdir())
    .filter((d) => d.startsWith("kefu-plugins-"))
    .map((d) => join(tmpdir(), d))
    .find((d) => existsSync(d) && readdirSync(d).some((f) => f.startsWith("tmpclean-")));
  expect(work).toBeString();
  rmSync(work!, { recursive: true, force: true });
  writeFileSync(join(plugins(), "tmpclean.ts"), src("tmpclean", "tmpclean v2"));
  await answersWith(c, "tmpclean", "tmpclean v2");
  c.close();
}, 15_000);
