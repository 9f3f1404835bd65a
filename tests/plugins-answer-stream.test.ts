import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type FakeLlm, startFakeLlm } from "../bench/fake-llm/server";
import { startTestServer, type TestServer } from "./helpers/server";
import { visitor } from "./helpers/ws-client";

// onAnswer on a streamed LLM answer: the visitor saw the model's text as deltas; the plugin's rewrite
// arrives after a reset frame, and the stored message is the rewrite.
let s: TestServer;
let llm: FakeLlm;
let dir: string;
beforeAll(async () => {
  llm = await startFakeLlm({ reply: "Our competitor ShopMax is cheaper, but we ship faster.", tokensPerSecond: 400 });
  dir = mkdtempSync(join(tmpdir(), "kefu-plugins-stream-"));
  mkdirSync(join(dir, "plugins"));
  writeFileSync(
    join(dir, "plugins", "brand.ts"),
    `export default { name: "brand", onAnswer: (ctx, a) => (a.path === "llm" && a.text.includes("ShopMax") ? { text: a.text.replaceAll("ShopMax", "another shop") } : undefined) };`,
  );
  s = await startTestServer(
    { log: { level: "warn" }, plugins: { watch: false }, llm: { providers: [{ name: "fake", base_url: llm.url, model: "m", max_concurrency: 4 }], answer_deadline_ms: 5000 } },
    dir,
  );
});
afterAll(async () => {
  await s.stop();
  await llm.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("a rewritten streamed answer: deltas, a reset, then the rewrite is the message", async () => {
  const { c } = await visitor(s.wsUrl, { lang: "en" });
  c.send({ type: "send", client_id: "s1", text: "why should I buy from you and not elsewhere?" });
  const final = await c.nextType("message", (f) => f.from === "bot");
  expect(final.text).toBe("Our competitor another shop is cheaper, but we ship faster.");
  const seen = c.frames;
  const deltas = seen.filter((f) => f.type === "delta").map((f) => f.text).join("");
  expect(deltas).toContain("ShopMax");
  expect(seen.findIndex((f) => f.type === "reset")).toBeGreaterThan(seen.findIndex((f) => f.type === "delta"));
  c.close();
}, 15_000);
