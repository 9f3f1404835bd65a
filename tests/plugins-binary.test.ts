import { afterAll, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { eventually } from "./helpers/eventually";
import { waitForStart } from "./helpers/process";
import { visitor, type WsClient } from "./helpers/ws-client";

// Issue 16 done-when 3: the compiled binary, alone in an empty directory (no Bun on PATH, no node_modules),
// loads the plugins `kefu init` writes, runs them, and hot-reloads a plugin (and its helper) from ./plugins.
const root = resolve(import.meta.dir, "..");
const work = mkdtempSync(join(tmpdir(), "kefu-plugins-bin-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let n = 0;
async function ask(c: WsClient, text: string): Promise<string> {
  c.send({ type: "send", client_id: `b${++n}`, text });
  return (await c.nextType("message", (f) => f.from === "bot")).text as string;
}

test("the compiled binary in an empty dir loads, runs and hot-reloads plugins from ./plugins", async () => {
  const built = join(work, "build", "kefu");
  const build = Bun.spawnSync([process.execPath, "scripts/build.ts", "--outfile", built], { cwd: root, stdout: "pipe", stderr: "pipe" });
  expect(build.exitCode, build.stderr.toString()).toBe(0);
  const site = join(work, "site");
  mkdirSync(site);
  const exe = join(site, "kefu");
  copyFileSync(built, exe);
  const env = { PATH: "/usr/bin:/bin", HOME: site, KEFU_SERVER_PORT: "0", KEFU_SERVER_HOST: "127.0.0.1" };

  const init = Bun.spawnSync([exe, "init"], { cwd: site, env, stdout: "pipe", stderr: "pipe" });
  expect(init.exitCode, init.stderr.toString()).toBe(0);
  expect(readdirSync(join(site, "plugins")).sort()).toEqual(["example.ts", "invoice.ts", "kefu-plugin.d.ts", "order-status.ts"]);
  const password = /password (\S+)/.exec(init.stdout.toString())?.[1];
  expect(password).toBeString();

  const proc = Bun.spawn([exe, "-c", "config.toml"], { cwd: site, env, stdout: "ignore", stderr: "pipe" });
  try {
    const { port, stderr } = await waitForStart(proc);
    const url = `http://127.0.0.1:${port}`;
    const { c } = await visitor(`ws://127.0.0.1:${port}`, { lang: "en" });
    // The plugins kefu init wrote, bundled with "kefu/plugin" by the binary itself.
    expect(await ask(c, "where is order 20240518123")).toContain("Order 20240518123 has shipped");
    expect(await ask(c, "hello")).toContain("virtual assistant");

    // A new plugin with a helper file appears, then the helper changes: hot reload, same socket.
    writeFileSync(join(site, "plugins", "_words.ts"), `export const word = "alpha";\n`);
    writeFileSync(join(site, "plugins", "ping.ts"), `import { definePlugin } from "kefu/plugin";\nimport { word } from "./_words";\nexport default definePlugin({ name: "ping", onMessage: ({ message }) => (message.text === "ping" ? { text: "pong " + word } : undefined) });\n`);
    const login = await fetch(`${url}/api/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "admin", password }) });
    const { token } = (await login.json()) as { token: string };
    const ping = async () => {
      const res = await fetch(`${url}/api/admin/plugins`, { headers: { authorization: `Bearer ${token}` } });
      return ((await res.json()) as { plugins: { name: string; status: string; generation: number }[] }).plugins.find((p) => p.name === "ping");
    };
    expect(await eventually(async () => (await ping())?.status === "active", 2000)).toBe(true);
    expect(await ask(c, "ping")).toBe("pong alpha");
    writeFileSync(join(site, "plugins", "_words.ts"), `export const word = "beta";\n`);
    expect(await eventually(async () => (await ping())?.generation === 2, 2000)).toBe(true);
    expect(await ask(c, "ping")).toBe("pong beta");
    rmSync(join(site, "plugins", "ping.ts"));
    expect(await eventually(async () => (await ping()) === undefined, 2000)).toBe(true);
    c.close();

    proc.kill("SIGTERM");
    expect(await proc.exited, stderr()).toBe(0);
    expect(stderr()).toContain('"msg":"plugin reloaded"');
  } finally {
    proc.kill("SIGKILL");
  }
}, 60_000);
