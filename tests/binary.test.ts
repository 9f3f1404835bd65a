import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { waitForStart } from "./helpers/process";
import { visitor } from "./helpers/ws-client";

const root = resolve(import.meta.dir, "..");
const work = mkdtempSync(join(tmpdir(), "kefu-bin-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("single binary", () => {
  test("builds, runs alone from an empty dir, inits, serves, stops cleanly on SIGTERM", async () => {
    const built = join(work, "build", "kefu");
    const build = Bun.spawnSync([process.execPath, "scripts/build.ts", "--outfile", built], { cwd: root, stdout: "pipe", stderr: "pipe" });
    expect(build.exitCode, build.stderr.toString()).toBe(0);

    const site = join(work, "site");
    const exe = join(site, "kefu");
    rmSync(site, { recursive: true, force: true });
    mkdirSync(site);
    copyFileSync(built, exe);
    expect(readdirSync(site)).toEqual(["kefu"]);
    // A clean environment: no node_modules, no PATH entry for bun.
    const env = { PATH: "/usr/bin:/bin", HOME: site, KEFU_SERVER_PORT: "0", KEFU_SERVER_HOST: "127.0.0.1" };

    const init = Bun.spawnSync([exe, "init"], { cwd: site, env, stdout: "pipe", stderr: "pipe" });
    expect(init.exitCode, init.stderr.toString()).toBe(0);
    expect(existsSync(join(site, "config.toml"))).toBe(true);
    expect(existsSync(join(site, "plugins", "example.ts"))).toBe(true);

    const proc = Bun.spawn([exe, "-c", "config.toml"], { cwd: site, env, stdout: "ignore", stderr: "pipe" });
    const { port, stderr } = await waitForStart(proc);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(health.status).toBe(200);
    expect(((await health.json()) as { db: string }).db).toBe("ok");
    const page = await fetch(`http://127.0.0.1:${port}/`);
    expect(page.status).toBe(200);
    // Embedded static files carry the security headers, and the page's stylesheet is a file (the CSP forbids inline styles).
    expect(page.headers.get("content-security-policy")).toContain("style-src 'self'");
    const css = await fetch(`http://127.0.0.1:${port}/demo.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get("x-content-type-options")).toBe("nosniff");
    // The front ends are built into the binary: the widget and the agent console are served without src/web.
    for (const path of ["/widget.js", "/agent", "/agent/app.js", "/agent/app.css", "/chat"]) {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      expect({ path, status: res.status, bytes: (await res.arrayBuffer()).byteLength > 100 }).toEqual({ path, status: 200, bytes: true });
    }
    // plugins/example.ts, written by init, is loaded from disk by the binary and answers greetings.
    expect(stderr()).toContain('"plugin":"example-greeting"');
    const { c } = await visitor(`ws://127.0.0.1:${port}`, { lang: "en" });
    c.send({ type: "send", client_id: "greet-1", text: "hello" });
    expect((await c.nextType("message", (f) => f.from === "bot")).text).toContain("virtual assistant");
    // and the embedded demo knowledge answers verbatim.
    c.send({ type: "send", client_id: "ask-1", text: "怎么开发票" });
    expect((await c.nextType("message", (f) => f.from === "bot")).text).toContain("申请开票");
    await c.close();

    proc.kill("SIGTERM");
    expect(await proc.exited, stderr()).toBe(0);

    const db = new Database(join(site, "data", "kefu.db"), { readonly: true });
    expect(db.query<{ integrity_check: string }, []>("PRAGMA integrity_check").get()?.integrity_check).toBe("ok");
    const version = db.query<{ value: string }, []>("SELECT value FROM meta WHERE key = 'schema_version'").get();
    expect(Number(version?.value)).toBeGreaterThan(0);
    db.close();
    // The WAL was checkpointed into the main file on shutdown.
    expect(existsSync(join(site, "data", "kefu.db-wal")) ? Bun.file(join(site, "data", "kefu.db-wal")).size : 0).toBe(0);
  }, 60_000); // a build, then a server started and stopped: ~5 s here, more on a busy machine (CI timed out once at 5 s)
});
