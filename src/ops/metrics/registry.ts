import { statSync } from "node:fs";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { type BusHealth, busMetrics } from "../../cluster/bus-redis";
import type { AppContext } from "../../server/context";
import { memoryLimitBytes } from "../../platform/memory-limit";

/**
 * The Prometheus families of /metrics. The hot path only bumps plain integers where its events already
 * happen (the chat's `counters`, the answer pipeline's observer); everything else is read from existing
 * state when Prometheus scrapes, in the `collect` of each family. See README.md for the list.
 */
export interface Metrics {
  registry: Registry;
  /** The exposition, text format 0.0.4. */
  render(): Promise<string>;
  stop(): void;
}

/** Answer paths, as labels: `local` is the local model; `human` an agent's message. */
export const ANSWER_PATHS = ["cache", "direct", "choice", "llm", "local", "plugin", "human", "fallback", "pending"] as const;
const BREAKER_STATE = { closed: 0, half_open: 1, open: 2 } as const;
/** Seconds; an answer's deadline is a few seconds, a cache hit well under a millisecond. */
const ANSWER_BUCKETS = [0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16];
/** Seconds; a provider call streams for a few seconds, a timeout ends it at the answer deadline. */
const UPSTREAM_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32];
/** Event-loop lag is sampled this often (one timer, unref'd). */
const LAG_SAMPLE_MS = 500;

type Labels = Record<string, string>;
const IN_PROCESS_BUS: BusHealth = { connected: true, degraded: false, outages: 0, lastCanaryMs: -1, lastCanaryAt: 0, published: 0, received: 0, publishFailures: 0, resyncs: 0 };

export function createMetrics(ctx: AppContext): Metrics {
  const registry = new Registry();
  const registers = [registry];
  const { chat, answer, db } = ctx;
  const counters = chat.counters;

  /**
   * Families read from state kept elsewhere, at scrape time: a counter from a running total, a gauge from a
   * current value. Every label set `read` returns is exposed, zeros included.
   */
  type Read = () => [Labels, number][];
  const fromState = (kind: "counter" | "gauge", name: string, help: string, labelNames: string[], read: Read) => {
    function collect(this: Counter | Gauge) {
      this.reset();
      for (const [l, v] of read()) {
        if (this instanceof Counter) this.inc(l, v);
        else this.set(l, v);
      }
    }
    const opts = { name, help, labelNames, registers, collect };
    return kind === "counter" ? new Counter(opts) : new Gauge(opts);
  };
  const totals = (name: string, help: string, labelNames: string[], read: Read) => fromState("counter", name, help, labelNames, read);
  const gauge = (name: string, help: string, labelNames: string[], read: Read) => fromState("gauge", name, help, labelNames, read);

  totals("kefu_messages_received_total", "Visitor messages stored.", [], () => [[{}, counters.messages.visitor]]);
  totals("kefu_messages_sent_total", "Messages sent to visitors, by sender (bot, agent, system notices).", ["sender"], () => [
    [{ sender: "bot" }, counters.messages.bot],
    [{ sender: "agent" }, counters.messages.agent],
    [{ sender: "system" }, counters.messages.system],
  ]);

  // Answers: counted and timed as the pipeline finishes them. Two paths are not answered through it and
  // are counted from running totals at scrape time, untimed: human (an agent's message) and choice (the
  // entry a visitor picked from "did you mean" choices, answered verbatim by pipeline.choose).
  const untimed = { human: 0, choice: 0 };
  const answers = new Counter({
    name: "kefu_answers_total",
    help: "Answers by path (human: messages written by agents; choice: a picked \"did you mean\" entry; local: a local model).",
    labelNames: ["path"],
    registers,
    collect() {
      const now = { human: counters.messages.agent, choice: answer.pipeline.stats().paths.choice };
      for (const path of ["human", "choice"] as const) {
        if (now[path] > untimed[path]) this.inc({ path }, now[path] - untimed[path]);
        untimed[path] = now[path];
      }
    },
  });
  const latency = new Histogram({ name: "kefu_answer_duration_seconds", help: "Time from the question to the final answer, by path (bot answers through the pipeline; choice and human are not timed).", labelNames: ["path"], buckets: ANSWER_BUCKETS, registers });
  for (const path of ANSWER_PATHS) {
    answers.inc({ path }, 0);
    if (path !== "human" && path !== "choice") latency.zero({ path });
  }
  answer.pipeline.observe((path, ms) => {
    if (path === "choice") return; // counted from the pipeline's totals above
    answers.inc({ path });
    latency.observe({ path }, ms / 1000);
  });

  totals("kefu_rate_limited_total", "Refusals by kind: chat (a visitor's message budget), frames (a socket's frame budget), connections (per-IP socket limits), new_visitors (new visitors per IP and minute), login (login attempts).", ["kind"], () => [
    [{ kind: "chat" }, counters.refused.chat],
    [{ kind: "frames" }, counters.refused.frames],
    [{ kind: "connections" }, counters.refused.connections],
    [{ kind: "new_visitors" }, counters.refused.new_visitors],
    [{ kind: "login" }, ctx.auth.loginRefusals()],
  ]);

  gauge("kefu_sockets_open", "Open WebSockets, by kind (visitor, agent).", ["kind"], () => [
    [{ kind: "visitor" }, counters.sockets.visitor],
    [{ kind: "agent" }, counters.sockets.agent],
  ]);
  gauge("kefu_answers_in_flight", "Bot answers being worked on ([chat] answers_in_flight is the most).", [], () => [[{}, chat.answerQueue().in_flight]]);
  gauge("kefu_answers_waiting", "Bot answers waiting for a slot (shed after [chat] answer_wait_ms).", [], () => [[{}, chat.answerQueue().waiting]]);
  totals("kefu_answers_shed_total", "Bot answers dropped after waiting answer_wait_ms for a slot (overload).", [], () => [[{}, chat.answerQueue().shed]]);

  // Read from the shared store (PostgreSQL in a cluster: every node reports the cluster's queue), at scrape time.
  new Gauge({
    name: "kefu_tickets_open",
    help: "Conversations handed to humans and not closed: queued (the queue length) or agent (with an agent).",
    labelNames: ["state"],
    registers,
    async collect() {
      const by: Record<string, number> = { queued: 0, agent: 0 };
      for (const r of await ctx.sql.all<{ state: string; n: number }>("SELECT state, COUNT(*) AS n FROM chat_conversations WHERE state IN ('queued', 'agent') GROUP BY state")) by[r.state] = r.n;
      this.set({ state: "queued" }, by.queued!);
      this.set({ state: "agent" }, by.agent!);
    },
  });
  // Ms since the epoch (Date.now() in the conversation store); the (state, queued_at) index makes it one seek.
  new Gauge({
    name: "kefu_queue_oldest_wait_seconds",
    help: "How long the longest-waiting queued conversation has waited for a human (0: queue empty).",
    registers,
    async collect() {
      const at = (await ctx.sql.get<{ at: number | null }>("SELECT MIN(queued_at) AS at FROM chat_conversations WHERE state = 'queued'"))?.at;
      this.set(at ? Math.max(0, (Date.now() - at) / 1000) : 0);
    },
  });

  const providers = () => answer.registry.status();
  gauge("kefu_llm_breaker_state", "Circuit breaker of each LLM provider: 0 closed, 1 half-open, 2 open.", ["provider"], () => providers().map((p) => [{ provider: p.name }, BREAKER_STATE[p.breaker.state]]));
  gauge("kefu_llm_limit", "Adaptive concurrency limit of each LLM provider.", ["provider"], () => providers().map((p) => [{ provider: p.name }, p.gate.limit]));
  gauge("kefu_llm_in_flight", "Requests in flight to each LLM provider.", ["provider"], () => providers().map((p) => [{ provider: p.name }, p.gate.in_flight]));
  gauge("kefu_llm_waiting", "Answers waiting for a slot of each LLM provider.", ["provider"], () => providers().map((p) => [{ provider: p.name }, p.gate.waiting]));
  totals("kefu_llm_requests_total", "LLM provider calls by result: success, failure, cancelled, rejected_open (breaker open), rejected_busy (no slot in time).", ["provider", "result"], () =>
    providers().flatMap((p) => {
      const t = p.totals;
      const rows: [string, number][] = [["success", t.successes], ["failure", t.failures], ["cancelled", t.cancelled], ["rejected_open", t.rejected_open], ["rejected_busy", t.rejected_busy]];
      return rows.map(([result, v]): [Labels, number] => [{ provider: p.name, result }, v]);
    }),
  );
  const upstream = new Histogram({
    name: "kefu_llm_upstream_duration_seconds",
    help: "Whole time of each call to an LLM provider, by outcome (success, failure; cancelled calls are left out).",
    labelNames: ["provider", "outcome"],
    buckets: UPSTREAM_BUCKETS,
    registers,
  });
  for (const p of answer.registry.providers) for (const outcome of ["success", "failure"]) upstream.zero({ provider: p.name, outcome });
  answer.registry.observe((provider, outcome, ms) => upstream.observe({ provider, outcome }, ms / 1000));
  gauge("kefu_llm_upstream_latency_seconds", "Whole-answer time of each provider's recent successful calls (p50, p95, p99 of a sliding window).", ["provider", "quantile"], () =>
    providers().flatMap((p) => {
      const l = p.latency_ms.total;
      return [[{ provider: p.name, quantile: "0.5" }, l.p50 / 1000], [{ provider: p.name, quantile: "0.95" }, l.p95 / 1000], [{ provider: p.name, quantile: "0.99" }, l.p99 / 1000]] as [Labels, number][];
    }),
  );

  totals("kefu_answer_cache_hits_total", "Answer cache hits.", [], () => [[{}, answer.pipeline.stats().cache.hits]]);
  totals("kefu_answer_cache_misses_total", "Answer cache misses.", [], () => [[{}, answer.pipeline.stats().cache.misses]]);
  gauge("kefu_answer_cache_entries", "Answers held in the cache.", [], () => [[{}, answer.pipeline.stats().cache.size]]);

  // Local model worker pools (src/models): one label set per configured role; none without local models.
  const models = () => ctx.models.list();
  gauge("kefu_model_workers", "Workers of each local model pool, by state (ready: loaded and answering; other: loading, replaced or failed).", ["role", "state"], () =>
    models().flatMap((m) => [
      [{ role: m.role, state: "ready" }, m.ready_workers],
      [{ role: m.role, state: "other" }, m.workers - m.ready_workers],
    ]),
  );
  gauge("kefu_model_in_flight", "Requests running in each local model pool's workers.", ["role"], () => models().map((m) => [{ role: m.role }, m.in_flight]));
  gauge("kefu_model_queued", "Requests waiting for a worker of each local model pool.", ["role"], () => models().map((m) => [{ role: m.role }, m.queued]));
  totals("kefu_model_requests_total", "Local model requests by result (completed, failed).", ["role", "result"], () =>
    models().flatMap((m) => [
      [{ role: m.role, result: "completed" }, m.completed],
      [{ role: m.role, result: "failed" }, m.failed],
    ]),
  );
  totals("kefu_model_worker_replacements_total", "Local model workers replaced after a crash or a hang.", ["role"], () => models().map((m) => [{ role: m.role }, m.replaced]));

  // Plugins (src/plugins): per-plugin hook calls and their outcome; errors include timeouts.
  const plugins = () => ctx.plugins.listing();
  totals("kefu_plugin_calls_total", "Plugin hook and route calls.", ["plugin"], () => plugins().map((p) => [{ plugin: p.name }, p.counters.calls]));
  totals("kefu_plugin_errors_total", "Plugin calls that threw or timed out, by kind (error, timeout).", ["plugin", "kind"], () =>
    plugins().flatMap((p) => [
      [{ plugin: p.name, kind: "error" }, p.counters.errors - p.counters.timeouts],
      [{ plugin: p.name, kind: "timeout" }, p.counters.timeouts],
    ]),
  );
  gauge("kefu_plugin_active", "1 while a plugin is loaded and enabled, 0 when it failed, was disabled or is loading.", ["plugin"], () =>
    plugins().map((p) => [{ plugin: p.name }, p.status === "active" ? 1 : 0]),
  );

  const pages = db.query<{ n: number }, []>("SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()");
  const fileSize = (path: string) => {
    try {
      return statSync(path).size;
    } catch {
      return 0;
    }
  };
  gauge("kefu_db_bytes", "Size of the SQLite database (pages in use and free).", [], () => [[{}, pages.get()?.n ?? 0]]);
  gauge("kefu_db_wal_bytes", "Size of the SQLite write-ahead log file (checkpoints move it into the database).", [], () => [[{}, db.filename && db.filename !== ":memory:" ? fileSize(`${db.filename}-wal`) : 0]]);

  // Event-loop lag: how late a repeating timer fires, the worst since the last scrape.
  let lagMax = 0;
  let due = performance.now() + LAG_SAMPLE_MS;
  const lagTimer = setInterval(() => {
    const now = performance.now();
    lagMax = Math.max(lagMax, now - due);
    due = now + LAG_SAMPLE_MS;
  }, LAG_SAMPLE_MS);
  lagTimer.unref?.();
  gauge("kefu_event_loop_lag_seconds", `Worst lateness of a ${LAG_SAMPLE_MS} ms timer since the previous scrape.`, [], () => {
    const v = Math.max(0, lagMax) / 1000;
    lagMax = 0;
    return [[{}, v]];
  });
  // The event bus's health, labelled with this node's id: Redis in cluster mode (src/cluster/bus-redis.ts); a
  // single node's in-process bus is always up and sends nothing to other nodes.
  const busHealth = ctx.node?.busHealth ?? (() => IN_PROCESS_BUS);
  const nodeId = ctx.node?.nodeId ?? "local";
  for (const family of busMetrics(busHealth())) {
    const read: Read = () => [[{ node: nodeId }, busMetrics(busHealth()).find((f) => f.name === family.name)!.value]];
    fromState(family.kind, family.name, family.help, ["node"], read);
  }
  gauge("kefu_process_resident_bytes", "Resident memory of the process.", [], () => [[{}, process.memoryUsage.rss()]]);
  gauge("kefu_process_memory_limit_bytes", "The memory limit of the process's own cgroup (systemd MemoryMax=, docker -m) as read at start-up, to which the garbage collector sizes the heap; 0 when none is below the machine's RAM.", [], () => [[{}, memoryLimitBytes() ?? 0]]);
  gauge("kefu_uptime_seconds", "Seconds since the server started.", [], () => [[{}, (Date.now() - ctx.startedAt) / 1000]]);

  return { registry, render: () => registry.metrics(), stop: () => clearInterval(lagTimer) };
}
