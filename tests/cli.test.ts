import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cliEntry } from "./helpers/server";

const root = mkdtempSync(join(tmpdir(), "kefu-cli-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Runs the CLI as a user would and returns exit code and output. */
async function kefu(args: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}) {
  const proc = Bun.spawn([process.execPath, cliEntry, ...args], {
    cwd: opts.cwd ?? root,
    env: { ...process.env, KEFU_LOG_LEVEL: "warn", ...opts.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), opts.timeoutMs ?? 20_000);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

function configFile(text: string): string {
  const p = join(root, `c-${Math.random().toString(36).slice(2)}.toml`);
  writeFileSync(p, text);
  return p;
}

/** A start-up failure is one line on stderr, no stack trace. */
function expectOneLineError(stderr: string, ...needles: string[]) {
  const lines = stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toStartWith("kefu: ");
  expect(stderr).not.toMatch(/\n\s+at /);
  for (const n of needles) expect(lines[0]).toContain(n);
}

describe("kefu CLI", () => {
  test("--version and --help", async () => {
    const v = await kefu(["--version"]);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const h = await kefu(["--help"]);
    expect(h.code).toBe(0);
    for (const c of ["serve", "init", "user"]) expect(h.stdout).toContain(c);
  });

  test("unknown command exits 2", async () => {
    const r = await kefu(["frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "frobnicate"');
  });

  test.each([
    ["unknown key", "[server]\nprot = 8080\n", ["server.prot"]],
    ["wrong type", '[server]\nport = "http"\n', ["server.port", '"http"', "an integer"]],
    ["port out of range", "[server]\nport = 99999\n", ["server.port = 99999", "from 0 to 65535"]],
  ])("bad config (%s) → exit 2 with one line naming the key", async (_name, text, needles) => {
    const r = await kefu(["serve", "-c", configFile(text)]);
    expect(r.code).toBe(2);
    expectOneLineError(r.stderr, ...needles);
  });

  test("port already in use → clear error, non-zero exit", async () => {
    const blocker = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("busy") });
    try {
      const r = await kefu(["serve"], { env: { KEFU_SERVER_HOST: "127.0.0.1", KEFU_SERVER_PORT: String(blocker.port), KEFU_STORAGE_DIR: join(root, "data-port") } });
      expect(r.code).not.toBe(0);
      expectOneLineError(r.stderr, "already in use", String(blocker.port));
    } finally {
      blocker.stop(true);
    }
  });

  test("unwritable data dir → clear error, non-zero exit", async () => {
    // A path below a regular file cannot be created even by root (chmod does not stop root).
    const blockingFile = join(root, "not-a-dir");
    writeFileSync(blockingFile, "x");
    const r = await kefu(["serve"], { env: { KEFU_SERVER_PORT: "0", KEFU_STORAGE_DIR: join(blockingFile, "data") } });
    expect(r.code).not.toBe(0);
    expectOneLineError(r.stderr, "storage.dir", "not a writable directory");
  });

  test("init writes config, data and plugins, prints the admin password once, never overwrites", async () => {
    const dir = join(root, "site");
    const r = await kefu(["init", dir]);
    expect(r.code).toBe(0);
    expect(existsSync(join(dir, "config.toml"))).toBe(true);
    expect(existsSync(join(dir, "data", "kefu.db"))).toBe(true);
    expect(existsSync(join(dir, "plugins", "example.ts"))).toBe(true);
    const password = /password (\S+)/.exec(r.stdout)?.[1];
    expect(password?.length).toBeGreaterThanOrEqual(16);
    // Stored only as a hash.
    expect(readFileSync(join(dir, "data", "kefu.db")).includes(Buffer.from(password!))).toBe(false);

    writeFileSync(join(dir, "config.toml"), "# mine\n");
    const again = await kefu(["init", dir]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain("--force");
    expect(readFileSync(join(dir, "config.toml"), "utf8")).toBe("# mine\n");
    const forced = await kefu(["init", dir, "--force"]);
    expect(forced.code).toBe(0);
    expect(readFileSync(join(dir, "config.toml"), "utf8")).toContain("[server]");
    expect(forced.stdout).not.toContain("created admin account"); // the admin exists already
  });

  test("user add / list / passwd", async () => {
    const cfg = configFile(`[storage]\ndir = "${join(root, "data-users")}"\n`);
    const add = await kefu(["user", "add", "alice", "--role", "agent", "-c", cfg]);
    expect(add.code).toBe(0);
    expect(add.stdout).toMatch(/added agent alice .*password: \S{20}/);
    const dup = await kefu(["user", "add", "alice", "--role", "agent", "-c", cfg]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain("already exists");
    const badRole = await kefu(["user", "add", "bob", "--role", "boss", "-c", cfg]);
    expect(badRole.code).toBe(2);
    const list = await kefu(["user", "list", "-c", cfg]);
    expect(list.stdout).toContain("alice\tagent");
    const pw = await kefu(["user", "passwd", "alice", "-c", cfg]);
    expect(pw.code).toBe(0);
  });

  test("user add --display-name: stored trimmed, listed, refused when empty or too long", async () => {
    const cfg = configFile(`[storage]\ndir = "${join(root, "data-display")}"\n`);
    const add = await kefu(["user", "add", "lin", "--role", "agent", "--display-name", "  小林 ", "-c", cfg]);
    expect(add.code).toBe(0);
    expect(add.stdout).toMatch(/added agent lin \(id \d+\), shown to visitors as "小林", password: \S{20}/);
    const plain = await kefu(["user", "add", "bo", "--role", "agent", "-c", cfg]);
    expect(plain.code).toBe(0);
    for (const bad of ["   ", "x".repeat(65), "a\nb"]) {
      const r = await kefu(["user", "add", "bad", "--role", "agent", "--display-name", bad, "-c", cfg]);
      expect({ bad, code: r.code }).toEqual({ bad, code: 2 });
      expect(r.stderr).toContain("--display-name");
    }
    // 64 characters (code points, not UTF-16 units) is the longest accepted.
    const longest = await kefu(["user", "add", "long", "--role", "agent", "--display-name", "😀".repeat(64), "-c", cfg]);
    expect(longest.code).toBe(0);
    const list = await kefu(["user", "list", "-c", cfg]);
    expect(list.stdout).toMatch(/^\d+\tlin\tagent\t小林$/m);
    expect(list.stdout).toMatch(/^\d+\tbo\tagent\t-$/m);
    expect(list.stdout).not.toContain("bad");
  });
});
