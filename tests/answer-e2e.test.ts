import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type FakeLlm, startFakeLlm } from "../bench/fake-llm/server";
import { demoShopFaq } from "../src/demo/shop-faq";
import { startTestServer, type TestServer } from "./helpers/server";
import { cid, visitor } from "./helpers/ws-client";

/** The answer pipeline behind the real chat and REST API, with the fake LLM on loopback. */
let llm: FakeLlm;
let s: TestServer;
let admin: string;
const pluginDir = mkdtempSync(join(tmpdir(), "kefu-e2e-plugins-"));
writeFileSync(
  join(pluginDir, "decider.ts"),
  `export default {
    name: "decider",
    onMessage(m) {
      if (m.text === "vip order") return { handoff: true };
      if (m.text === "opening hours") return { reply: m.lang === "en" ? "9 to 5" : "九点到五点" };
    },
  };`,
);

beforeAll(async () => {
  llm = await startFakeLlm({ reply: citingReply, tokensPerSecond: 200 });
  s = await startTestServer({
    log: { level: "warn" },
    plugins: { dir: pluginDir },
    llm: { providers: [{ name: "fake", base_url: llm.url, model: "fake-model", max_concurrency: 4 }], answer_deadline_ms: 3000 },
  });
  admin = await s.login("admin");
});
afterAll(async () => {
  await s.stop();
  await llm.stop();
  rmSync(pluginDir, { recursive: true, force: true });
});

/** The passage the fake model cited last. */
let lastCited: string | undefined;

/** Answers like a grounded model: cites the first passage it was given. */
function citingReply(req: { messages: { content: string }[] }): string {
  lastCited = /\[(demo-[\w-]+)\]/.exec(req.messages.map((m) => m.content).join("\n"))?.[1];
  return `Our jackets come in navy and olive${lastCited ? ` [${lastCited}]` : ""}.`;
}

const returnsZh = demoShopFaq.find((e) => e.id === "demo-returns-zh")!;
const auth = () => ({ authorization: `Bearer ${admin}`, "content-type": "application/json" });
const stats = async () => (await (await fetch(`${s.url}/api/admin/answer/stats`, { headers: auth() })).json()) as Record<string, any>;

describe("answer pipeline end to end", () => {
  test("the demo knowledge base answers verbatim with its entry as source, without calling the LLM", async () => {
    const before = llm.stats.requests;
    const { c } = await visitor(s.wsUrl, { lang: "zh" });
    c.send({ type: "send", client_id: cid(), text: "怎么退货？" });
    const m = await c.nextType("message", (f) => f.from === "bot");
    expect(m.text).toBe(returnsZh.answer);
    expect(m.sources?.[0]?.id).toBe(returnsZh.id);
    expect(llm.stats.requests).toBe(before);
    await c.close();
  });

  test("a question the knowledge base cannot answer streams deltas from the LLM, then the message with sources", async () => {
    const { c } = await visitor(s.wsUrl, { lang: "en" });
    c.send({ type: "send", client_id: cid(), text: "Which colours does the winter jacket come in?" });
    const first = await c.nextType("delta");
    const final = await c.nextType("message", (f) => f.from === "bot");
    expect(final.seq).toBe(first.seq);
    const deltas = c.frames.filter((f) => f.type === "delta" && f.seq === final.seq).map((f) => f.text).join("");
    expect(deltas).toBe(final.text);
    // The visitor reads the answer without the citation marker; the cited passage, and only it, is the source.
    expect(final.text).toBe("Our jackets come in navy and olive.");
    expect(lastCited).toBeDefined();
    expect(final.sources?.map((x: { id: string }) => x.id)).toEqual([lastCited]);
    expect(llm.stats.requests).toBeGreaterThan(0);
    await c.close();
  });

  test("a repeated question is served from the cache; editing its entry invalidates it", async () => {
    const ask = async (text: string) =>
      (await (await fetch(`${s.url}/api/ask`, { method: "POST", headers: { ...auth(), "x-kefu-test": "1" }, body: JSON.stringify({ text, lang: "en" }) })).json()) as Record<string, any>;
    // /api/ask is closed by default: an admin-configured token or ask_open is needed.
    const closed = await fetch(`${s.url}/api/ask`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text: "hi" }) });
    expect(closed.status).toBe(401);
    s.kefu.ctx.config.answer.ask_open = true;
    try {
      const q = "How much is shipping?";
      const first = await ask(q);
      expect(first.path).toBe("direct");
      const second = await ask(q);
      expect(second.path).toBe("cache");
      expect(second.answer).toBe(first.answer);
      const edit = await fetch(`${s.url}/api/admin/kb/entries/demo-shipping-fee-en`, {
        method: "PUT",
        headers: auth(),
        body: JSON.stringify({ question: "How much is shipping?", answer: "Shipping is free on every order this month.", alt_questions: [] }),
      });
      expect(edit.status).toBe(200);
      const third = await ask(q);
      expect(third.path).toBe("direct");
      expect(third.answer).toBe("Shipping is free on every order this month.");
      expect((await stats()).cache).toBeDefined();
    } finally {
      s.kefu.ctx.config.answer.ask_open = false;
    }
  });

  test("a plugin's onMessage verdict answers or hands off before the knowledge base and the LLM", async () => {
    const before = llm.stats.requests;
    const { c } = await visitor(s.wsUrl, { lang: "en" });
    c.send({ type: "send", client_id: cid(), text: "opening hours" });
    expect(await c.nextType("message", (f) => f.from === "bot")).toMatchObject({ text: "9 to 5" });
    c.send({ type: "send", client_id: cid(), text: "vip order" });
    expect(await c.nextType("state")).toMatchObject({ state: "queued" });
    expect(llm.stats.requests).toBe(before);
    await c.close();
  });

  test("imported documents ground LLM answers, and the cited chunk is the source", async () => {
    const doc = [
      "# Warranty handbook",
      "",
      "Robot vacuum cleaners bought in our shop carry a two-year warranty on the motor and the battery.",
      "Send the device with its receipt to the service centre in Hangzhou; repairs take five working days.",
    ].join("\n");
    const imported = await fetch(`${s.url}/api/admin/kb/import`, {
      method: "POST",
      headers: auth(),
      body: JSON.stringify({ text: doc, format: "document", title: "Warranty handbook", document_id: "handbook" }),
    });
    expect(imported.status).toBe(200);
    llm.setOptions({
      reply: (req) => {
        const prompt = req.messages.map((m) => m.content).join("\n");
        const id = /\[(handbook#\d+)\]/.exec(prompt)?.[1];
        return id && prompt.includes("Hangzhou") ? `Our service centre is in Hangzhou [${id}].` : "I do not know.";
      },
    });
    try {
      const { c } = await visitor(s.wsUrl, { lang: "en" });
      c.send({ type: "send", client_id: cid(), text: "In which city is the service centre for robot vacuums?" });
      const final = await c.nextType("message", (f) => f.from === "bot");
      expect(final.text).toBe("Our service centre is in Hangzhou.");
      expect(final.sources?.map((x: { id: string }) => x.id)).toEqual(["handbook#0"]);
      await c.close();
    } finally {
      llm.setOptions({ reply: citingReply });
    }
  });

  test("admins see provider status and answer statistics", async () => {
    const providers = (await (await fetch(`${s.url}/api/admin/llm/providers`, { headers: auth() })).json()) as Record<string, any>;
    const fake = JSON.stringify(providers);
    expect(fake).toContain('"fake"');
    expect(fake).toContain("closed");
    const st = await stats();
    expect(JSON.stringify(st)).toMatch(/direct/);
    expect((await fetch(`${s.url}/api/admin/llm/providers`)).status).toBe(401);
  });

  test("the visitor leaving mid-stream aborts the upstream request", async () => {
    llm.setOptions({ tokensPerSecond: 5, reply: "one two three four five six seven eight nine ten eleven twelve" });
    try {
      const cancelledBefore = llm.stats.cancelled;
      const { c } = await visitor(s.wsUrl, { lang: "en" });
      c.send({ type: "send", client_id: cid(), text: "Tell me a long story about your warehouse robots" });
      await c.nextType("delta");
      await c.close();
      await llm.waitFor((st) => st.cancelled > cancelledBefore);
      expect(llm.stats.cancelled).toBe(cancelledBefore + 1);
    } finally {
      llm.setOptions({ tokensPerSecond: 200, reply: citingReply });
    }
  });
});
