/**
 * Drives the load-client processes (bench/load/client.ts) and turns their samples into figures. Every
 * percentile is computed from all samples of all client processes in the window asked for (warm-up
 * excluded by the window); nothing is averaged. Also samples the server's RSS and CPU while a run lasts.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { percentile } from "../lib/machine";
import { COLS, C_ACK, C_ANSWER, C_FLAG, C_INTENDED, C_SENT, type Mode, type OpenReport, type RunReport, type Segment } from "./client";
import { cpuSeconds, fdLimitOf, rssMiB, spawnRaised, type Server } from "./servers";

export const ACK_TIMEOUT_MS = 10_000;
export const ANSWER_TIMEOUT_MS = 15_000;

export interface Run {
  samples: Float64Array;
  startAt: number;
  endAt: number;
  reports: RunReport[];
  /** [epoch ms, server RSS MiB] every 250 ms while messages were sent, and during the drain. */
  rss: [number, number][];
  serverCpuS: number; // server CPU seconds used while messages were sent (from /proc)
  clientCpuS: number[]; // each client process's CPU seconds over the same time (from /proc)
  sendSeconds: number;
}

type Pending = { resolve: (m: unknown) => void; kind: string };

export class LoadClients {
  private procs: ReturnType<typeof spawnRaised>[] = [];
  private waiting: Pending[][] = [];
  private runNo = 0;
  private dir = mkdtempSync(join(tmpdir(), "kefu-loadclient-"));
  sessions = 0;
  fdLimit = NaN;

  private constructor(readonly workers: number) {}

  static async start(url: string, workers: number): Promise<LoadClients> {
    const c = new LoadClients(workers);
    for (let w = 0; w < workers; w++) {
      c.waiting.push([]);
      const proc = spawnRaised([process.execPath, join(import.meta.dir, "client.ts")], {
        ipc: (m: { kind: string }) => {
          const q = c.waiting[w];
          const i = q.findIndex((p) => m.kind === p.kind);
          if (i >= 0) q.splice(i, 1)[0].resolve(m);
        },
      });
      void new Response(proc.stdout).text();
      void new Response(proc.stderr).text().then((t) => t.trim() && console.error(`load client ${w}: ${t.trim()}`));
      c.procs.push(proc);
    }
    await Promise.all(c.procs.map((_, w) => c.ask(w, { kind: "init", url, worker: w, workers }, "ready")));
    c.fdLimit = fdLimitOf(c.procs[0].pid);
    return c;
  }

  private ask<T>(w: number, msg: Record<string, unknown>, reply: string): Promise<T> {
    return new Promise<T>((resolve) => {
      this.waiting[w].push({ resolve: resolve as (m: unknown) => void, kind: reply });
      this.procs[w].send(msg);
    });
  }

  /** Opens sessions until `total` are open across the client processes; the time is this call's. */
  async open(total: number) {
    const t0 = performance.now();
    const per = (w: number) => Math.floor(total / this.workers) + (w < total % this.workers ? 1 : 0);
    const reps = await Promise.all(this.procs.map((_, w) => this.ask<OpenReport>(w, { kind: "open", sessions: per(w) }, "opened")));
    const added = reps.reduce((n, r) => n + r.opened, 0);
    this.sessions = reps.reduce((n, r) => n + r.sessions, 0);
    const seconds = (performance.now() - t0) / 1000;
    return { added, failed: reps.reduce((n, r) => n + r.failed, 0), seconds: round(seconds, 2), per_s: Math.round(added / seconds), open_sessions: this.sessions };
  }

  /** Sends the segments' schedule (open loop), waits for the answers, returns all samples. */
  async run(server: Server, segments: Segment[], mode: Mode, answerTimeoutMs = ANSWER_TIMEOUT_MS): Promise<Run> {
    const run = ++this.runNo;
    const startAt = Date.now() + 300;
    const sendMs = segments.reduce((n, s) => n + s.seconds, 0) * 1000;
    const rss: [number, number][] = [];
    const pids = [server.pid, ...this.procs.map((p) => p.pid)];
    let cpu0: number[] = [];
    let cpu1: number[] = [];
    const sampler = setInterval(() => {
      const t = Date.now();
      if (t >= startAt && !cpu0.length) cpu0 = pids.map(cpuSeconds);
      if (t >= startAt + sendMs && !cpu1.length) cpu1 = pids.map(cpuSeconds);
      if (t >= startAt) rss.push([t, rssMiB(server.pid)]);
    }, 250);
    const reports = await Promise.all(
      this.procs.map((_, w) =>
        this.ask<RunReport>(w, { kind: "run", run, segments, mode, startAt, answerTimeoutMs, file: join(this.dir, `w${w}-r${run}.f64`) }, "ran"),
      ),
    );
    clearInterval(sampler);
    if (!cpu1.length) cpu1 = pids.map(cpuSeconds);
    const used = pids.map((_, i) => cpu1[i] - cpu0[i]);
    const parts = this.procs.map((_, w) => new Float64Array(readFileSync(join(this.dir, `w${w}-r${run}.f64`)).buffer.slice(0)));
    const samples = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      samples.set(p, at);
      at += p.length;
    }
    return { samples, startAt, endAt: startAt + sendMs, reports, rss, serverCpuS: used[0], clientCpuS: used.slice(1), sendSeconds: sendMs / 1000 };
  }

  async close() {
    for (const p of this.procs) p.send({ kind: "close" });
    await Promise.all(this.procs.map((p) => p.exited));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export const round = (x: number, d = 2) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : null);

function pct(values: number[]) {
  const s = Float64Array.from(values).sort();
  const a = Array.from(s);
  return { n: a.length, p50: round(percentile(a, 50)), p95: round(percentile(a, 95)), p99: round(percentile(a, 99)), max: round(a[a.length - 1] ?? NaN) };
}

export interface Window {
  from: number; // epoch ms, by intended send time
  to: number;
}

/** Figures over the messages whose intended send time falls in `win`. */
export function summarize(run: Run, win: Window) {
  const s = run.samples;
  const ack: number[] = [];
  const answer: number[] = [];
  const lag: number[] = [];
  const e = { error_frames: 0, closed: 0, ack_timeouts: 0, not_sent: 0, unanswered: 0 };
  let n = 0;
  let acked = 0;
  for (let i = 0; i < s.length; i += COLS) {
    const t = s[i + C_INTENDED];
    if (t < win.from || t >= win.to) continue;
    n++;
    const flag = s[i + C_FLAG];
    if (flag === 3) {
      e.not_sent++;
      continue;
    }
    lag.push(s[i + C_SENT] - t);
    const a = s[i + C_ACK];
    if (a >= 0) {
      ack.push(a);
      acked++;
    }
    if (flag === 1) e.error_frames++;
    else if (a < 0 || a > ACK_TIMEOUT_MS) {
      if (flag === 2) e.closed++;
      else e.ack_timeouts++;
    } else if (s[i + C_ANSWER] >= 0) answer.push(s[i + C_ANSWER]);
    else if (flag === 2) e.closed++;
    else e.unanswered++;
  }
  const seconds = (win.to - win.from) / 1000;
  const errors = e.error_frames + e.closed + e.ack_timeouts + e.not_sent + e.unanswered;
  return { messages: n, offered_per_s: Math.round(n / seconds), acked, answered: answer.length, errors, error_kinds: e, ack_ms: pct(ack), answer_ms: pct(answer), send_lag_ms: pct(lag) };
}
export type Summary = ReturnType<typeof summarize>;

/** The load client's own CPU (each process, % of one core, over the sending time) and whether it limits the figure. */
export function clientLoad(run: Run, sum: Summary, serverCpuPct: number) {
  const per = run.clientCpuS.map((c) => Math.round((c / run.sendSeconds) * 100));
  const cores = cpus().length;
  const total = per.reduce((a, b) => a + b, 0) + serverCpuPct;
  const reasons: string[] = [];
  if (Math.max(...per) > 85) reasons.push(`a client process at ${Math.max(...per)}% of a core`);
  return {
    client_cpu_pct: per,
    machine_cpu_pct: Math.round(total),
    machine_saturated: total > cores * 100 * 0.9,
    client_bound: reasons.length > 0,
    client_bound_why: reasons.join("; ") || null,
    // Latency is timed from the actual send, so a late send does not inflate it; but a client that cannot
    // hold its schedule offers a burstier load than asked (e.g. the machine is busy with other work).
    schedule_held: (sum.send_lag_ms.p99 ?? 0) <= 10,
  };
}

/** The usual single-rate measurement: warm-up, then the measured window; RSS, CPU and client load added. */
export async function measure(clients: LoadClients, server: Server, rate: number, mode: Mode, warmupS: number, measureS: number) {
  const run = await clients.run(server, [{ rate, seconds: warmupS + measureS }], mode);
  const win = { from: run.startAt + warmupS * 1000, to: run.endAt };
  const sum = summarize(run, win);
  const serverCpuPct = Math.round((run.serverCpuS / run.sendSeconds) * 100);
  const rssPeak = Math.max(...run.rss.map(([, r]) => r).filter(Number.isFinite));
  const reports = run.reports;
  return {
    rate,
    mode,
    sessions: clients.sessions,
    warmup_s: warmupS,
    measured_s: measureS,
    ...sum,
    server_cpu_pct: serverCpuPct,
    server_rss_mib_peak: rssPeak,
    server_rss_mib_end: rssMiB(server.pid),
    server_alive: server.exited() === null,
    ...clientLoad(run, sum, serverCpuPct),
    error_codes: merge(reports.map((r) => r.errorCodes)),
    unexpected_closes: reports.reduce((n, r) => n + r.unexpectedCloses, 0),
    answer_before_ack: reports.reduce((n, r) => n + r.answerBeforeAck, 0),
    close_codes: merge(reports.map((r) => r.closeCodes)),
  };
}
export type Measurement = Awaited<ReturnType<typeof measure>>;

function merge(maps: Record<string, number>[]) {
  const out: Record<string, number> = {};
  for (const m of maps) for (const [k, v] of Object.entries(m)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** One progress line per step. */
export function progress(label: string, m: Measurement) {
  console.log(
    `  ${label}: ${m.sessions} sessions, ${m.rate}/s offered (${m.offered_per_s}/s) ${m.mode} → ack p50/p99 ${m.ack_ms.p50}/${m.ack_ms.p99} ms, answer p50/p99 ${m.answer_ms.p50}/${m.answer_ms.p99} ms, errors ${m.errors}${m.errors ? ` ${JSON.stringify(m.error_kinds)}` : ""}, server CPU ${m.server_cpu_pct}% RSS ${m.server_rss_mib_peak} MiB, client CPU ${m.client_cpu_pct.join("+")}%${m.client_bound ? " [CLIENT-BOUND]" : ""}${m.schedule_held ? "" : ` [send lag p99 ${m.send_lag_ms.p99} ms]`}`,
  );
}
