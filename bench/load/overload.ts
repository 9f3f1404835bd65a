/**
 * `overload`: kefu offered 3× its capacity for 30 s, distinct phrasings, between a calm phase before and
 * after (half the capacity). Capacity: `--capacity N`, else measured first in the same run (the rate
 * doubles from 100 msg/s until answer p99 > 100 ms or an error, twice in a row; the last good rate). Reports: server RSS
 * (peak, and at the end), errors by kind (error frames, closed sockets, no ack within 10 s, no answer within
 * 15 s), whether every message was acked, the answer latency of the messages that were answered, and the
 * recovery time: from the end of the overload to the first of ten 0.5 s slices in a row (5 s) with answer
 * p99 ≤ max(2 × the calm p99 before, 50 ms) and no errors; later slow slices are counted.
 *
 *   bun bench/run.ts overload [--quick] [--capacity N] [--sessions 5000] [--factor 3] [--seconds 30]
 *                             [--clients 2] [--no-build] [--note "…"]
 * Then the same phases once more (same capacity) with kefu in a memory cgroup of `--memory-limit` MiB
 * (default 512; 0 skips it), as an operator bounds it with systemd `MemoryMax=` or `docker run -m`: Bun
 * sizes its garbage collector to that limit. The pass needs write access to /sys/fs/cgroup (root); without
 * it the report says why.
 * Run time: capacity search (≤ 1.5 min) + 2 × (10 + 30 + 30 s + drain 15 s); --quick ~50 s.
 */
import { context, finish, options, table } from "./common";
import { LoadClients, measure, progress, round, summarize, type Run } from "./driver";
import { createMemoryLimit, type MemoryLimit } from "../lib/memory-cgroup";
import { rssMiB, type Server, startServer, waitQuiet } from "./servers";

const opts = options({ capacity: "", sessions: "5000", factor: "3", seconds: "30", "memory-limit": "512" });
const sessions = opts.quick ? 500 : Number(opts.rest.sessions);
const factor = Number(opts.rest.factor);
const overS = opts.quick ? 5 : Number(opts.rest.seconds);
const calmBefore = opts.quick ? 3 : 10;
const calmAfter = opts.quick ? 6 : 30;
const SLICE_MS = 500;
const ctx = context(opts);
const limitMiB = Number(opts.rest["memory-limit"]);
if (!Number.isInteger(limitMiB) || limitMiB < 0) throw new Error(`--memory-limit takes a whole number of MiB (0: no second pass), not ${opts.rest["memory-limit"]}`);

type Summary = ReturnType<typeof summarize>;
const row = (name: string, s: Summary) => [name, s.offered_per_s, s.messages, s.acked, s.answered, `${s.ack_ms.p50} / ${s.ack_ms.p99} / ${s.ack_ms.max}`, `${s.answer_ms.p50} / ${s.answer_ms.p99} / ${s.answer_ms.max}`, s.errors ? `${s.errors} ${JSON.stringify(s.error_kinds).replace(/"/g, "")}` : 0];

/** Opens the sessions on a started server, measures the capacity when not given, runs calm / overload / calm. */
async function pass(server: Server, givenCapacity: number, limit: MemoryLimit | null) {
  const clients = await LoadClients.start(`ws://127.0.0.1:${server.port}/ws`, opts.clients);
  try {
    const open = await clients.open(sessions);
    console.log(`kefu${limit ? ` (memory limit ${limit.mib} MiB)` : ""}: ${open.open_sessions} sessions open in ${open.seconds} s`);
    const rssIdle = rssMiB(server.pid);
    let capacity = givenCapacity;
    const search: { rate: number; answer_p99: number | null; errors: number }[] = [];
    if (!capacity) {
      const fails = async (rate: number) => {
        const m = await measure(clients, server, rate, "distinct", 1, opts.quick ? 2 : 4);
        progress("capacity search", m);
        search.push({ rate, answer_p99: m.answer_ms.p99, errors: m.errors });
        return m.errors > 0 || (m.answer_ms.p99 ?? Infinity) > 100;
      };
      // A failed step is tried once more (after the backlog settles): one noisy window must not halve the capacity.
      for (let rate = 100; rate <= 25_600; rate *= 2) {
        if ((await fails(rate)) && (opts.quick || (await waitQuiet(server.pid, 30_000, 2), await fails(rate)))) break;
        capacity = rate;
      }
      await waitQuiet(server.pid, 30_000, 2);
      if (!capacity) capacity = 100;
    }
    const calm = Math.max(10, Math.round(capacity / 2));
    const over = Math.round(capacity * factor);
    console.log(`capacity ${capacity} msg/s: calm ${calm}/s for ${calmBefore} s, overload ${over}/s for ${overS} s, calm ${calm}/s for ${calmAfter} s`);
    const run = await clients.run(server, [
      { rate: calm, seconds: calmBefore },
      { rate: over, seconds: overS },
      { rate: calm, seconds: calmAfter },
    ], "distinct");
    const t1 = run.startAt + calmBefore * 1000;
    const t2 = t1 + overS * 1000;
    const before = summarize(run, { from: run.startAt + 1000, to: t1 });
    const during = summarize(run, { from: t1, to: t2 });
    const after = summarize(run, { from: t2, to: run.endAt });
    const whole = summarize(run, { from: run.startAt, to: run.endAt });
    const normal = Math.max(2 * (before.answer_ms.p99 ?? 0), 50);
    const rec = recoveryTime(run, t2, normal);
    const rssPeak = Math.max(...run.rss.map(([, r]) => r).filter(Number.isFinite));
    const rssPeakOver = Math.max(...run.rss.filter(([t]) => t >= t1 && t < t2 + 15_000).map(([, r]) => r).filter(Number.isFinite));
    const codes: Record<string, number> = {};
    for (const r of run.reports) for (const [k, v] of Object.entries(r.errorCodes)) codes[k] = (codes[k] ?? 0) + v;
    const closes = run.reports.reduce((n, r) => n + r.unexpectedCloses, 0);
    const overtaken = run.reports.reduce((n, r) => n + r.answerBeforeAck, 0);
    const acked = whole.acked === whole.messages && whole.error_kinds.ack_timeouts === 0;
    const result = {
      how: server.how,
      memory_limit: limit ? { mib: limit.mib, cgroup: limit.version, limit_hits: limit.limitHits(), oom_kills: limit.oomKills() } : null,
      params: { sessions, capacity, capacity_search: search, factor, calm_rate: calm, overload_rate: over, calm_before_s: calmBefore, overload_s: overS, calm_after_s: calmAfter, normal_p99_ms: normal },
      rss_mib: { idle: rssIdle, peak: rssPeak, peak_overload: rssPeakOver, end: rssMiB(server.pid) },
      server_alive: server.exited() === null,
      before,
      during,
      after,
      whole,
      every_message_acked: acked,
      recovery_s: rec.recovery_s,
      recovery: rec,
      error_codes: codes,
      unexpected_closes: closes,
      answer_before_ack: overtaken,
      timeline: slices(run, t1),
    };
    console.log(`overload: ${JSON.stringify({ memory_limit_mib: limit?.mib ?? null, rss_peak: rssPeak, errors: during.errors, kinds: during.error_kinds, recovery_s: rec.recovery_s })}`);
    const recovery = rec.recovery_s;
    const md = [
      ...table(["phase", "msg/s", "messages", "acked", "answered", "ack p50 / p99 / max", "answer p50 / p99 / max", "errors"], [row("calm before", before), row("overload", during), row("calm after", after)]),
      "",
      `- Server RSS: ${rssIdle} MiB with the sessions open, peak ${rssPeak} MiB, ${result.rss_mib.end} MiB at the end; server ${result.server_alive ? "alive" : "**exited**"}${limit ? `; the cgroup's limit was hit ${result.memory_limit?.limit_hits ?? "?"} times, OOM kills ${result.memory_limit?.oom_kills ?? "?"}` : ""}.`,
      `- Every message acked (within 10 s): **${acked ? "yes" : "no"}** (${whole.acked} of ${whole.messages}); unexpected socket closes ${closes}; ${overtaken} acks arrived after the bot reply they led to (counted as answered at the reply)${Object.keys(codes).length ? `; error frames ${JSON.stringify(codes)}` : ""}.`,
      `- Recovery: ${recovery === null ? `**not within the ${calmAfter} s calm phase**` : `${recovery} s`} after the overload stopped (normal: answer p99 ≤ ${round(normal, 1)} ms and no errors in every 0.5 s slice for 5 s in a row; ${rec.later_slow_slices} of the ${rec.slices} slices after that above normal again).`,
      `- Goals (issue 13): RSS under 400 MB (381 MiB) — ${rssPeak < 381 ? "met" : "**missed**"}; no socket times out and every message acked — ${whole.error_kinds.ack_timeouts === 0 && closes === 0 && acked ? "met" : "**missed**"}; recovery within 5 s — ${recovery !== null && recovery <= 5 ? "met" : "**missed**"}.`,
    ];
    return { result, md, capacity, calm, over };
  } finally {
    await clients.close();
  }
}

let result: Record<string, unknown> = {};
let md: string[] = [];
let server: Server | null = null;
try {
  server = await startServer("kefu", { noBuild: opts.noBuild });
  const first = await pass(server, Number(opts.rest.capacity) || 0, null);
  await server.stop();
  server = null;
  result = first.result;
  md = [
    `# overload: ${factor}× capacity for ${overS} s (${ctx.machine.date.slice(0, 10)}${ctx.quick ? ", --quick" : ""})`,
    "",
    `kefu (${first.result.how}), ${sessions} sessions, distinct phrasings. Capacity ${first.capacity} msg/s (${opts.rest.capacity ? "given" : "measured in this run: highest doubling step with answer p99 ≤ 100 ms and no errors"}); calm ${first.calm} msg/s for ${calmBefore} s, overload ${first.over} msg/s for ${overS} s, calm again for ${calmAfter} s. Latency in ms from the send; answer latency only of the messages answered.`,
    "",
    "## No memory limit (the garbage collector sizes itself to the machine's RAM)",
    "",
    ...first.md,
  ];
  if (limitMiB > 0) {
    md.push("", `## In a ${limitMiB} MiB memory limit (systemd \`MemoryMax=${limitMiB}M\`, \`docker run -m ${limitMiB}m\`)`, "");
    const limit = createMemoryLimit(limitMiB);
    if ("error" in limit) {
      md.push(`Not run: no memory cgroup could be made (${limit.error}).`);
      result.memory_limited = { skipped: limit.error };
    } else {
      // A failure here keeps the first pass's report.
      try {
        server = await startServer("kefu", { noBuild: true, memoryLimit: limit });
        const second = await pass(server, first.capacity, limit);
        result.memory_limited = second.result;
        md.push(`The same phases and rates (capacity ${first.capacity} msg/s from the pass above), kefu (${second.result.how}). Bun reads the limit of the process's own cgroup at start-up (\`process.constrainedMemory()\`) and its garbage collector sizes the heap to it.`, "", ...second.md);
      } catch (e) {
        md.push(`**Failed**: ${(e as Error).message}`, "", "```", server?.tail() ?? "", "```");
        result.memory_limited = { failed: (e as Error).message, tail: server?.tail() };
      } finally {
        await server?.stop();
        server = null;
        limit.remove();
      }
    }
  }
} catch (e) {
  md = [`# overload (${ctx.machine.date.slice(0, 10)})`, "", `**Failed**: ${(e as Error).message}`, "", "```", server?.tail() ?? "", "```"];
  result = { failed: (e as Error).message, tail: server?.tail() };
} finally {
  await server?.stop();
}
await finish("overload", ctx, result, md);

/**
 * Seconds from `from` to the first 0.5 s slice that begins 5 s of normal slices in a row (null: none within
 * the calm phase), and how many slices after that are above normal again (spikes: on a shared machine,
 * other work).
 */
function recoveryTime(run: Run, from: number, normalP99: number): { recovery_s: number | null; later_slow_slices: number; slices: number } {
  const ok: boolean[] = [];
  for (let t = from; t + SLICE_MS <= run.endAt; t += SLICE_MS) {
    const s = summarize(run, { from: t, to: t + SLICE_MS });
    ok.push(s.errors === 0 && (s.answer_ms.p99 ?? 0) <= normalP99);
  }
  const need = 5000 / SLICE_MS;
  for (let i = 0; i + need <= ok.length; i++) {
    if (ok.slice(i, i + need).every(Boolean)) return { recovery_s: round((i * SLICE_MS) / 1000, 1), later_slow_slices: ok.slice(i).filter((x) => !x).length, slices: ok.length - i };
  }
  return { recovery_s: null, later_slow_slices: 0, slices: ok.length };
}

/** Per second from the start of the overload: offered, answered, answer p99, errors, RSS. */
function slices(run: Run, t1: number) {
  const out: { t_s: number; offered: number; answered: number; answer_p99: number | null; errors: number; rss_mib: number | null }[] = [];
  for (let t = run.startAt; t + 1000 <= run.endAt; t += 1000) {
    const s = summarize(run, { from: t, to: t + 1000 });
    const rss = run.rss.find(([at]) => at >= t)?.[1] ?? null;
    out.push({ t_s: round((t - t1) / 1000, 1)!, offered: s.messages, answered: s.answered, answer_p99: s.answer_ms.p99, errors: s.errors, rss_mib: rss });
  }
  return out;
}
