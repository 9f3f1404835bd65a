import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually } from "./helpers/eventually";
import { startTestServer, type TestServer } from "./helpers/server";
import { visitor, type WsClient } from "./helpers/ws-client";

// Issue 16 done-when 1: with the server running, a plugin and a helper file it imports are edited; new
// messages get the new behaviour within 2 s, without a restart and on the same WebSocket. A syntax error
// keeps the old version answering and shows in the admin API with its stage; the fix loads; deleting the
// folder unloads it.
let s: TestServer;
let dir: string;
let admin: string;
const plugin = () => join(dir, "plugins", "shop");
const writePlugin = (reply: string) =>
  writeFileSync(join(plugin(), "index.ts"), `import { definePlugin } from "kefu/plugin";\nimport { word } from "./words";\nexport default definePlugin({ name: "shop", onMessage: ({ message }) => (message.text === "ping" ? { text: ${JSON.stringify(reply)} + " " + word() } : undefined) });\n`);
const writeHelper = (word: string) => writeFileSync(join(plugin(), "words.ts"), `export const word = () => ${JSON.stringify(word)};\n`);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kefu-plugins-reload-"));
  mkdirSync(plugin(), { recursive: true });
  writePlugin("v1");
  writeHelper("alpha");
  s = await startTestServer({}, dir);
  admin = await s.login("admin");
});
afterAll(async () => {
  await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function listing() {
  const res = await fetch(`${s.url}/api/admin/plugins`, { headers: { authorization: `Bearer ${admin}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { plugins: { name: string; status: string; generation: number; file: string; last_error: { stage: string; message: string } | null }[] }).plugins;
}
const shop = async () => (await listing()).find((p) => p.name === "shop");

let n = 0;
async function ask(c: WsClient, text: string): Promise<string> {
  c.send({ type: "send", client_id: `r${++n}`, text });
  return (await c.nextType("message", (f) => f.from === "bot")).text as string;
}

/** Polls the admin API until the shop plugin reaches `generation` (at most 2 s: the bound). */
async function reloadedTo(generation: number) {
  expect(await eventually(async () => (await shop())?.generation === generation, 2000)).toBe(true);
}

test("edit, break, fix, delete: hot reload without a restart, on the same WebSocket", async () => {
  const { c } = await visitor(s.wsUrl, { lang: "en" });
  let closed = false;
  c.ws.addEventListener("close", () => (closed = true));
  expect(await ask(c, "ping")).toBe("v1 alpha");
  expect(await shop()).toMatchObject({ status: "active", generation: 1, file: "shop/" });

  // The helper the plugin imports changes: Bun's import cache would keep the old one, the bundle does not.
  writeHelper("beta");
  await reloadedTo(2);
  expect(await ask(c, "ping")).toBe("v1 beta");

  writePlugin("v2");
  await reloadedTo(3);
  expect(await ask(c, "ping")).toBe("v2 beta");

  // A syntax error: the old version keeps answering, the admin API says where it broke.
  writeFileSync(join(plugin(), "index.ts"), "export default definePlugin({{{");
  expect(await eventually(async () => (await shop())?.last_error?.stage === "bundle", 2000)).toBe(true);
  expect(await shop()).toMatchObject({ status: "active", generation: 3 });
  expect((await shop())?.last_error?.message).toContain("index.ts");
  expect(await ask(c, "ping")).toBe("v2 beta");

  // A setup that throws is refused at its stage too.
  writeFileSync(join(plugin(), "index.ts"), `export default { name: "shop", setup() { throw new Error("no database"); } };`);
  expect(await eventually(async () => (await shop())?.last_error?.stage === "setup", 2000)).toBe(true);
  expect((await shop())?.last_error?.message).toBe("no database");
  expect(await ask(c, "ping")).toBe("v2 beta");

  // Undoing the broken edit (back to the running version's text) clears the error without a reload.
  writePlugin("v2");
  expect(await eventually(async () => (await shop())?.last_error === null, 2000)).toBe(true);
  expect(await shop()).toMatchObject({ status: "active", generation: 3 });

  writePlugin("v3");
  await reloadedTo(4);
  expect((await shop())?.last_error).toBeNull();
  expect(await ask(c, "ping")).toBe("v3 beta");

  // Deleted: unloaded; "ping" goes to the knowledge base like any question.
  rmSync(plugin(), { recursive: true, force: true });
  expect(await eventually(async () => (await shop()) === undefined, 2000)).toBe(true);
  expect(await ask(c, "ping")).not.toContain("beta");

  expect(closed).toBe(false);
  c.close();
}, 30_000);

test("admin API: reload one or all, disable and enable, strict bodies, unknown names 404", async () => {
  mkdirSync(plugin(), { recursive: true });
  writeHelper("gamma");
  writePlugin("v4");
  expect(await eventually(async () => (await shop())?.status === "active", 2000)).toBe(true);
  const post = (path: string, body?: unknown, token = admin) =>
    fetch(`${s.url}/api/admin/plugins${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const before = (await shop())!.generation;
  const one = await post("/shop/reload");
  expect(one.status).toBe(200);
  expect(((await one.json()) as { plugin: { generation: number } }).plugin.generation).toBe(before + 1);
  const all = await post("/reload", {});
  expect(all.status).toBe(200);
  expect(((await all.json()) as { plugins: { name: string; generation: number }[] }).plugins.find((p) => p.name === "shop")?.generation).toBe(before + 2);

  const { c } = await visitor(s.wsUrl, { lang: "en" });
  expect(await ask(c, "ping")).toBe("v4 gamma");
  expect(((await (await post("/shop/disable")).json()) as { plugin: { status: string } }).plugin.status).toBe("disabled");
  expect(await ask(c, "ping")).not.toContain("gamma");
  expect(((await (await post("/shop/enable")).json()) as { plugin: { status: string } }).plugin.status).toBe("active");
  expect(await ask(c, "ping")).toBe("v4 gamma");
  c.close();

  const strict = await post("/shop/reload", { force: true });
  expect(strict.status).toBe(400);
  expect(((await strict.json()) as { error: { code: string } }).error.code).toBeString();
  expect((await post("/nope/reload")).status).toBe(404);
  expect((await post("/Bad_Name/reload")).status).toBe(400);
  const agent = await s.login("agent");
  expect((await post("/shop/reload", undefined, agent)).status).toBe(403);
  expect((await fetch(`${s.url}/api/admin/plugins`)).status).toBe(401);
}, 30_000);
