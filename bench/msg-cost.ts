/**
 * CPU time the server spends per visitor message (issue 13), measured in-process: the server runs in this
 * process (src/server/start.ts on a fresh data dir with the demo knowledge base, calibrated, no LLM), the
 * load client in a child process, so `process.cpuUsage()` over N messages is the server's cost alone
 * (every thread of this process: the event loop, SQLite, GC). CPU time is robust on a busy machine where
 * wall-clock throughput is not.
 *
 *   bun bench/msg-cost.ts                      cached (the same question) and distinct, 3 rounds each
 *   MODES=same N=20000 bun bench/msg-cost.ts   one mode, more messages per round
 *   bun --cpu-prof-md --cpu-prof-dir=/tmp/prof bench/msg-cost.ts      with a CPU profile of the server
 *
 * The client: SESSIONS sessions (default 500, new visitors each round, opened before the measurement), each
 * sends a question, waits for the bot's reply, sends the next (closed loop, so at most SESSIONS answers are
 * in flight and nothing is shed); a round of N messages is N / SESSIONS messages per conversation (20 by
 * default: conversations as long as real ones, since some lookups grow with a conversation's length).
 * SEARCH_WORKERS=0|1|…|auto sets `[kb] search_workers` (default: the config's default, auto); the main thread's own
 * CPU per message is reported beside the process's (/proc, Linux): with search workers, the bound on throughput.
 * SYNC_OFF=1 (diagnostic) runs SQLite at synchronous=OFF: the cost without the commits' fsync. Reported: CPU µs per
 * message (user + system), per round and the median; the wall time is shown but means little here. Also per thread
 * (Linux /proc: the main thread, the Worker threads — the knowledge-base search workers —, the GC's HeapHelper
 * threads, the JIT, and the rest: Bun's I/O pool, where the commits' fdatasync runs) and, with SQL=1, the main
 * thread's time in each SQL statement per message (bun:sqlite's query/prepare timed; a diagnostic: it adds its own cost).
 * Writes nothing to bench/results unless --result or RESULT=1 (then msg-cost-<date>.json/.md, and latest.md rebuilt with it as "Where the time goes"; `bun bench/run.ts msg-cost`).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";

const CHILD = process.argv[2] === "--client";

if (CHILD) await client();
else await main();

async function main() {
  const sqlStats = process.env.SQL === "1" ? await timeStatements() : null;
  const { defaultConfig } = await import("../src/config/load.ts");
  const { createLogger } = await import("../src/log/logger.ts");
  const { startKefu } = await import("../src/server/start.ts");
  const { loadPhrasings, cachedQuestion } = await import("./load/phrasings.ts");

  const N = Number(process.env.N ?? 10_000);
  const ROUNDS = Number(process.env.ROUNDS ?? 3);
  const SESSIONS = Number(process.env.SESSIONS ?? 500);
  const MODES = (process.env.MODES ?? "same,distinct").split(",") as ("same" | "distinct")[];

  const dir = mkdtempSync(join(tmpdir(), "kefu-msg-cost-"));
  const config = defaultConfig() as Record<string, Record<string, unknown>>;
  Object.assign(config.server!, { host: "127.0.0.1", port: 0 });
  Object.assign(config.storage!, { dir: join(dir, "data") });
  Object.assign(config.log!, { level: "info", requests: false });
  if (process.env.SEARCH_WORKERS) config.kb!.search_workers = process.env.SEARCH_WORKERS === "auto" ? "auto" : Number(process.env.SEARCH_WORKERS);
  Object.assign(config.chat!, {
    bot_misses_before_handoff: 0,
    rate_burst: 100_000,
    rate_per_second: 100_000,
    max_sockets_per_ip: 1_000_000,
    new_visitors_per_ip_per_minute: 1_000_000,
    frame_burst: 100_000,
    frames_per_second: 100_000,
  });
  const kefu = await startKefu({ config: config as never, baseDir: dir, log: createLogger({ level: "warn", write: () => {} }) });
  // The first start fits the confidence calibration in the background: wait until this process is quiet.
  await quiet();
  const phrasings = loadPhrasings();
  const child = Bun.spawn([process.execPath, import.meta.path, "--client"], {
    stdout: "inherit",
    stderr: "inherit",
    ipc: (m: { kind: string; sent?: number; ms?: number }) => pending?.(m),
  });
  let pending: ((m: { kind: string; sent?: number; ms?: number }) => void) | null = null;
  const ask = (m: object) =>
    new Promise<{ kind: string; sent?: number; ms?: number }>((resolve) => {
      pending = resolve;
      child.send(m);
    });
  await ask({ kind: "init", url: `ws://127.0.0.1:${kefu.port}/ws`, texts: phrasings.texts, same: cachedQuestion });
  for (const pragma of (process.env.PRAGMAS ?? "").split(",").filter(Boolean)) kefu.ctx.db.run(`PRAGMA ${pragma}`); // experiments
  if (process.env.SYNC_OFF === "1") kefu.ctx.db.run("PRAGMA synchronous = OFF"); // diagnostic only: the cost without fsync

  const results: Record<string, { us: number[]; mainUs: number[]; wallMs: number[]; threads: Record<string, number>[]; sql?: [string, number, number][] }> = {};
  let offset = 0;
  for (const mode of MODES) {
    results[mode] = { us: [], mainUs: [], wallMs: [], threads: [] };
    // A warm-up round first: JIT, the answer cache (same), SQLite's page cache.
    await ask({ kind: "open", sessions: SESSIONS });
    await ask({ kind: "run", mode, n: Math.min(N, 2000), offset });
    offset += 2000;
    for (let r = 0; r < ROUNDS; r++) {
      // New visitors each round, so conversations stay as short as real ones (N / SESSIONS messages each).
      await ask({ kind: "open", sessions: SESSIONS });
      await Bun.sleep(300); // the old sockets' close handlers run before the measurement
      Bun.gc(true);
      // STRACE=1 (diagnostic): syscalls of this process during the first measured round, per message.
      const strace = process.env.STRACE === "1" && r === 0 ? Bun.spawn(["strace", "-c", "-f", "-p", String(process.pid), "-o", `/tmp/msg-cost-strace-${mode}.txt`], { stderr: "ignore" }) : null;
      if (strace) await Bun.sleep(500);
      sqlStats?.clear();
      const th0 = threadCpuUs();
      const c0 = process.cpuUsage();
      const m0 = mainThreadCpuUs();
      const t0 = performance.now();
      const done = await ask({ kind: "run", mode, n: N, offset });
      const c = process.cpuUsage(c0);
      const mainUs = (mainThreadCpuUs() - m0) / done.sent!;
      const threads = perMessage(threadCpuUs(), th0, done.sent!);
      results[mode]!.threads.push(threads);
      if (sqlStats && r === 0) results[mode]!.sql = [...sqlStats].map(([k, v]) => [k, v.n / done.sent!, v.ns / 1e3 / done.sent!] as [string, number, number]).sort((a, b) => b[2] - a[2]).slice(0, 25);
      offset += N;
      if (strace) {
        strace.kill("SIGINT");
        await strace.exited;
        console.log(`syscalls of the round (${N} messages): /tmp/msg-cost-strace-${mode}.txt`);
      }
      const us = (c.user + c.system) / done.sent!;
      results[mode]!.us.push(us);
      results[mode]!.mainUs.push(mainUs);
      results[mode]!.wallMs.push(performance.now() - t0);
      console.log(`${mode} round ${r + 1}: ${done.sent} messages, ${us.toFixed(1)} µs CPU each (user ${(c.user / done.sent!).toFixed(1)}, sys ${(c.system / done.sent!).toFixed(1)}; main thread ${mainUs.toFixed(0)}; by thread ${Object.entries(threads).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(", ")}), ${Math.round(done.sent! / ((performance.now() - t0) / 1000))} msg/s wall`);
    }
  }
  child.send({ kind: "close" });
  await child.exited;
  const stats = kefu.ctx.answer.pipeline.stats();
  const pool = kefu.ctx.kb.searchPoolStatus();
  await kefu.stop("bench");
  rmSync(dir, { recursive: true, force: true });
  console.log("\nmedian CPU µs per message (server process, all threads):");
  for (const [mode, r] of Object.entries(results)) {
    console.log(`  ${mode}: ${median(r.us).toFixed(1)}  (rounds: ${r.us.map((x) => x.toFixed(1)).join(", ")}); main thread ${median(r.mainUs).toFixed(0)}`);
  }
  for (const [mode, r] of Object.entries(results)) {
    if (!r.sql) continue;
    console.log(`\nmain thread's SQL per ${mode} message (first round): calls, µs`);
    for (const [k, n, us] of r.sql) console.log(`  ${n.toFixed(2).padStart(5)} ${us.toFixed(1).padStart(7)}  ${k}`);
  }
  console.log(`search pool: ${pool ? JSON.stringify(pool) : "off"}`);
  if (stats) console.log(`answer paths: ${JSON.stringify(stats.paths)}`);
  if (process.env.RESULT === "1" || process.argv.includes("--result")) {
    const { machineInfo, writeResult } = await import("./lib/machine.ts");
    const machine = machineInfo();
    const files = await writeResult("msg-cost", { machine, load_average: loadavg(), n: N, rounds: ROUNDS, sessions: SESSIONS, results }, formatMd(results, machine));
    // latest.md shows it as "Where the time goes".
    (await import("./load/common.ts")).writeLatest();
    console.log(`wrote ${files.join(", ")}, bench/results/latest.md`);
  }
}

type ModeResult = { us: number[]; mainUs: number[]; threads: Record<string, number>[]; sql?: [string, number, number][] };
function formatMd(results: Record<string, ModeResult>, m: { cpu: string; cores: number; bun: string; date: string }) {
  const rows = Object.entries(results).map(([mode, r]) => `| ${mode} | ${median(r.us).toFixed(1)} | ${r.us.map((x) => x.toFixed(1)).join(", ")} |`);
  const groups = [...new Set(Object.values(results).flatMap((r) => r.threads.flatMap((t) => Object.keys(t))))];
  const threadRows = Object.entries(results).map(
    ([mode, r]) => `| ${mode} | ${groups.map((g) => median(r.threads.map((t) => t[g] ?? 0)).toFixed(0)).join(" | ")} |`,
  );
  const sql = Object.entries(results).flatMap(([mode, r]) =>
    r.sql
      ? [
          "",
          `Main thread's SQL per ${mode} message (first round; SQL=1 times every statement, which adds its own cost):`,
          "",
          "| statement | calls / message | µs / message |",
          "|---|---|---|",
          ...r.sql.map(([k, n, us]) => `| \`${k.replace(/\|/g, "\\|")}\` | ${n.toFixed(2)} | ${us.toFixed(1)} |`),
        ]
      : [],
  );
  return [
    `# Server CPU per visitor message (${m.date})`,
    "",
    `Machine: ${m.cpu}, ${m.cores} cores, Bun ${m.bun}; load average ${loadavg().map((x) => x.toFixed(2)).join(" / ")} at the end.`,
    "`bun bench/msg-cost.ts`: process.cpuUsage() of the in-process server over each round's messages (closed loop over real sockets, demo knowledge base, no LLM).",
    "",
    "| mode | CPU µs / message (median) | rounds |",
    "|---|---|---|",
    ...rows,
    "",
    ...Object.entries(results).map(([mode, r]) => {
      const us = median(r.us);
      const ceiling = Math.round((m.cores * 1e6) / us);
      const goal = mode === "same" ? null : 3000;
      return `- ${mode}: at ${us.toFixed(0)} µs of CPU per message, ${m.cores} cores top out at ${ceiling.toLocaleString("en-US")} msg/s with every core busy and nothing else running (the load client shares them in the load benchmarks)${goal ? `; ${goal.toLocaleString("en-US")} msg/s (issue 13) needs at most ${Math.round((m.cores * 1e6) / goal)} µs per message, ${(us / ((m.cores * 1e6) / goal)).toFixed(1)}× less than now` : ""}.`;
    }),
    "",
    "By thread (µs per message, median of the rounds; /proc): main = the event loop (protocol, storage, answer pipeline, query embedding); Worker = the knowledge-base search workers (retrieval and scoring); HeapHelper = GC; other = Bun's I/O pool (the commits' fdatasync) and the rest.",
    "",
    `| mode | ${groups.join(" | ")} |`,
    `|---|${groups.map(() => "---").join("|")}|`,
    ...threadRows,
    ...sql,
  ].join("\n");
}

/** CPU µs of every thread of this process so far, by thread (tid → comm and µs); empty off Linux. */
function threadCpuUs(): Map<string, { comm: string; us: number }> {
  const out = new Map<string, { comm: string; us: number }>();
  try {
    for (const tid of readdirSync("/proc/self/task")) {
      try {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
        const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
        const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        out.set(tid, { comm, us: ((Number(f[11]) + Number(f[12])) * 1e6) / 100 });
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    // not Linux
  }
  return out;
}

/** CPU µs per message by thread group (main, Worker, HeapHelper, JITWorker, other) between two snapshots. */
function perMessage(now: Map<string, { comm: string; us: number }>, before: Map<string, { comm: string; us: number }>, n: number): Record<string, number> {
  const groupOf = (tid: string, comm: string) => (tid === String(process.pid) ? "main" : ["Worker", "HeapHelper", "JITWorker"].includes(comm) ? comm : "other");
  const out: Record<string, number> = { main: 0, Worker: 0, HeapHelper: 0, JITWorker: 0, other: 0 };
  for (const [tid, t] of now) out[groupOf(tid, t.comm)]! += (t.us - (before.get(tid)?.us ?? 0)) / n;
  return out;
}

/** Times every statement bun:sqlite runs in this thread (diagnostic, SQL=1): per statement text, calls and ns. */
async function timeStatements() {
  const { Database } = await import("bun:sqlite");
  const stats = new Map<string, { n: number; ns: number }>();
  const wrap = (stmt: Record<string, unknown>, sql: string) => {
    const key = sql.replace(/\s+/g, " ").trim().slice(0, 100);
    for (const m of ["get", "all", "run", "values"]) {
      const f = (stmt[m] as (...a: unknown[]) => unknown).bind(stmt);
      stmt[m] = (...a: unknown[]) => {
        const t = Bun.nanoseconds();
        try {
          return f(...a);
        } finally {
          const s = stats.get(key) ?? { n: 0, ns: 0 };
          s.n++;
          s.ns += Bun.nanoseconds() - t;
          stats.set(key, s);
        }
      };
    }
    return stmt;
  };
  const wrapped = new WeakSet<object>();
  const proto = Database.prototype as unknown as Record<string, (...a: unknown[]) => Record<string, unknown>>;
  const query = proto.query!;
  const prepare = proto.prepare!;
  proto.query = function (this: unknown, sql: unknown) {
    const stmt = query.call(this, sql);
    if (!wrapped.has(stmt)) {
      wrapped.add(stmt);
      wrap(stmt, String(sql));
    }
    return stmt;
  };
  proto.prepare = function (this: unknown, sql: unknown, ...rest: unknown[]) {
    return wrap(prepare.call(this, sql, ...rest), String(sql));
  };
  return stats;
}

/** CPU time of the main thread alone (user + system, µs; 10-ms ticks), from /proc; 0 elsewhere. */
function mainThreadCpuUs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1e6) / 100;
  } catch {
    return 0;
  }
}

function median(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

/** Resolves once this process used under 5% of a core for 1.5 s in a row (or after 60 s). */
async function quiet() {
  const until = performance.now() + 60_000;
  let calm = 0;
  while (calm < 3 && performance.now() < until) {
    const c0 = process.cpuUsage();
    await Bun.sleep(500);
    const c = process.cpuUsage(c0);
    calm = c.user + c.system < 25_000 ? calm + 1 : 0;
  }
}

// ---- the client (child process) ----

async function client() {
  let url = "";
  let texts: string[] = [];
  let same = "";
  const socks: { ws: WebSocket; next: (() => void) | null }[] = [];
  process.on("message", async (m: { kind: string; [k: string]: unknown }) => {
    if (m.kind === "init") {
      url = m.url as string;
      texts = (m.texts as string[]).map((t) => JSON.stringify(t));
      same = JSON.stringify(m.same as string);
      process.send!({ kind: "ready" });
    } else if (m.kind === "open") {
      for (const s of socks.splice(0)) s.ws.close();
      await Promise.all(Array.from({ length: m.sessions as number }, () => openOne()));
      process.send!({ kind: "opened" });
    } else if (m.kind === "run") {
      const t0 = performance.now();
      const sent = await run(m.mode as string, m.n as number, m.offset as number);
      process.send!({ kind: "ran", sent, ms: performance.now() - t0 });
    } else if (m.kind === "close") {
      for (const s of socks) s.ws.close();
      process.exit(0);
    }
  });

  function openOne() {
    return new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(url);
      const s = { ws, next: null as (() => void) | null };
      ws.onopen = () => ws.send('{"type":"hello","lang":"en"}');
      ws.onerror = (e) => reject(e);
      ws.onmessage = (ev) => {
        const raw = ev.data as string;
        // Only the frame type matters: a welcome, then each question's ack and the bot's message.
        if (raw.startsWith('{"type":"welcome"')) {
          socks.push(s);
          resolve();
        } else if (raw.startsWith('{"type":"message"') && (raw.includes('"from":"bot"') || raw.includes('"from":"system"'))) {
          const n = s.next;
          s.next = null;
          n?.();
        } else if (raw.startsWith('{"type":"error"')) console.error("error frame:", raw);
      };
    });
  }

  let uniq = 0;
  function run(mode: string, n: number, offset: number) {
    return new Promise<number>((resolve) => {
      let sent = 0;
      let answered = 0;
      const sendOn = (s: (typeof socks)[number]) => {
        if (sent >= n) return;
        const i = offset + sent++;
        const text = mode === "same" ? same : texts[i % texts.length]!;
        s.next = () => {
          answered++;
          if (answered === n) resolve(n);
          else sendOn(s);
        };
        s.ws.send(`{"type":"send","client_id":"m${uniq++}","text":${text}}`);
      };
      for (const s of socks) sendOn(s);
    });
  }
}
