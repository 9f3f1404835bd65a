/**
 * Fake OpenAI-compatible chat-completions server for tests and benchmarks.
 *
 * Speaks `POST /v1/chat/completions` (also `/chat/completions`) with and without `stream: true`, and
 * misbehaves on request: slow first token, slow tokens, HTTP errors, hangs that never answer, malformed
 * SSE. Its stats tell a test what the client really did upstream (max in flight, cancelled streams).
 *
 * Standalone: `bun bench/fake-llm/server.ts --port 8787 --ttft-ms 300 --tps 50 --error-rate 0.1`;
 * `GET /_fake/stats` returns the counters and `POST /_fake/reset` zeroes them.
 */

export interface FakeLlmRequestInfo {
  model: string;
  messages: { role: string; content: string }[];
  stream: boolean;
  authorization: string | null;
}

export interface FakeLlmOptions {
  /** TCP port; 0 (default) picks a free one. */
  port: number;
  /** Interface to bind; loopback by default so tests never leave the machine. */
  hostname: string;
  /** Delay before the first token (streaming) or before the whole answer (non-streaming). Default 0. */
  ttftMs: number;
  /** Tokens per second after the first token; 0 (default) sends them back to back. */
  tokensPerSecond: number;
  /** Reply text, or a function of the request (e.g. to echo the question). Default "Hello from the fake LLM." */
  reply: string | ((req: FakeLlmRequestInfo) => string);
  /** Share of requests answered with `errorStatus` instead of a completion, 0..1. Default 0. */
  errorRate: number;
  /** Status used for injected errors. Default 500. */
  errorStatus: 500 | 429 | 502 | 503;
  /** Share of requests that never answer (no headers, no body) until the client gives up, 0..1. Default 0. */
  hangRate: number;
  /** Share of streaming requests that send one good token, then a line that is not JSON and end without
   * `[DONE]`, 0..1. Default 0. */
  malformedRate: number;
  /** Seed of the deterministic generator deciding error/hang/malformed; same seed, same sequence. Default 1. */
  seed: number;
}

export interface FakeLlmStats {
  /** Chat-completion requests received. */
  requests: number;
  /** Requests currently being answered (from arrival until the last byte or the cancel). */
  inFlight: number;
  /** Highest `inFlight` seen since start (or the last `resetStats`). */
  maxInFlight: number;
  /** Requests the client abandoned before the answer was complete (mid-stream or while hanging). */
  cancelled: number;
  /** Requests whose complete answer was written. */
  completed: number;
  /** Injected HTTP errors sent. */
  errors: number;
  /** Requests that hung (and were later cancelled by the client). */
  hangs: number;
  /** Malformed streams sent. */
  malformed: number;
}

export interface FakeLlm {
  /** Base URL to put in a provider's `base_url`, e.g. `http://127.0.0.1:41234/v1`. */
  readonly url: string;
  readonly port: number;
  /** Live counters (the same object is updated in place). */
  readonly stats: FakeLlmStats;
  /** The last request body received, for assertions on prompts and headers. */
  readonly lastRequest: FakeLlmRequestInfo | null;
  setOptions(partial: Partial<Omit<FakeLlmOptions, "port" | "hostname">>): void;
  resetStats(): void;
  /** Resolves once `stats` satisfies `predicate` (checked on every change), for tests that wait for a cancel. */
  waitFor(predicate: (s: FakeLlmStats) => boolean): Promise<void>;
  stop(): Promise<void>;
}

export const FAKE_LLM_DEFAULTS: FakeLlmOptions = {
  port: 0,
  hostname: "127.0.0.1",
  ttftMs: 0,
  tokensPerSecond: 0,
  reply: "Hello from the fake LLM.",
  errorRate: 0,
  errorStatus: 500,
  hangRate: 0,
  malformedRate: 0,
  seed: 1,
};

/** mulberry32: tiny deterministic PRNG so an error rate of 0.3 gives a reproducible pattern. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Splits text the way a tokenizer roughly would: one CJK character or one word with its trailing space. */
export function fakeTokens(text: string): string[] {
  return text.match(/[\u3000-\u9fff\uac00-\ud7af\uff00-\uffef]|[^\s\u3000-\u9fff\uac00-\ud7af\uff00-\uffef]+\s*|\s+/gu) ?? [];
}

const encoder = new TextEncoder();

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

export async function startFakeLlm(opts: Partial<FakeLlmOptions> = {}): Promise<FakeLlm> {
  let options: FakeLlmOptions = { ...FAKE_LLM_DEFAULTS, ...opts };
  let random = prng(options.seed);
  const stats: FakeLlmStats = emptyStats();
  let lastRequest: FakeLlmRequestInfo | null = null;
  const waiters = new Set<{ predicate: (s: FakeLlmStats) => boolean; resolve: () => void }>();
  let nextId = 1;

  function resetStats() {
    Object.assign(stats, emptyStats(), { inFlight: stats.inFlight, maxInFlight: stats.inFlight });
  }

  function changed() {
    for (const w of waiters) {
      if (w.predicate(stats)) {
        waiters.delete(w);
        w.resolve();
      }
    }
  }

  function begin() {
    stats.requests++;
    stats.inFlight++;
    if (stats.inFlight > stats.maxInFlight) stats.maxInFlight = stats.inFlight;
    changed();
  }

  /** Ends a request exactly once, whichever of finish/cancel/error happens first. */
  function ender() {
    let ended = false;
    return (kind: "completed" | "cancelled" | "errors" | "malformed") => {
      if (ended) return;
      ended = true;
      stats.inFlight--;
      stats[kind]++;
      changed();
    };
  }

  async function handle(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    // For benchmarks that run the fake in its own process.
    if (req.method === "GET" && path === "/_fake/stats") return Response.json(stats);
    if (req.method === "POST" && path === "/_fake/reset") {
      resetStats();
      return Response.json(stats);
    }
    if (req.method === "GET" && (path === "/v1/models" || path === "/models")) {
      return Response.json({ object: "list", data: [{ id: "fake", object: "model" }] });
    }
    if (req.method !== "POST" || !(path === "/v1/chat/completions" || path === "/chat/completions")) {
      return Response.json({ error: { message: "not found", type: "invalid_request_error" } }, { status: 404 });
    }
    let body: { model?: unknown; messages?: unknown; stream?: unknown };
    try {
      body = (await req.json()) as typeof body;
    } catch {
      return Response.json({ error: { message: "body is not JSON", type: "invalid_request_error" } }, { status: 400 });
    }
    const info: FakeLlmRequestInfo = {
      model: String(body.model ?? ""),
      messages: Array.isArray(body.messages) ? (body.messages as FakeLlmRequestInfo["messages"]) : [],
      stream: body.stream === true,
      authorization: req.headers.get("authorization"),
    };
    lastRequest = info;
    begin();
    const end = ender();
    const o = options;
    // Draw every decision for every request so one rate does not shift the sequence of another.
    const rollHang = random();
    const rollError = random();
    const rollMalformed = random();

    if (rollHang < o.hangRate) {
      stats.hangs++;
      return new Promise<Response>((resolve) => {
        const onAbort = () => {
          end("cancelled");
          resolve(new Response(null, { status: 499 }));
        };
        if (req.signal.aborted) onAbort();
        else req.signal.addEventListener("abort", onAbort, { once: true });
      });
    }
    if (rollError < o.errorRate) {
      end("errors");
      const message = o.errorStatus === 429 ? "rate limit reached (fake)" : "internal error (fake)";
      return Response.json({ error: { message, type: "server_error" } }, { status: o.errorStatus });
    }

    const text = typeof o.reply === "function" ? o.reply(info) : o.reply;
    const tokens = fakeTokens(text);
    const gapMs = o.tokensPerSecond > 0 ? 1000 / o.tokensPerSecond : 0;
    const id = `chatcmpl-fake-${nextId++}`;
    const created = Math.floor(Date.now() / 1000);

    if (!info.stream) {
      await sleep(o.ttftMs + gapMs * Math.max(0, tokens.length - 1), req.signal);
      if (req.signal.aborted) {
        end("cancelled");
        return new Response(null, { status: 499 });
      }
      end("completed");
      return Response.json({
        id,
        object: "chat.completion",
        created,
        model: info.model,
        choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
        usage: { prompt_tokens: 0, completion_tokens: tokens.length, total_tokens: tokens.length },
      });
    }

    const malformed = rollMalformed < o.malformedRate;
    const chunk = (delta: Record<string, unknown>, finish: string | null) =>
      encoder.encode(
        `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: info.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`,
      );
    // A local controller, because `cancel` may fire before `req.signal` and both must stop the writer.
    const stop = new AbortController();
    req.signal.addEventListener("abort", () => stop.abort(), { once: true });
    const stream = new ReadableStream<Uint8Array>({
      async start(controller) {
        try {
          controller.enqueue(chunk({ role: "assistant", content: "" }, null));
          await sleep(o.ttftMs, stop.signal);
          for (let i = 0; i < tokens.length; i++) {
            if (stop.signal.aborted) return;
            if (i > 0) await sleep(gapMs, stop.signal);
            if (stop.signal.aborted) return;
            controller.enqueue(chunk({ content: tokens[i] }, null));
            if (malformed) {
              controller.enqueue(encoder.encode("data: {\"choices\": [{\"delta\": {\"content\": \"trunc\n\n"));
              controller.close();
              end("malformed");
              return;
            }
          }
          if (stop.signal.aborted) return;
          controller.enqueue(chunk({}, "stop"));
          controller.enqueue(encoder.encode("data: [DONE]\n\n"));
          controller.close();
          end("completed");
        } catch {
          // enqueue on a stream the client already cancelled: the cancel path counts it.
        } finally {
          if (stop.signal.aborted) end("cancelled");
        }
      },
      cancel() {
        stop.abort();
        end("cancelled");
      },
    });
    return new Response(stream, {
      headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" },
    });
  }

  const server = Bun.serve({ port: options.port, hostname: options.hostname, idleTimeout: 0, fetch: handle });
  const port = server.port as number;

  return {
    url: `http://${options.hostname}:${port}/v1`,
    port,
    stats,
    get lastRequest() {
      return lastRequest;
    },
    setOptions(partial) {
      options = { ...options, ...partial };
      if (partial.seed !== undefined) random = prng(partial.seed);
    },
    resetStats,
    waitFor(predicate) {
      if (predicate(stats)) return Promise.resolve();
      return new Promise((resolve) => waiters.add({ predicate, resolve }));
    },
    async stop() {
      await server.stop(true);
    },
  };
}

function emptyStats(): FakeLlmStats {
  return { requests: 0, inFlight: 0, maxInFlight: 0, cancelled: 0, completed: 0, errors: 0, hangs: 0, malformed: 0 };
}

if (import.meta.main) {
  const { parseArgs } = await import("node:util");
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "8787" },
      host: { type: "string", default: "127.0.0.1" },
      "ttft-ms": { type: "string", default: "0" },
      tps: { type: "string", default: "0" },
      "error-rate": { type: "string", default: "0" },
      "error-status": { type: "string", default: "500" },
      "hang-rate": { type: "string", default: "0" },
      "malformed-rate": { type: "string", default: "0" },
      reply: { type: "string", default: FAKE_LLM_DEFAULTS.reply as string },
      seed: { type: "string", default: "1" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(
      "usage: bun bench/fake-llm/server.ts [--port 8787] [--host 127.0.0.1] [--ttft-ms 0] [--tps 0]\n" +
        "  [--error-rate 0] [--error-status 500|429|502|503] [--hang-rate 0] [--malformed-rate 0]\n" +
        "  [--reply TEXT] [--seed 1]",
    );
    process.exit(0);
  }
  const status = Number(values["error-status"]);
  if (![500, 429, 502, 503].includes(status)) {
    console.error("--error-status must be 500, 429, 502 or 503");
    process.exit(2);
  }
  const fake = await startFakeLlm({
    port: Number(values.port),
    hostname: values.host,
    ttftMs: Number(values["ttft-ms"]),
    tokensPerSecond: Number(values.tps),
    errorRate: Number(values["error-rate"]),
    errorStatus: status as FakeLlmOptions["errorStatus"],
    hangRate: Number(values["hang-rate"]),
    malformedRate: Number(values["malformed-rate"]),
    reply: values.reply,
    seed: Number(values.seed),
  });
  console.log(`fake LLM listening on ${fake.url} (POST /chat/completions)`);
  setInterval(() => console.log(JSON.stringify(fake.stats)), 5000).unref();
}
