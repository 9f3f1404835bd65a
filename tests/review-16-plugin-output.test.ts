import { afterAll, beforeAll, expect, test } from "bun:test";
import { type PluginTestServer, startPluginServer } from "./helpers/plugin-server";
import { visitor } from "./helpers/ws-client";

// Review of issue 16: what a plugin hands the visitor is bounded like any other bot message. A 10 MB
// answer, a rewrite of 10 MB, a source with a javascript: link and a plugin that send()s thousands of
// messages must not reach the visitor as such.
let s: PluginTestServer;
beforeAll(async () => {
  s = await startPluginServer("review16-output", {
    "noisy.ts": `export default { name: "noisy",
      async onMessage({ message, conversation, send, log }) {
        if (message.text === "big") return { text: "x".repeat(10_000_000), choices: ["c".repeat(100_000)] };
        if (message.text === "links") return { text: "see", sources: [{ id: "a", title: "bad", url: "javascript:alert(1)" }, { id: "b", title: "good", url: "https://shop.example/b" }] };
        // Late messages: a flood of send()s after the hook returned.
        if (message.text === "flood") {
          const id = conversation.id;
          setTimeout(async () => {
            const sent = await Promise.all(Array.from({ length: 2000 }, (_, i) => send(id, "spam " + i)));
            await new Promise((r) => setTimeout(r, 1200)); // a token back for the report
            await send(id, "sent " + sent.filter(Boolean).length);
          }, 50);
          return { text: "flooding" };
        }
        if (message.text === "log") { log.info("shipping rule", { plugin: "someone-else", rule: 7 }); return { text: "logged" }; }
        if (message.text === "long send") { const id = conversation.id; setTimeout(() => send(id, "y".repeat(1_000_000)), 50); return { text: "done" }; }
      },
      onAnswer(ctx, answer) { if (ctx.message.text === "rewrite") return { text: "z".repeat(10_000_000) }; },
    };`,
  }, { plugins: { watch: false, hook_timeout_ms: 4000 } });
});
afterAll(() => s.stop());

const MAX = 4000; // [chat] max_text_chars, the longest message text

test("a 10 MB answer or rewrite reaches the visitor cut to the longest message text", async () => {
  const { c } = await visitor(s.wsUrl);
  c.send({ type: "send", client_id: "b1", text: "big" });
  const big = await c.nextType("message", (f) => f.from === "bot");
  expect(String(big.text).length).toBeLessThanOrEqual(MAX);
  expect(String(big.text).startsWith("xxxx")).toBe(true);
  for (const ch of (big.choices ?? []) as { question: string }[]) expect(ch.question.length).toBeLessThanOrEqual(200);
  c.send({ type: "send", client_id: "b2", text: "rewrite" });
  const rewritten = await c.nextType("message", (f) => f.from === "bot");
  expect(String(rewritten.text).length).toBeLessThanOrEqual(MAX);
  expect(String(rewritten.text).startsWith("zzzz")).toBe(true);
  c.close();
}, 20_000);

test("a source link that is not http(s) is dropped, the source kept", async () => {
  const { c } = await visitor(s.wsUrl);
  c.send({ type: "send", client_id: "l1", text: "links" });
  const m = await c.nextType("message", (f) => f.from === "bot");
  expect(m.sources).toEqual([{ id: "a", title: "bad" }, { id: "b", title: "good", url: "https://shop.example/b" }]);
  c.close();
}, 10_000);

test("send() is rate-limited per conversation and cut like any message", async () => {
  const { c } = await visitor(s.wsUrl);
  c.send({ type: "send", client_id: "f1", text: "flood" });
  const answer = await c.nextType("message", (f) => f.from === "bot" && String(f.text).startsWith("sent "));
  const sent = Number(String(answer.text).slice(5));
  // A burst of ten, then about one a second: the report itself may be refused too.
  expect(sent).toBeGreaterThan(0);
  expect(sent).toBeLessThanOrEqual(20);
  expect(c.frames.filter((f) => f.type === "message" && String(f.text).startsWith("spam ")).length).toBe(sent);
  c.close();

  const { c: d } = await visitor(s.wsUrl);
  d.send({ type: "send", client_id: "g1", text: "long send" });
  const long = await d.nextType("message", (f) => f.from === "bot" && String(f.text).startsWith("y"));
  expect(String(long.text).length).toBeLessThanOrEqual(MAX);
  d.close();
}, 20_000);

test("a plugin's log line names the plugin that wrote it, whatever its fields say", async () => {
  const { c } = await visitor(s.wsUrl);
  c.send({ type: "send", client_id: "log1", text: "log" });
  expect((await c.nextType("message", (f) => f.from === "bot")).text).toBe("logged");
  const line = s.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === "shipping rule");
  expect(line).toMatchObject({ plugin: "noisy", rule: 7 });
  c.close();
}, 10_000);
