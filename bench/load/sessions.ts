/**
 * `sessions`: many visitor sessions open at once, each asking a question every 10 s (so 1,000 sessions
 * offer 100 msg/s, 15,000 offer 1,500 msg/s), distinct phrasings. For each size and server: time to open
 * the sessions (hello → welcome), ack and answer p50/p95/p99, errors, server RSS idle and under load, RSS
 * per session, server CPU, the load client's CPU. Servers, one after another with the same client: kefu
 * (compiled binary, demo knowledge base, no LLM), the raw Bun WebSocket echo, echo + SQLite group commit.
 * Sessions are added step by step (1k, then 4k more, …) on one server process.
 *
 *   bun bench/run.ts sessions [--quick] [--sizes 1000,5000,10000,15000] [--warmup 5] [--seconds 20]
 *                             [--servers kefu,echo,echo-sqlite] [--clients 2] [--no-build] [--note "…"]
 * Run time: about 2.5 min per server at the full sizes; --quick ~30 s.
 */
import { context, finish, options, ratio, table } from "./common";
import { LoadClients, measure, progress, round, type Measurement } from "./driver";
import { label, rssMiB, startServer, type ServerName } from "./servers";

const opts = options({ sizes: "1000,5000,10000,15000", warmup: "5", seconds: "20", servers: "kefu,echo,echo-sqlite" });
const sizes = opts.quick ? [300, 1000] : String(opts.rest.sizes).split(",").map(Number);
const warmup = opts.quick ? 1 : Number(opts.rest.warmup);
const seconds = opts.quick ? 3 : Number(opts.rest.seconds);
const servers = String(opts.rest.servers).split(",") as ServerName[];
const ctx = context(opts);

interface Step {
  sessions: number;
  open: Awaited<ReturnType<LoadClients["open"]>>;
  rss_before_open_mib: number;
  rss_idle_mib: number;
  /** (RSS after opening this step's new sessions − RSS just before) / new sessions: the marginal cost. */
  rss_per_added_session_kib: number | null;
  /** (RSS idle now − RSS before the first session) / open sessions: includes what earlier load steps left. */
  rss_per_session_kib: number | null;
  load: Measurement;
}
const results: Record<string, { how: string; fd_limit: number; client_fd_limit: number; rss_start_mib: number; steps: Step[]; crashed: string | null }> = {};

for (const name of servers) {
  console.log(`${label[name]}:`);
  const server = await startServer(name, { noBuild: opts.noBuild });
  const clients = await LoadClients.start(`ws://127.0.0.1:${server.port}/ws`, opts.clients);
  const rss0 = rssMiB(server.pid);
  const r: (typeof results)[string] = { how: server.how, fd_limit: server.fdLimit, client_fd_limit: clients.fdLimit, rss_start_mib: rss0, steps: [], crashed: null };
  results[name] = r;
  try {
    for (const n of sizes) {
      const before = rssMiB(server.pid);
      const open = await clients.open(n);
      await Bun.sleep(1000);
      const idle = rssMiB(server.pid);
      console.log(`  opened ${open.added} sessions in ${open.seconds} s (${open.per_s}/s, ${open.failed} failed; ${open.open_sessions} open), RSS ${idle} MiB idle`);
      const load = await measure(clients, server, n / 10, "distinct", warmup, seconds);
      progress(label[name], load);
      r.steps.push({
        sessions: n,
        open,
        rss_before_open_mib: before,
        rss_idle_mib: idle,
        rss_per_added_session_kib: round(((idle - before) * 1024) / open.added, 1),
        rss_per_session_kib: round(((idle - rss0) * 1024) / open.open_sessions, 1),
        load,
      });
      if (server.exited() !== null) throw new Error(`exited with ${server.exited()}`);
    }
  } catch (e) {
    r.crashed = `${(e as Error).message}\n${server.tail()}`;
    console.log(`  ${label[name]} failed: ${r.crashed}`);
  } finally {
    await clients.close();
    await server.stop();
  }
}

const base = (name: string, n: number) => results[name]?.steps.find((s) => s.sessions === n);
const md = [
  `# sessions: open sessions, a question every 10 s each (${ctx.machine.date.slice(0, 10)}${ctx.quick ? ", --quick" : ""})`,
  "",
  `Each session asks a distinct phrasing every 10 s (N sessions → N/10 msg/s), open loop; ${warmup} s warm-up excluded, ${seconds} s measured.`,
  "Latencies in ms from the send: ack = stored and acknowledged, answer = the bot's reply arrived. Errors: error frames, closed sockets, no ack within 10 s, no answer within 15 s.",
  "RSS / added session: (RSS idle after opening the step's new sessions − RSS just before) ÷ new sessions (the JSON also has RSS idle − RSS before the first session, ÷ all, which includes what earlier load steps left behind).",
  "",
  ...table(
    ["server", "sessions", "msg/s", "open s", "ack p50/p95/p99", "answer p50/p95/p99", "errors", "server CPU %", "RSS idle / load MiB", "RSS / added session KiB", "client CPU %", "answer p99 ÷ echo", "RSS ÷ echo"],
    Object.entries(results).flatMap(([name, r]) =>
      r.steps.map((s) => [
        label[name as ServerName],
        s.sessions,
        s.load.offered_per_s,
        s.open.seconds,
        `${s.load.ack_ms.p50} / ${s.load.ack_ms.p95} / ${s.load.ack_ms.p99}`,
        `${s.load.answer_ms.p50} / ${s.load.answer_ms.p95} / ${s.load.answer_ms.p99}`,
        s.load.errors,
        s.load.server_cpu_pct,
        `${s.rss_idle_mib} / ${s.load.server_rss_mib_peak}`,
        s.rss_per_added_session_kib,
        `${s.load.client_cpu_pct.join("+")}${s.load.client_bound ? " (client-bound)" : ""}${s.load.schedule_held ? "" : ` (send lag p99 ${s.load.send_lag_ms.p99} ms)`}`,
        name === "echo" ? "1×" : ratio(s.load.answer_ms.p99, base("echo", s.sessions)?.load.answer_ms.p99),
        name === "echo" ? "1×" : ratio(s.load.server_rss_mib_peak, base("echo", s.sessions)?.load.server_rss_mib_peak),
      ]),
    ),
  ),
  "",
  ...Object.entries(results).map(([name, r]) => `- ${label[name as ServerName]}: ${r.how}; RSS ${r.rss_start_mib} MiB before any session; open-file limit ${r.fd_limit} (client processes ${r.client_fd_limit})${r.crashed ? `; **failed**: ${r.crashed.split("\n")[0]}` : ""}.`),
  ...goal(),
];

function goal(): string[] {
  const top = results.kefu?.steps.find((s) => s.sessions === 15000);
  if (!top) return [];
  const ok = (top.load.answer_ms.p99 ?? Infinity) < 50 && top.load.errors === 0;
  return [
    "",
    `Goal (issue 13) at 15,000 sessions: 1,500 msg/s with answer p99 under 50 ms and zero errors, RSS under 300 MB — kefu: answer p99 ${top.load.answer_ms.p99} ms, ${top.load.errors} errors, RSS ${top.load.server_rss_mib_peak} MiB (${top.load.offered_per_s} msg/s here): **${ok && top.load.server_rss_mib_peak < 286 ? "met" : "missed"}**.`,
  ];
}

await finish("sessions", ctx, { params: { sizes, warmup_s: warmup, measured_s: seconds, question_every_s: 10, mode: "distinct" }, servers: results }, md);
