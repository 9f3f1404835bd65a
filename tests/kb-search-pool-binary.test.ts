import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { waitForStart } from "./helpers/process";
import { visitor } from "./helpers/ws-client";

/**
 * The compiled binary runs the knowledge-base search workers (src/kb/search-pool.ts) from its embedded
 * entrypoint (kb/search-worker.js, scripts/build.ts): the worker opens the database read-only, loads sqlite-vec
 * from the path the main thread copied it to, and the demo knowledge still answers; the WAL is still folded
 * into the main file at shutdown with the worker's connection gone.
 */
const root = resolve(import.meta.dir, "..");
const work = mkdtempSync(join(tmpdir(), "kefu-bin-pool-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("single binary with search workers", () => {
  test(
    "the search worker starts from the binary and the demo knowledge answers",
    async () => {
      const built = join(work, "build", "kefu");
      const build = Bun.spawnSync([process.execPath, "scripts/build.ts", "--outfile", built], { cwd: root, stdout: "pipe", stderr: "pipe" });
      expect(build.exitCode, build.stderr.toString()).toBe(0);
      const site = join(work, "site");
      mkdirSync(site, { recursive: true });
      const exe = join(site, "kefu");
      copyFileSync(built, exe);
      const env = { PATH: "/usr/bin:/bin", HOME: site, KEFU_SERVER_PORT: "0", KEFU_SERVER_HOST: "127.0.0.1" };
      const init = Bun.spawnSync([exe, "init"], { cwd: site, env, stdout: "pipe", stderr: "pipe" });
      expect(init.exitCode, init.stderr.toString()).toBe(0);
      // One worker whatever the default and the machine's cores ("auto" is 0 on a one-core machine).
      const config = join(site, "config.toml");
      const text = await Bun.file(config).text();
      expect(text).toMatch(/^search_workers = .*$/m);
      await Bun.write(config, text.replace(/^search_workers = .*$/m, "search_workers = 1"));
      const proc = Bun.spawn([exe, "-c", "config.toml"], { cwd: site, env, stdout: "ignore", stderr: "pipe" });
      const { port, stderr } = await waitForStart(proc);
      for (let i = 0; i < 200 && !stderr().includes("knowledge-base search worker ready"); i++) await Bun.sleep(25);
      expect(stderr()).toContain("knowledge-base search worker ready");
      const { c } = await visitor(`ws://127.0.0.1:${port}`, { lang: "zh" });
      c.send({ type: "send", client_id: "ask-1", text: "怎么开发票" });
      expect((await c.nextType("message", (f) => f.from === "bot")).text).toContain("申请开票");
      c.send({ type: "send", client_id: "ask-2", text: "发票怎么开呢" });
      expect((await c.nextType("message", (f) => f.from === "bot")).text.length).toBeGreaterThan(0);
      await c.close();
      expect(stderr()).not.toContain("search worker lost");
      proc.kill("SIGTERM");
      expect(await proc.exited, stderr()).toBe(0);
      const wal = join(site, "data", "kefu.db-wal");
      expect(existsSync(wal) ? Bun.file(wal).size : 0).toBe(0);
    },
    120_000,
  );
});
