import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type FakeLlm, fakeTokens, startFakeLlm } from "../../bench/fake-llm/server";

let fake: FakeLlm;
beforeAll(async () => {
  fake = await startFakeLlm();
});
afterAll(() => fake.stop());

function post(body: Record<string, unknown>, signal?: AbortSignal) {
  return fetch(`${fake.url}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer k" },
    body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }], ...body }),
    signal,
  });
}

function contents(sse: string): string[] {
  return sse
    .split("\n\n")
    .filter((e) => e.startsWith("data: {"))
    .map((e) => JSON.parse(e.slice(6)).choices[0].delta.content ?? "");
}

describe("fake LLM", () => {
  test("splits words and CJK characters into tokens", () => {
    expect(fakeTokens("Hi there, 你好!")).toEqual(["Hi ", "there, ", "你", "好", "!"]);
  });

  test("streams the scripted reply as SSE chunks ending with [DONE]", async () => {
    fake.setOptions({ reply: "one two three" });
    fake.resetStats();
    const res = await post({ stream: true });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const text = await res.text();
    expect(contents(text).join("")).toBe("one two three");
    expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
    expect(fake.stats).toMatchObject({ requests: 1, completed: 1, inFlight: 0, cancelled: 0 });
    expect(fake.lastRequest?.authorization).toBe("Bearer k");
  });

  test("answers non-streaming requests with a chat.completion", async () => {
    fake.setOptions({ reply: (r) => `echo: ${r.messages.at(-1)?.content}` });
    const json = (await (await post({ stream: false })).json()) as { choices: { message: { content: string } }[] };
    expect(json.choices[0]!.message.content).toBe("echo: hi");
  });

  test("injects HTTP errors at the configured rate", async () => {
    fake.setOptions({ errorRate: 1, errorStatus: 429 });
    fake.resetStats();
    const res = await post({ stream: true });
    expect(res.status).toBe(429);
    await res.text();
    expect(fake.stats.errors).toBe(1);
    fake.setOptions({ errorRate: 0 });
  });

  test("sends a malformed stream that ends without [DONE]", async () => {
    fake.setOptions({ malformedRate: 1, reply: "a b c" });
    const text = await (await post({ stream: true })).text();
    expect(text).toContain('"content": "trunc');
    expect(text).not.toContain("[DONE]");
    fake.setOptions({ malformedRate: 0 });
  });

  test("sees a client abort mid-stream as a cancel", async () => {
    fake.setOptions({ reply: "a b c d e f g h", tokensPerSecond: 20 });
    fake.resetStats();
    const ac = new AbortController();
    const res = await post({ stream: true }, ac.signal);
    const reader = res.body!.getReader();
    await reader.read();
    expect(fake.stats.inFlight).toBe(1);
    ac.abort();
    await fake.waitFor((s) => s.cancelled === 1);
    expect(fake.stats).toMatchObject({ inFlight: 0, completed: 0, cancelled: 1 });
    fake.setOptions({ tokensPerSecond: 0 });
  });

  test("a hang never answers until the client gives up, then counts as cancelled", async () => {
    fake.setOptions({ hangRate: 1 });
    fake.resetStats();
    const ac = new AbortController();
    const pending = post({ stream: true }, ac.signal).then(
      () => "answered",
      () => "aborted",
    );
    await fake.waitFor((s) => s.inFlight === 1);
    ac.abort();
    expect(await pending).toBe("aborted");
    await fake.waitFor((s) => s.cancelled === 1);
    expect(fake.stats).toMatchObject({ hangs: 1, inFlight: 0 });
    fake.setOptions({ hangRate: 0 });
  });

  test("tracks the maximum number of requests in flight", async () => {
    fake.setOptions({ ttftMs: 50, reply: "x" });
    fake.resetStats();
    await Promise.all([1, 2, 3].map(() => post({ stream: true }).then((r) => r.text())));
    expect(fake.stats.maxInFlight).toBe(3);
    expect(fake.stats.completed).toBe(3);
    fake.setOptions({ ttftMs: 0 });
  });

  test("the same seed gives the same error pattern", async () => {
    const pattern = async () => {
      fake.setOptions({ errorRate: 0.5, seed: 42 });
      const out: number[] = [];
      for (let i = 0; i < 8; i++) {
        const res = await post({ stream: false });
        out.push(res.status);
        await res.text();
      }
      return out;
    };
    const a = await pattern();
    expect(await pattern()).toEqual(a);
    expect(new Set(a).size).toBe(2);
    fake.setOptions({ errorRate: 0 });
  });
});

test("exposes its stats over HTTP for out-of-process benchmarks", async () => {
  const f = await startFakeLlm();
  try {
    await fetch(`${f.url}/chat/completions`, { method: "POST", body: JSON.stringify({ messages: [] }) }).then((r) => r.text());
    const base = f.url.replace(/\/v1$/, "");
    expect(await (await fetch(`${base}/_fake/stats`)).json()).toMatchObject({ requests: 1, completed: 1 });
    expect(await (await fetch(`${base}/_fake/reset`, { method: "POST" })).json()).toMatchObject({ requests: 0 });
  } finally {
    await f.stop();
  }
});
