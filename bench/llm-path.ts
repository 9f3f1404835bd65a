/**
 * Issue 5 benchmark: N concurrent visitors whose questions miss the knowledge base, through the whole
 * answer pipeline (normalize → cache miss → plugins → retrieval → prompt → degrade chain → fake LLM in its
 * own process with a fixed time to first token). Reports time to first delta minus the fake's own time to
 * first token (kefu's overhead), the busy-reply rate and the upstream in-flight maximum.
 *
 * Scenarios (same fake, same visitors):
 *   bot          `pipeline.reply()` as the chat calls it, provider max_concurrency = --limit
 *   bot roomy    same, max_concurrency = 200 (below Bun's 256 simultaneous fetches per process)
 *   raw 200      200 plain fetch + SSE parse calls, no kefu: the floor for the roomy row on this machine
 *   http sse     POST /api/ask?stream=1 over loopback, max_concurrency = --limit; only when
 *                BUN_CONFIG_MAX_HTTP_REQUESTS leaves room for the benchmark's own 500 client fetches
 *
 *   bun bench/llm-path.ts [--visitors 500] [--ttft-ms 300] [--limit 32] [--rounds 5]
 *   BUN_CONFIG_MAX_HTTP_REQUESTS=1024 bun bench/llm-path.ts    # adds the HTTP row
 */
import { parseArgs } from "node:util";
import { Value } from "@sinclair/typebox/value";
import { Elysia } from "elysia";
import { type AnswerConfig, answerSection } from "../src/answer/config";
import type { KnowledgeSource } from "../src/answer/knowledge";
import { answerRoutes } from "../src/answer/routes";
import { testAccess } from "../src/auth/test-access";
import { type AnswerService, createAnswerService } from "../src/answer/service";
import { type LlmConfig, llmSection } from "../src/llm/config";
import { parseSse } from "../src/llm/sse";
import { type HoursConfig, hoursSection } from "../src/schedule/config";
import { openDatabase } from "../src/storage/database";
import { createSqliteSql } from "../src/storage/sqlite-driver";
import type { FakeLlmStats } from "./fake-llm/server";
import { machineInfo, percentile, writeResult } from "./lib/machine";
import { spawnFakeLlm } from "./fake-llm/process";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    visitors: { type: "string", default: "500" },
    "ttft-ms": { type: "string", default: "300" },
    limit: { type: "string", default: "32" },
    rounds: { type: "string", default: "5" },
  },
});
const visitors = Number(values.visitors);
const ttftMs = Number(values["ttft-ms"]);
const limit = Number(values.limit);
const rounds = Number(values.rounds);
const maxHttpEnv = process.env.BUN_CONFIG_MAX_HTTP_REQUESTS;
const httpRoom = Number(maxHttpEnv ?? 256) >= visitors + limit;
const reply = "Our opening hours are 9:00 to 18:00, Monday to Friday [kb:hours].";

const { proc: fakeProc, base } = await spawnFakeLlm({ ttftMs, reply });

/** Every question misses: entries below the direct threshold (one above suggest) and one document chunk. */
const knowledge: KnowledgeSource = {
  thresholds: { direct: 0.5, suggest: 0.2 },
  version: () => 1,
  async search() {
    return {
      entries: [
        { id: "kb:hours", question: "When are you open?", answer: "Monday to Friday, 9:00 to 18:00.", confidence: 0.35 },
        { id: "kb:holidays", question: "Are you open on holidays?", answer: "We are closed on public holidays.", confidence: 0.12 },
      ],
      chunks: [{ id: "doc:1#1", title: "Store policy", text: "Customer service answers during business hours.", score: 2.1 }],
    };
  },
};

function service(maxConcurrency: number): Promise<{ svc: AnswerService; close(): void }> {
  const llm: LlmConfig = {
    ...(Value.Create(llmSection) as LlmConfig),
    providers: [{ name: "fake", base_url: `${base}/v1`, model: "fake", max_concurrency: maxConcurrency, min_concurrency: maxConcurrency }],
    answer_deadline_ms: 5000,
  };
  const answer = { ...(Value.Create(answerSection) as AnswerConfig), ask_open: true };
  const hours = Value.Create(hoursSection) as HoursConfig;
  return openDatabase({ dir: ":memory:" }).then((db) => ({ svc: createAnswerService({ config: { answer, llm, hours }, sql: createSqliteSql(db), knowledge }), close: () => db.close() }));
}

interface RoundResult {
  first_delta_ms: number[];
  first_event_ms: number[];
  busy: number;
  llm: number;
  upstream_max_in_flight: number;
}

async function upstreamStats(): Promise<FakeLlmStats> {
  return (await (await fetch(`${base}/_fake/stats`)).json()) as FakeLlmStats;
}

let round = 0;

/** The suggestion step streams its text too, so the first event is classified by how the answer ended. */
function record(r: RoundResult, firstMs: number, byModel: boolean) {
  r.first_event_ms.push(firstMs);
  if (byModel) {
    r.llm++;
    r.first_delta_ms.push(firstMs);
  } else r.busy++;
}

async function rawRound(concurrent: number): Promise<RoundResult> {
  await fetch(`${base}/_fake/reset`, { method: "POST" });
  const r: RoundResult = { first_delta_ms: [], first_event_ms: [], busy: 0, llm: 0, upstream_max_in_flight: 0 };
  const messages = [{ role: "user", content: "When are you open?" }];
  await Promise.all(
    Array.from({ length: concurrent }, async () => {
      const start = performance.now();
      const res = await fetch(`${base}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "fake", messages, stream: true }) });
      let firstMs = -1;
      for await (const ev of parseSse(res.body!)) {
        if (ev.data === "[DONE]") break;
        if (firstMs < 0 && JSON.parse(ev.data).choices?.[0]?.delta?.content) firstMs = performance.now() - start;
      }
      record(r, firstMs, true);
    }),
  );
  r.upstream_max_in_flight = (await upstreamStats()).maxInFlight;
  return r;
}

async function botRound(maxConcurrency: number): Promise<RoundResult> {
  await fetch(`${base}/_fake/reset`, { method: "POST" });
  const { svc, close } = await service(maxConcurrency);
  const r: RoundResult = { first_delta_ms: [], first_event_ms: [], busy: 0, llm: 0, upstream_max_in_flight: 0 };
  round++;
  await Promise.all(
    Array.from({ length: visitors }, async (_, i) => {
      const start = performance.now();
      let firstMs = -1;
      const signal = new AbortController().signal;
      for await (const ev of svc.pipeline.reply({ conversationId: `c${i}`, text: `round ${round} question ${i}: when are you open?`, lang: "en", signal })) {
        if (firstMs < 0) firstMs = performance.now() - start;
        if (ev.type === "answer") record(r, firstMs, ev.confident);
      }
    }),
  );
  r.upstream_max_in_flight = (await upstreamStats()).maxInFlight;
  close();
  return r;
}

async function httpRound(maxConcurrency: number): Promise<RoundResult> {
  await fetch(`${base}/_fake/reset`, { method: "POST" });
  const { svc, close } = await service(maxConcurrency);
  const app = new Elysia().use(answerRoutes(svc, testAccess()));
  app.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${app.server!.port}/api/ask?stream=1`;
  const r: RoundResult = { first_delta_ms: [], first_event_ms: [], busy: 0, llm: 0, upstream_max_in_flight: 0 };
  round++;
  await Promise.all(
    Array.from({ length: visitors }, async (_, i) => {
      const start = performance.now();
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text: `round ${round} question ${i}: when are you open?`, lang: "en" }) });
      let firstMs = -1;
      for await (const ev of parseSse(res.body!)) {
        if (firstMs < 0) firstMs = performance.now() - start;
        if (ev.event === "final") record(r, firstMs, (JSON.parse(ev.data) as { path: string }).path === "llm");
      }
    }),
  );
  r.upstream_max_in_flight = (await upstreamStats()).maxInFlight;
  await app.stop(true);
  close();
  return r;
}

function summarize(name: string, maxConcurrency: number, results: RoundResult[]) {
  // Median round by p99 of the model path, so one noisy round does not decide the figure.
  const scored = results.map((r) => {
    const deltas = [...r.first_delta_ms].sort((a, b) => a - b);
    const all = [...r.first_event_ms].sort((a, b) => a - b);
    return {
      scenario: name,
      max_concurrency: maxConcurrency,
      visitors,
      llm_answers: r.llm,
      busy_replies: r.busy,
      busy_rate: Math.round((r.busy / visitors) * 1000) / 1000,
      upstream_max_in_flight: r.upstream_max_in_flight,
      first_delta_p50_ms: round1(percentile(deltas, 50)),
      first_delta_p99_ms: round1(percentile(deltas, 99)),
      overhead_p50_ms: round1(percentile(deltas, 50) - ttftMs),
      overhead_p99_ms: round1(percentile(deltas, 99) - ttftMs),
      first_event_p99_ms: round1(percentile(all, 99)),
    };
  });
  scored.sort((a, b) => a.first_delta_p99_ms - b.first_delta_p99_ms);
  return { ...scored[Math.floor(scored.length / 2)]!, rounds: scored.length };
}

const round1 = (x: number) => Math.round(x * 10) / 10;

try {
  // Warm-up: JIT, connection pool.
  await botRound(limit);
  const bot: RoundResult[] = [];
  const roomy: RoundResult[] = [];
  const raw: RoundResult[] = [];
  const http: RoundResult[] = [];
  for (let i = 0; i < rounds; i++) {
    bot.push(await botRound(limit));
    roomy.push(await botRound(200));
    raw.push(await rawRound(200));
    if (httpRoom) http.push(await httpRound(limit));
  }
  const rows = [summarize("bot (chat path)", limit, bot), summarize("bot (chat path), roomy", 200, roomy), { ...summarize("raw fetch floor, 200 streams", 200, raw), visitors: 200 }];
  if (httpRoom) rows.push(summarize("http sse /api/ask", limit, http));
  const machine = machineInfo();
  const cols = Object.keys(rows[0]!) as (keyof (typeof rows)[number])[];
  const md = [
    `# Answer pipeline, LLM path (${machine.date.slice(0, 10)})`,
    "",
    `${visitors} concurrent visitors whose questions miss the knowledge base (2 entries below the direct threshold + 1 chunk as grounding), fake LLM in its own process with ${ttftMs} ms to first token, ${rounds} rounds (median round by p99 shown).`,
    "`overhead` = time to first delta minus the fake's own time to first token: normalize, cache lookup, retrieval, prompt, gate, breaker, OpenAI client, SSE parsing (and for the HTTP row kefu's SSE response and the client's parsing).",
    "`busy` = visitors answered by the degrade chain's later steps (the \"did you mean\" suggestion here) because no model slot was free.",
    "",
    `| ${cols.join(" | ")} |`,
    `| ${cols.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${cols.map((c) => r[c]).join(" | ")} |`),
    "",
    `BUN_CONFIG_MAX_HTTP_REQUESTS: ${maxHttpEnv ?? "256 (default)"}${httpRoom ? "" : " — the HTTP row needs room for the benchmark's own client fetches; run with BUN_CONFIG_MAX_HTTP_REQUESTS=1024 to add it"}.`,
    "",
    `Machine: ${machine.cpu}, ${machine.cores} cores, Bun ${machine.bun}. Command: \`${maxHttpEnv ? `BUN_CONFIG_MAX_HTTP_REQUESTS=${maxHttpEnv} ` : ""}bun bench/llm-path.ts --visitors ${visitors} --ttft-ms ${ttftMs} --limit ${limit} --rounds ${rounds}\`.`,
  ].join("\n");
  console.log(md);
  const name = maxHttpEnv ? `llm-path-maxhttp${maxHttpEnv}` : "llm-path";
  const paths = await writeResult(name, { machine, visitors, ttft_ms: ttftMs, limit, rounds, bun_max_http_requests: maxHttpEnv ?? "256 (default)", rows }, md);
  console.log(`\nwritten: ${paths.join(", ")}`);
} finally {
  fakeProc.kill();
  await fakeProc.exited;
}
