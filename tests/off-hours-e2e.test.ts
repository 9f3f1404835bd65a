import { afterAll, beforeAll, expect, test } from "bun:test";
import { type FakeLlm, startFakeLlm } from "../bench/fake-llm/server";
import { fakeClock } from "../src/answer/test-fixtures";
import { startTestServer, type TestServer } from "./helpers/server";
import { cid, visitor } from "./helpers/ws-client";

/**
 * Issue 5, off-hours: with business hours 09:00–18:00 (Asia/Shanghai) and a fake clock at 23:00, a
 * question the knowledge base cannot answer becomes pending and the visitor is told when to expect an
 * answer; at opening time the batch answers it with the LLM and the answer is in the conversation history.
 */
let llm: FakeLlm;
let s: TestServer;
const clock = fakeClock(new Date("2026-11-30T15:00:00Z")); // Monday 23:00 in Shanghai

beforeAll(async () => {
  llm = await startFakeLlm({ reply: "Gift wrapping costs 5 yuan per parcel." });
  const week = ["09:00-18:00"];
  s = await startTestServer(
    {
      log: { level: "warn" },
      llm: { providers: [{ name: "fake", base_url: llm.url, model: "fake-model" }] },
      hours: { enabled: true, timezone: "Asia/Shanghai", weekly: { mon: week, tue: week, wed: week, thu: week, fri: week, sat: week, sun: week }, holidays: [] },
    },
    undefined,
    { clock },
  );
});
afterAll(async () => {
  await s.stop();
  await llm.stop();
});

test("a question at 23:00 is saved, the visitor is told, and the batch answers it at 09:00", async () => {
  const { c, welcome } = await visitor(s.wsUrl, { lang: "zh" });
  c.send({ type: "send", client_id: cid(), text: "你们有礼品包装吗？" });
  const notice = await c.nextType("message", (f) => f.from === "bot");
  expect(notice.text).toContain("09:00");
  expect(llm.stats.requests).toBe(0);
  const token = welcome.token as string;
  const conversationId = welcome.conversation_id as string;
  await c.close();

  const admin = await s.login("admin");
  const pending = (await (await fetch(`${s.url}/api/admin/pending`, { headers: { authorization: `Bearer ${admin}` } })).json()) as Record<string, any>;
  expect(JSON.stringify(pending)).toContain("礼品包装");

  // Opening time: the batch timer fires and answers through the model.
  clock.advanceTo(new Date("2026-12-01T01:00:30Z"));
  const history = async () =>
    (await (await fetch(`${s.url}/api/conversations/${conversationId}/messages`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      messages: { from: string; text: string }[];
    };
  const deadline = Date.now() + 15_000;
  let texts: string[] = [];
  while (Date.now() < deadline) {
    texts = (await history()).messages.filter((m) => m.from === "bot").map((m) => m.text);
    if (texts.some((t) => t.includes("Gift wrapping costs 5 yuan"))) break;
    await Bun.sleep(20);
  }
  // The answer quotes the question it answers: the visitor may have moved on since.
  expect(texts.at(-1)).toContain("你们有礼品包装吗");
  expect(texts.at(-1)).toContain("Gift wrapping costs 5 yuan per parcel.");
  expect(llm.stats.requests).toBe(1);

  // The visitor sees it on return, through resume.
  const back = await visitor(s.wsUrl, { token, last_seq: 0 });
  expect(await back.c.nextType("message", (f) => String(f.text).includes("Gift wrapping costs 5 yuan"))).toBeDefined();
  await back.c.close();
});
