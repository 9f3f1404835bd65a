import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { type FakeLlm, startFakeLlm } from "../../bench/fake-llm/server";
import { KefuError } from "../errors/kefu-error";
import { type ProviderConfig, resolveProviderConfig } from "./config";
import { isProviderFault, OpenAiClient } from "./openai-client";

let fake: FakeLlm;
beforeAll(async () => {
  fake = await startFakeLlm();
});
afterAll(() => fake.stop());
beforeEach(() => {
  fake.setOptions({ ttftMs: 0, tokensPerSecond: 0, errorRate: 0, hangRate: 0, malformedRate: 0, reply: "Hello there friend" });
  fake.resetStats();
});

function provider(over: Partial<ProviderConfig> = {}): ProviderConfig {
  return resolveProviderConfig({ name: "fake", base_url: fake.url, model: "fake-model", ...over });
}

const ask = [{ role: "user" as const, content: "hi" }];

async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const d of it) out.push(d);
  return out;
}

async function failure(p: Promise<unknown>): Promise<KefuError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(KefuError);
    return e as KefuError;
  }
  throw new Error("expected a rejection");
}

/** A fetch that answers with the given raw body parts, for stream shapes the fake does not produce. */
function rawFetch(parts: string[], init: ResponseInit = { headers: { "content-type": "text/event-stream" } }) {
  return (async () =>
    new Response(
      new ReadableStream({
        start(c) {
          for (const p of parts) c.enqueue(new TextEncoder().encode(p));
          c.close();
        },
      }),
      init,
    )) as unknown as typeof fetch;
}

describe("OpenAiClient", () => {
  test("streams text deltas and sends model, messages and the bearer key", async () => {
    const client = new OpenAiClient(provider({ api_key: "sk-test", temperature: 0.2 }));
    expect(await collect(client.stream(ask))).toEqual(["Hello ", "there ", "friend"]);
    expect(fake.lastRequest).toMatchObject({ model: "fake-model", stream: true, authorization: "Bearer sk-test" });
    expect(fake.lastRequest?.messages).toEqual(ask);
  });

  test("reads the key from the env var named by api_key_env, and refuses a missing one at construction", () => {
    new OpenAiClient(provider({ api_key_env: "MY_KEY" }), { env: { MY_KEY: "sk-env" } });
    expect(() => new OpenAiClient(provider({ api_key_env: "MY_KEY" }), { env: {} })).toThrow(/MY_KEY/);
  });

  test("complete() joins the deltas", async () => {
    expect(await new OpenAiClient(provider()).complete(ask)).toBe("Hello there friend");
  });

  test("maps an HTTP error to llm_http_error with the status and provider message", async () => {
    fake.setOptions({ errorRate: 1, errorStatus: 429 });
    const err = await failure(collect(new OpenAiClient(provider()).stream(ask)));
    expect(err.code).toBe("llm_http_error");
    expect(err.details).toMatchObject({ provider: "fake", status: 429 });
    expect(err.message).toContain("rate limit");
    expect(isProviderFault(err)).toBe(true);
  });

  test("a malformed stream is llm_bad_stream after the good tokens", async () => {
    fake.setOptions({ malformedRate: 1 });
    const seen: string[] = [];
    const err = await failure(
      (async () => {
        for await (const d of new OpenAiClient(provider()).stream(ask)) seen.push(d);
      })(),
    );
    expect(err.code).toBe("llm_bad_stream");
    expect(seen).toEqual(["Hello "]);
  });

  test("connect timeout on a provider that never answers, and the fake sees the cancel", async () => {
    fake.setOptions({ hangRate: 1 });
    const err = await failure(collect(new OpenAiClient(provider({ connect_timeout_ms: 50 })).stream(ask)));
    expect(err.code).toBe("llm_timeout");
    expect(err.details).toMatchObject({ phase: "connect", timeout_ms: 50 });
    await fake.waitFor((s) => s.cancelled === 1);
  });

  test("first-token timeout when headers come but tokens do not", async () => {
    fake.setOptions({ ttftMs: 5000 });
    const err = await failure(collect(new OpenAiClient(provider({ first_token_timeout_ms: 50 })).stream(ask)));
    expect(err.details).toMatchObject({ phase: "first_token" });
    await fake.waitFor((s) => s.cancelled === 1);
  });

  test("total timeout on a stream that is too slow", async () => {
    fake.setOptions({ tokensPerSecond: 10, reply: "a b c d e f g h i j" });
    const err = await failure(collect(new OpenAiClient(provider({ timeout_ms: 150 })).stream(ask)));
    expect(err.details).toMatchObject({ phase: "total" });
  });

  test("aborting mid-stream cancels the upstream request", async () => {
    fake.setOptions({ tokensPerSecond: 20, reply: "a b c d e f g h i j" });
    const ac = new AbortController();
    const seen: string[] = [];
    const err = await failure(
      (async () => {
        for await (const d of new OpenAiClient(provider()).stream(ask, { signal: ac.signal })) {
          seen.push(d);
          if (seen.length === 2) ac.abort();
        }
      })(),
    );
    expect(err.code).toBe("llm_aborted");
    expect(isProviderFault(err)).toBe(false);
    await fake.waitFor((s) => s.cancelled === 1);
    expect(fake.stats.completed).toBe(0);
  });

  test("breaking out of the loop also cancels the upstream request", async () => {
    fake.setOptions({ tokensPerSecond: 20, reply: "a b c d e f g h i j" });
    for await (const _ of new OpenAiClient(provider()).stream(ask)) break;
    await fake.waitFor((s) => s.cancelled === 1);
  });

  test("an already-aborted signal fails before any request", async () => {
    const err = await failure(collect(new OpenAiClient(provider()).stream(ask, { signal: AbortSignal.abort() })));
    expect(err.code).toBe("llm_aborted");
    expect(fake.stats.requests).toBe(0);
  });

  test("a refused connection is llm_unreachable", async () => {
    const closed = await startFakeLlm();
    const url = closed.url;
    await closed.stop();
    const err = await failure(collect(new OpenAiClient(provider({ base_url: url })).stream(ask)));
    expect(err.code).toBe("llm_unreachable");
  });

  test("accepts a JSON answer from a server that ignores stream: true", async () => {
    const fetchJson = (async () =>
      Response.json({ choices: [{ message: { role: "assistant", content: "whole" } }] })) as unknown as typeof fetch;
    expect(await collect(new OpenAiClient(provider(), { fetch: fetchJson }).stream(ask))).toEqual(["whole"]);
  });

  test("a finish_reason without [DONE] completes; neither is llm_bad_stream", async () => {
    const chunk = (content: string, finish: string | null) =>
      `data: ${JSON.stringify({ choices: [{ delta: { content }, finish_reason: finish }] })}\n\n`;
    const ok = new OpenAiClient(provider(), { fetch: rawFetch([": ping\n\n", chunk("a", null), chunk("b", "stop")]) });
    expect(await collect(ok.stream(ask))).toEqual(["a", "b"]);
    const cut = new OpenAiClient(provider(), { fetch: rawFetch([chunk("a", null)]) });
    expect((await failure(collect(cut.stream(ask)))).code).toBe("llm_bad_stream");
  });

  test("skips chunks without choices and maps an in-stream error object", async () => {
    const parts = [`data: {"choices":[],"usage":{"total_tokens":3}}\n\n`, `data: {"error":{"message":"overloaded"}}\n\n`];
    const err = await failure(collect(new OpenAiClient(provider(), { fetch: rawFetch(parts) }).stream(ask)));
    expect(err.code).toBe("llm_http_error");
    expect(err.message).toContain("overloaded");
  });

  test("refuses a body that is not an event stream", async () => {
    const html = rawFetch(["<html>proxy</html>"], { headers: { "content-type": "text/html" } });
    expect((await failure(collect(new OpenAiClient(provider(), { fetch: html }).stream(ask)))).code).toBe("llm_bad_stream");
  });

  test("request-specific 4xx answers are not provider faults", () => {
    const e = (status: number) => new KefuError("llm_http_error", 502, "x", { status });
    expect(isProviderFault(e(400))).toBe(false);
    expect(isProviderFault(e(401))).toBe(true);
    expect(isProviderFault(e(503))).toBe(true);
  });
});

describe("resolveProviderConfig", () => {
  test("fills defaults", () => {
    expect(resolveProviderConfig({ name: "a", base_url: "http://x/v1", model: "m" })).toMatchObject({
      timeout_ms: 60000,
      max_concurrency: 128,
      min_concurrency: 1,
      initial_concurrency: 32,
      priority: 100,
    });
    // A provider capped below the default start begins at its cap, as before.
    expect(resolveProviderConfig({ name: "a", base_url: "http://x/v1", model: "m", max_concurrency: 4 }).initial_concurrency).toBe(4);
  });

  test("rejects inconsistent entries", () => {
    expect(() => resolveProviderConfig({ name: "a", base_url: "ftp://x", model: "m" })).toThrow(/base_url/);
    expect(() => resolveProviderConfig({ name: "a", base_url: "http://x", model: "m", min_concurrency: 5, max_concurrency: 2 })).toThrow(
      /min_concurrency/,
    );
    expect(() => resolveProviderConfig({ name: "a", base_url: "http://x", model: "m", api_key: "k", api_key_env: "K" })).toThrow(/not both/);
    expect(() => resolveProviderConfig({ name: "a", base_url: "http://x", model: "m", max_concurrency: 8, initial_concurrency: 9 })).toThrow(/initial_concurrency/);
  });
});
