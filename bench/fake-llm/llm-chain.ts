/**
 * Overhead of the LLM flow-control layer (src/llm) alone: N concurrent visitors ask through
 * `LlmRegistry.answer()` (breaker + gate + adaptive limit + OpenAI client + degrade chain) against the
 * fake LLM running in its own process with a fixed time to first token.
 *
 * Scenarios, all with the same fake and the same visitors:
 *   raw      plain fetch + SSE parse per visitor, no kefu layer: the floor on this machine
 *   roomy    max_concurrency = visitors: every visitor is served by the model; shows kefu's overhead
 *   limited  max_concurrency = --limit: the gate fills; the rest get the busy reply at once
 *
 *   bun bench/fake-llm/llm-chain.ts [--visitors 500] [--ttft-ms 300] [--limit 32] [--rounds 3]
 *
 * Bun's fetch runs at most 256 HTTP requests at once per process (more wait inside fetch) unless
 * BUN_CONFIG_MAX_HTTP_REQUESTS is set in the environment at start-up; setting it from inside the process
 * has no effect. The result file name records a non-default value.
 */
import { parseArgs } from "node:util";
import { Value } from "@sinclair/typebox/value";
import { type LlmConfig, llmSection } from "../../src/llm/config";
import { LlmRegistry } from "../../src/llm/registry";
import { parseSse } from "../../src/llm/sse";
import { machineInfo, percentile, writeResult } from "../lib/machine";
import type { FakeLlmStats } from "./server";
import { spawnFakeLlm } from "./process";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    visitors: { type: "string", default: "500" },
    "ttft-ms": { type: "string", default: "300" },
    limit: { type: "string", default: "32" },
    rounds: { type: "string", default: "3" },
  },
});
const visitors = Number(values.visitors);
const ttftMs = Number(values["ttft-ms"]);
const limit = Number(values.limit);
const rounds = Number(values.rounds);
const maxHttp = process.env.BUN_CONFIG_MAX_HTTP_REQUESTS ?? "256 (default)";
const reply = "Our opening hours are 9:00 to 18:00, Monday to Friday.";

const { proc: fakeProc, base } = await spawnFakeLlm({ ttftMs, reply });

const messages = [{ role: "user" as const, content: "When do you open?" }];
const fallback = { text: "We are handling other requests, one moment.", meta: { offer_human: true } };

interface RoundResult {
  first_event_ms: number[];
  llm_first_delta_ms: number[];
  busy: number;
  llm: number;
  upstream_max_in_flight: number;
  wall_ms: number;
}

async function upstreamStats(): Promise<FakeLlmStats> {
  return (await (await fetch(`${base}/_fake/stats`)).json()) as FakeLlmStats;
}

async function rawRound(): Promise<RoundResult> {
  await fetch(`${base}/_fake/reset`, { method: "POST" });
  const firsts: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: visitors }, async () => {
      const start = performance.now();
      const res = await fetch(`${base}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "fake", messages, stream: true }),
      });
      let first = true;
      for await (const ev of parseSse(res.body!)) {
        if (ev.data === "[DONE]") break;
        const content = JSON.parse(ev.data).choices?.[0]?.delta?.content;
        if (first && content) {
          firsts.push(performance.now() - start);
          first = false;
        }
      }
    }),
  );
  const wall = performance.now() - t0;
  const s = await upstreamStats();
  return { first_event_ms: firsts, llm_first_delta_ms: firsts, busy: 0, llm: visitors, upstream_max_in_flight: s.maxInFlight, wall_ms: wall };
}

async function chainRound(maxConcurrency: number): Promise<RoundResult> {
  await fetch(`${base}/_fake/reset`, { method: "POST" });
  const cfg: LlmConfig = {
    ...(Value.Create(llmSection) as LlmConfig),
    providers: [{ name: "fake", base_url: `${base}/v1`, model: "fake", max_concurrency: maxConcurrency, min_concurrency: maxConcurrency }],
    answer_deadline_ms: 5000,
  };
  const registry = new LlmRegistry(cfg);
  const firsts: number[] = [];
  const llmFirsts: number[] = [];
  let busy = 0;
  let llm = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: visitors }, async () => {
      const start = performance.now();
      let first = true;
      for await (const ev of registry.answer({ messages, fallback })) {
        if (first) {
          const ms = performance.now() - start;
          firsts.push(ms);
          if (ev.type === "delta") llmFirsts.push(ms);
          first = false;
        }
        if (ev.type === "done") {
          if (ev.path === "busy") busy++;
          else llm++;
        }
      }
    }),
  );
  const wall = performance.now() - t0;
  const s = await upstreamStats();
  return { first_event_ms: firsts, llm_first_delta_ms: llmFirsts, busy, llm, upstream_max_in_flight: s.maxInFlight, wall_ms: wall };
}

function summarize(name: string, results: RoundResult[]) {
  // Median round by p99 of the model path, so one noisy round does not decide the figure.
  const scored = results.map((r) => {
    const llmSorted = [...r.llm_first_delta_ms].sort((a, b) => a - b);
    const allSorted = [...r.first_event_ms].sort((a, b) => a - b);
    return {
      scenario: name,
      visitors,
      llm_answers: r.llm,
      busy_replies: r.busy,
      busy_rate: Math.round((r.busy / visitors) * 1000) / 1000,
      upstream_max_in_flight: r.upstream_max_in_flight,
      first_delta_p50_ms: round(percentile(llmSorted, 50)),
      first_delta_p99_ms: round(percentile(llmSorted, 99)),
      overhead_p50_ms: round(percentile(llmSorted, 50) - ttftMs),
      overhead_p99_ms: round(percentile(llmSorted, 99) - ttftMs),
      first_event_p99_ms: round(percentile(allSorted, 99)),
      wall_ms: round(r.wall_ms),
    };
  });
  scored.sort((a, b) => a.first_delta_p99_ms - b.first_delta_p99_ms);
  return { ...scored[Math.floor(scored.length / 2)]!, rounds: scored.length };
}

const round = (x: number) => Math.round(x * 10) / 10;

try {
  // Warm-up: JIT, connection setup.
  await chainRound(visitors);
  const raw: RoundResult[] = [];
  const roomy: RoundResult[] = [];
  const limited: RoundResult[] = [];
  for (let i = 0; i < rounds; i++) {
    raw.push(await rawRound());
    roomy.push(await chainRound(visitors));
    limited.push(await chainRound(limit));
  }
  const rows = [summarize("raw fetch (floor)", raw), summarize(`kefu, limit ${visitors}`, roomy), summarize(`kefu, limit ${limit}`, limited)];
  const machine = machineInfo();
  const cols = Object.keys(rows[0]!) as (keyof (typeof rows)[number])[];
  const md = [
    `# LLM flow-control overhead (${machine.date.slice(0, 10)})`,
    "",
    `${visitors} concurrent visitors, fake LLM in its own process with ${ttftMs} ms to first token, ${rounds} rounds (median round by p99 shown).`,
    "`overhead` = time to first delta minus the fake's own time to first token; `raw fetch` is the same load without kefu's layer, the floor on this machine.",
    "",
    `| ${cols.join(" | ")} |`,
    `| ${cols.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${cols.map((c) => r[c]).join(" | ")} |`),
    "",
    `BUN_CONFIG_MAX_HTTP_REQUESTS: ${maxHttp} (Bun's cap on simultaneous fetches; above it requests wait inside fetch, see upstream_max_in_flight).`,
    "",
    `Machine: ${machine.cpu}, ${machine.cores} cores, Bun ${machine.bun}. Command: \`bun bench/fake-llm/llm-chain.ts --visitors ${visitors} --ttft-ms ${ttftMs} --limit ${limit} --rounds ${rounds}\`.`,
  ].join("\n");
  console.log(md);
  const name = process.env.BUN_CONFIG_MAX_HTTP_REQUESTS ? `llm-chain-maxhttp${process.env.BUN_CONFIG_MAX_HTTP_REQUESTS}` : "llm-chain";
  const paths = await writeResult(name, { machine, visitors, ttft_ms: ttftMs, limit, rounds, bun_max_http_requests: maxHttp, rows }, md);
  console.log(`\nwritten: ${paths.join(", ")}`);
} finally {
  fakeProc.kill();
  await fakeProc.exited;
}
