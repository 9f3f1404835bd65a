/**
 * The servers under test, each in its own process with the open-file limit raised to the hard limit:
 * kefu (the compiled binary from `npm run build`, else from source, noted), on the demo knowledge base with
 * no LLM and a fresh data dir in /tmp; the raw Bun WebSocket echo; echo + SQLite group commit; a trivial
 * Bun HTTP route (for `rest`). Also reads a process's RSS and CPU time from /proc.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort, waitListening } from "../lib/net";
import type { MemoryLimit } from "../lib/memory-cgroup";

const root = resolve(import.meta.dir, "../..");
const clockTicks = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;

export type ServerName = "kefu" | "echo" | "echo-sqlite" | "trivial-http";

export interface Server {
  name: ServerName;
  port: number;
  pid: number;
  /** How kefu was run: "binary dist/kefu" or "source (…why)". */
  how: string;
  fdLimit: number;
  /** The last lines the server wrote to stderr (for a crash report). */
  tail: () => string;
  exited: () => number | null;
  stop: (keepDataAs?: string) => Promise<void>;
}

/**
 * Runs `cmd` through sh with `ulimit -n` raised to 65536, else as far as the hard limit allows; with
 * `cgroupProcs`, the process joins that cgroup before it starts (a memory limit is read at start-up).
 */
export function spawnRaised(cmd: string[], extra: { ipc?: (m: never) => void; cgroupProcs?: string } = {}) {
  const { cgroupProcs, ...spawnExtra } = extra;
  // The cgroup's procs file is the first argument ("" for none), so no path is pasted into the script.
  const script = 'if [ -n "$1" ]; then echo $$ > "$1" || exit 97; fi; shift; ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"';
  return Bun.spawn(["sh", "-c", script, "sh", cgroupProcs ?? "", ...cmd], {
    ...spawnExtra,
    cwd: root,
    stdout: "pipe",
    stderr: "pipe",
  });
}

export function fdLimitOf(pid: number): number {
  const m = /Max open files\s+(\d+)/.exec(readFileSync(`/proc/${pid}/limits`, "utf8"));
  return m ? Number(m[1]) : NaN;
}

export function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Math.round(Number(m[1]) / 102.4) / 10 : NaN;
  } catch {
    return NaN;
  }
}

/** User + system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return NaN;
  }
}

/**
 * Waits until the process has used under 10% of a core for 3 s in a row (kefu fits its confidence
 * calibration in the background 2 s after the first start, for up to 30 s); returns the seconds waited.
 */
export async function waitQuiet(pid: number, maxMs = 60_000, calmWindows = 6) {
  const t0 = performance.now();
  let calm = 0;
  while (performance.now() < t0 + maxMs && calm < calmWindows) {
    const c0 = cpuSeconds(pid);
    await Bun.sleep(500);
    calm = cpuSeconds(pid) - c0 < 0.05 ? calm + 1 : 0;
  }
  return Math.round((performance.now() - t0) / 100) / 10;
}

function drain(stream: ReadableStream<Uint8Array>) {
  let tail: string[] = [];
  void (async () => {
    const dec = new TextDecoder();
    for await (const chunk of stream) {
      tail.push(...dec.decode(chunk).split("\n").filter(Boolean));
      if (tail.length > 200) tail = tail.slice(-40);
    }
  })();
  return () => tail.slice(-40).join("\n");
}

let built: { how: string } | null = null;

/** `npm run build` once per run; on failure the source is run instead and the reason noted. */
function buildKefu(skip: boolean): { how: string } {
  if (built) return built;
  if (skip) built = existsSync(join(root, "dist/kefu")) ? { how: "binary dist/kefu (existing build, --no-build)" } : { how: "source (no dist/kefu and --no-build)" };
  else {
    const p = Bun.spawnSync([process.execPath, "scripts/build.ts"], { cwd: root, stdout: "pipe", stderr: "pipe" });
    built = p.exitCode === 0 ? { how: "binary dist/kefu (built for this run)" } : { how: `source (npm run build failed: ${p.stderr.toString().trim().split("\n").pop()})` };
  }
  return built;
}

let template: string | null = null;

/**
 * Every measured kefu starts on a copy of one data dir made for this run: created, the demo knowledge
 * loaded and its calibration fitted (by a first start that is left to go quiet, then stopped), so no
 * measurement shares the cores with the first start's background fit.
 */
async function dataTemplate(noBuild: boolean): Promise<string> {
  if (template) return template;
  // Kept for later scenarios of the same build (keyed by the binary's content); from source, per process.
  const bin = join(root, "dist/kefu");
  const key = buildKefu(noBuild).how.startsWith("binary") ? Bun.hash(readFileSync(bin)).toString(36) : `src-${process.pid}`;
  const dir = join(tmpdir(), `kefu-load-template-${key}`);
  if (!existsSync(join(dir, "data"))) {
    const first = await startKefu({ noBuild, fresh: true });
    await first.stop(join(dir, "data"));
    if (key.startsWith("src-")) process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  template = dir;
  return dir;
}

export async function startKefu(opts: { noBuild?: boolean; extraConfig?: string; fresh?: boolean; memoryLimit?: MemoryLimit } = {}): Promise<Server> {
  const { how } = buildKefu(opts.noBuild ?? false);
  const from = opts.fresh ? null : await dataTemplate(opts.noBuild ?? false);
  const work = mkdtempSync(join(tmpdir(), "kefu-load-"));
  if (from) cpSync(join(from, "data"), join(work, "data"), { recursive: true });
  const port = await freePort();
  const config = join(work, "config.toml");
  writeFileSync(
    config,
    `[server]
host = "127.0.0.1"
port = ${port}
[storage]
dir = "${join(work, "data")}"
[log]
level = "info"
requests = false
[answer]
ask_open = true
[chat]
bot_misses_before_handoff = 0
# One load client address plays thousands of visitors: lift the per-address and per-visitor limits.
rate_burst = 10000
rate_per_second = 1000
max_sockets_per_ip = 1000000
new_visitors_per_ip_per_minute = 1000000
frame_burst = 100000
frames_per_second = 100000
${opts.extraConfig ?? ""}
`,
  );
  const cmd = how.startsWith("binary") ? [join(root, "dist/kefu"), "serve", "-c", config] : [process.execPath, join(root, "src/cli/main.ts"), "serve", "-c", config];
  const proc = spawnRaised(cmd, { cgroupProcs: opts.memoryLimit?.procsFile });
  void new Response(proc.stdout).text();
  const tail = drain(proc.stderr as ReadableStream<Uint8Array>);
  try {
    await waitListening(`http://127.0.0.1:${port}/healthz`, 30_000);
  } catch (e) {
    proc.kill();
    const t = setTimeout(() => proc.kill("SIGKILL"), 10_000);
    await proc.exited;
    clearTimeout(t);
    opts.memoryLimit?.remove();
    throw new Error(`kefu did not start: ${(e as Error).message}\n${tail()}`);
  }
  const quietAfter = await waitQuiet(proc.pid, 60_000, from ? 2 : 6);
  return {
    name: "kefu",
    port,
    pid: proc.pid,
    how: `${how}, ${from ? "on a copy of this run's calibrated data dir" : "on a new data dir"}${opts.memoryLimit ? `, in a memory cgroup (${opts.memoryLimit.version}) limited to ${opts.memoryLimit.mib} MiB` : ""}; quiet ${quietAfter} s after start`,
    fdLimit: fdLimitOf(proc.pid),
    tail,
    exited: () => proc.exitCode,
    /** Stops the server; `keepDataAs` moves its data dir there instead of deleting it. */
    stop: async (keepDataAs?: string) => {
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await proc.exited;
      clearTimeout(t);
      opts.memoryLimit?.remove();
      if (keepDataAs) cpSync(join(work, "data"), keepDataAs, { recursive: true });
      rmSync(work, { recursive: true, force: true });
    },
  };
}

async function startScript(name: ServerName, script: string, args: string[], work?: string): Promise<Server> {
  const proc = spawnRaised([process.execPath, join(import.meta.dir, script), ...args]);
  const tail = drain(proc.stderr as ReadableStream<Uint8Array>);
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  const { value } = await reader.read();
  if (!value) throw new Error(`${name} did not start:\n${tail()}`);
  const port = (JSON.parse(new TextDecoder().decode(value)) as { port: number }).port;
  return {
    name,
    port,
    pid: proc.pid,
    how: `bun ${script}`,
    fdLimit: fdLimitOf(proc.pid),
    tail,
    exited: () => proc.exitCode,
    stop: async () => {
      proc.kill("SIGTERM");
      await proc.exited;
      if (work) rmSync(work, { recursive: true, force: true });
    },
  };
}

export function startEcho(sqlite: boolean): Promise<Server> {
  if (!sqlite) return startScript("echo", "echo-server.ts", []);
  const work = mkdtempSync(join(tmpdir(), "kefu-echo-"));
  return startScript("echo-sqlite", "echo-server.ts", ["--sqlite", work], work);
}

export function startTrivialHttp(): Promise<Server> {
  return startScript("trivial-http", "trivial-http.ts", []);
}

export function startServer(name: ServerName, opts: { noBuild?: boolean; memoryLimit?: MemoryLimit } = {}): Promise<Server> {
  if (name === "kefu") return startKefu(opts);
  if (name === "trivial-http") return startTrivialHttp();
  return startEcho(name === "echo-sqlite");
}

/** The server names a scenario runs, as labels for tables. */
export const label: Record<ServerName, string> = {
  kefu: "kefu",
  echo: "raw Bun WS echo",
  "echo-sqlite": "echo + SQLite group commit",
  "trivial-http": "trivial Bun route",
};
