import { afterAll, beforeAll, expect, test } from "bun:test";
import { type FakeLlm, startFakeLlm } from "../bench/fake-llm/server";
import { startTestServer, type TestServer } from "./helpers/server";
import { cid, visitor } from "./helpers/ws-client";

/**
 * Issue 5, done-when 2, through the real chat: the only provider fails every call. Each visitor still
 * gets a bot reply (a suggestion or an honest offer of a human), the breaker opens after the configured
 * failures, and once open the provider is not called any more.
 */
let llm: FakeLlm;
let s: TestServer;
beforeAll(async () => {
  llm = await startFakeLlm({ errorRate: 1, errorStatus: 500 });
  s = await startTestServer({
    log: { level: "warn" },
    chat: { bot_misses_before_handoff: 0 },
    llm: {
      providers: [{ name: "down", base_url: llm.url, model: "m" }],
      answer_deadline_ms: 2000,
      breaker_min_requests: 3,
      breaker_failure_rate: 0.5,
      breaker_open_ms: 600000,
    },
  });
});
afterAll(async () => {
  await s.stop();
  await llm.stop();
});

test("provider hard down: every visitor gets a reply, the breaker opens and stops the calls", async () => {
  const questions = ["Which colours does the winter jacket come in?", "Can I book a fitting appointment?", "What material is the scarf made of?", "Do you have a loyalty card?", "Can I pick up in person?", "Do you repair bicycles?"];
  for (const q of questions) {
    const { c } = await visitor(s.wsUrl, { lang: "en" });
    c.send({ type: "send", client_id: cid(), text: q });
    const reply = await c.nextType("message", (f) => f.from === "bot");
    expect(reply.text.length).toBeGreaterThan(0);
    expect({ q, text: reply.text }).toMatchObject({ q, text: expect.stringMatching(/human|Did you mean/) });
    await c.close();
  }
  // Three failures opened the breaker; later questions never reached the provider.
  expect(llm.stats.requests).toBe(3);
  const admin = await s.login("admin");
  const status = (await (await fetch(`${s.url}/api/admin/llm/providers`, { headers: { authorization: `Bearer ${admin}` } })).json()) as {
    providers: { name: string; breaker: { state: string } }[];
  };
  expect(status.providers.find((p) => p.name === "down")?.breaker.state).toBe("open");
});
