import { afterAll, beforeAll, expect, test } from "bun:test";
import { eraseVisitor } from "../src/ops/erase";
import { runRetention } from "../src/ops/retention";
import { startTestServer, type TestServer } from "./helpers/server";
import { cid, visitor } from "./helpers/ws-client";

// The answer log keeps no more than the chat does: a visitor's erasure and message retention take its rows too.
let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ log: { level: "warn" }, answer: { ask_open: true } });
});
afterAll(() => s.stop());

async function ask(text: string) {
  const v = await visitor(s.wsUrl, { lang: "en" });
  v.c.send({ type: "send", client_id: cid(), text });
  await v.c.nextType("message", (f) => f.from === "bot");
  v.c.close();
  return { visitorId: v.welcome.visitor_id as string, conversationId: v.welcome.conversation_id as string };
}

const count = (where: string, ...args: string[]) =>
  (s.kefu.ctx.db.query(`SELECT count(*) AS n FROM insights_answers WHERE ${where}`).get(...args) as { n: number }).n;

test("erasing a visitor and message retention remove their answer-log rows; /api/ask rows are logged and age out", async () => {
  const ann = await ask("How much is shipping?");
  const bob = await ask("Do you offer gift wrapping?");
  const res = await fetch(`${s.url}/api/ask`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text: "How much is shipping?" }) });
  expect(res.status).toBe(200);
  expect(s.kefu.ctx.db.query("SELECT source, conversation_id, question, path FROM insights_answers WHERE source = 'api'").all()).toEqual([
    { source: "api", conversation_id: null, question: "How much is shipping?", path: expect.stringMatching(/^(direct|cache)$/) },
  ]);
  expect(count("conversation_id = ?", ann.conversationId)).toBe(1);

  expect(await eraseVisitor(s.kefu.ctx.sql, ann.visitorId)).toMatchObject({ conversations: 1, answer_log: 1 });
  expect(count("conversation_id = ?", ann.conversationId)).toBe(0);
  expect(count("conversation_id = ?", bob.conversationId)).toBe(1);

  // Bob's conversation and the API row are 40 days old; retention keeps 30.
  const old = Date.now() - 40 * 86_400_000;
  s.kefu.ctx.db.run("UPDATE chat_conversations SET updated_at = ? WHERE id = ?", [old, bob.conversationId]);
  s.kefu.ctx.db.run("UPDATE insights_answers SET created_at = ? WHERE source = 'api'", [old]);
  await runRetention(s.kefu.ctx.sql, { ...s.kefu.ctx.config.retention, messages_days: 30 }, { pause: async () => {} });
  expect(count("1")).toBe(0);
}, 15_000);
