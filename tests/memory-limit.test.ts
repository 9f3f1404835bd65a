import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createMemoryLimit, memoryLimitUnavailable } from "../bench/lib/memory-cgroup";
import { waitForStart } from "./helpers/process";
import { cliEntry } from "./helpers/server";

// An operator bounds kefu's memory with systemd MemoryMax= or docker -m (docs/operations.md): the server
// starts inside that limit and says what it runs under, in its start-up line and on /metrics. Needs a
// writable memory cgroup beside this process (root); skipped with the reason otherwise.
const unavailable = memoryLimitUnavailable();
if (unavailable) console.warn(`tests/memory-limit: skipped, no memory cgroup could be made (${unavailable})`);
const TOKEN = "memory-limit-test-token-0123456789";
const dir = mkdtempSync(join(tmpdir(), "kefu-memlimit-"));
const configPath = join(dir, "config.toml");
writeFileSync(configPath, `[server]\nhost = "127.0.0.1"\nport = 0\n[storage]\ndir = "${join(dir, "data")}"\n[log]\nlevel = "info"\nrequests = false\n[metrics]\ntoken = "${TOKEN}"\n`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(unavailable !== null)("a server under a memory limit", () => {
  test("reports the limit it runs under: memory_limit_mb in 'kefu started', kefu_process_memory_limit_bytes on /metrics", async () => {
    const limit = createMemoryLimit(300);
    if ("error" in limit) throw new Error(limit.error);
    const proc = Bun.spawn(["sh", "-c", 'echo $$ > "$1" && shift && exec "$@"', "sh", limit.procsFile, process.execPath, cliEntry, "serve", "-c", configPath], {
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
    });
    try {
      const { port, stderr } = await waitForStart(proc);
      const started = JSON.parse(stderr().split("\n").find((l) => l.includes('"kefu started"'))!);
      expect(started.memory_limit_mb).toBe(300);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
      expect(metrics).toMatch(new RegExp(`^kefu_process_memory_limit_bytes ${300 * 2 ** 20}$`, "m"));
    } finally {
      proc.kill("SIGTERM");
      const kill = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await proc.exited;
      clearTimeout(kill);
      limit.remove();
    }
  }, 30_000);

  test("a limit only on a parent cgroup (a slice's MemoryMax=): one warning line that names it, no memory_limit_mb", async () => {
    const limit = createMemoryLimit(300);
    if ("error" in limit) throw new Error(limit.error);
    const parent = dirname(limit.procsFile);
    const child = join(parent, "kefu");
    // v2: a cgroup's children get the memory controller only when it delegates it.
    if (limit.version === "v2") writeFileSync(join(parent, "cgroup.subtree_control"), "+memory");
    mkdirSync(child);
    const proc = Bun.spawn(["sh", "-c", 'echo $$ > "$1" && shift && exec "$@"', "sh", join(child, "cgroup.procs"), process.execPath, cliEntry, "serve", "-c", configPath], {
      stdin: "ignore",
      stdout: "ignore",
      stderr: "pipe",
    });
    try {
      const { stderr } = await waitForStart(proc);
      const lines = stderr().split("\n").filter(Boolean).map((l) => JSON.parse(l));
      const warns = lines.filter((l) => l.level === "warn" && String(l.msg).includes("parent cgroup"));
      expect(warns).toHaveLength(1);
      expect(warns[0]).toMatchObject({ parent_limit_mb: 300 });
      expect(lines.find((l) => l.msg === "kefu started").memory_limit_mb).toBeUndefined();
    } finally {
      proc.kill("SIGTERM");
      const kill = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await proc.exited;
      clearTimeout(kill);
      try {
        rmdirSync(child);
      } catch {
        // already gone
      }
      limit.remove();
    }
  }, 30_000);
});
