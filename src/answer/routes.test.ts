import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import { Elysia } from "elysia";
import { type FakeLlm, startFakeLlm } from "../../bench/fake-llm/server";
import { accessPlugin } from "../auth/access";
import { authRoutes } from "../auth/plugin";
import { createAuth } from "../auth/service";
import { type HoursConfig, hoursSection } from "../schedule/config";
import { createLogger } from "../log/logger";
import { parseSse } from "../llm/sse";
import { errorsPlugin } from "../server/errors-plugin";
import { createSqliteSql } from "../storage/sqlite-driver";
import { openDatabase } from "../storage/database";
import type { AnswerConfig } from "./config";
import { answerRoutes, askTokenCheck } from "./routes";
import { createAnswerService } from "./service";
import { answerConfig, fakeClock, fakeKnowledge, llmConfig } from "./test-fixtures";

/**
 * POST /api/ask (JSON and SSE) and the admin routes over real HTTP on loopback, mounted behind the same
 * errors and auth plugins as in the server.
 */

type ErrorBody = { error: { code: string } };

const TOKEN = "ask-token-for-tests";
const TOKEN_HASH = new Bun.CryptoHasher("sha256").update(TOKEN).digest("hex");

let llm: FakeLlm;
beforeAll(async () => {
  llm = await startFakeLlm({ reply: "Hello [kb:hi]" });
});
afterAll(async () => {
  await llm.stop();
});

const running: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
});

async function serve(opts: { answer?: Partial<AnswerConfig>; hours?: Partial<HoursConfig>; sink?: boolean } = {}) {
  const db = await openDatabase({ dir: ":memory:" });
  const sql = createSqliteSql(db);
  const auth = createAuth(sql);
  const kb = fakeKnowledge();
  kb.set("What are your hours?", [{ id: "kb:hours", question: "Opening hours?", answer: "9 to 6.", confidence: 0.8 }]);
  kb.set("hi there", [{ id: "kb:hi", question: "Greeting", answer: "Hello!", confidence: 0.3 }]);
  const config = { answer: answerConfig({ ask_tokens: [TOKEN_HASH], ...opts.answer }), llm: llmConfig([llm]), hours: { ...(Value.Create(hoursSection) as HoursConfig), ...opts.hours } };
  const clock = fakeClock(new Date("2026-11-30T15:00:00Z"));
  const posted: string[] = [];
  const service = createAnswerService({
    config,
    sql,
    knowledge: kb,
    sink: opts.sink ? { postBotMessage: async (_c, text) => void posted.push(text), requestHandoff: async () => {} } : undefined,
    now: clock.now,
    timers: clock.timers,
  });
  const log = createLogger({ level: "silent" });
  const access = accessPlugin({
    authenticate: (t) => auth.authenticate(t),
    isVisitorToken: () => false,
    askAllowed: askTokenCheck(config.answer),
    clientIp: () => "127.0.0.1",
    maxBody: 64 * 1024,
  });
  const app = new Elysia().use(errorsPlugin(log, false)).use(authRoutes(auth, access)).use(answerRoutes(service, access));
  app.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${app.server!.port}`;
  await auth.addUser("admin", "admin", "correct horse battery");
  const { token: adminToken } = (await (await fetch(`${url}/api/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "admin", password: "correct horse battery" }) })).json()) as { token: string };
  running.push({
    async stop() {
      service.stop();
      await app.stop(true);
      db.close();
    },
  });
  const post = (path: string, body: unknown, token: string | null = TOKEN) =>
    fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
  const admin = (path: string, method = "GET") => fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${adminToken}` } });
  return { url, service, post, admin, posted };
}

describe("POST /api/ask", () => {
  test("needs a listed token unless ask_open; refused before the body is read", async () => {
    const { post } = await serve();
    const none = await post("/api/ask", { text: "What are your hours?" }, null);
    expect(none.status).toBe(401);
    expect(((await none.json()) as ErrorBody).error.code).toBe("unauthorized");
    expect((await post("/api/ask", { text: "What are your hours?" }, "wrong")).status).toBe(401);
    // An invalid body without a token is still 401, not 400: nothing about the schema leaks.
    expect((await post("/api/ask", { nope: 1 }, null)).status).toBe(401);
    const ok = await post("/api/ask", { text: "What are your hours?" });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ answer: "9 to 6.", path: "direct", confidence: 0.8, sources: [{ id: "kb:hours", title: "Opening hours?" }] });

    const open = await serve({ answer: { ask_open: true, ask_tokens: [] } });
    expect((await open.post("/api/ask", { text: "What are your hours?" }, null)).status).toBe(200);
  });

  test("JSON: model answer with sources, then the same question from the cache; bad bodies are 400", async () => {
    const { post } = await serve();
    llm.resetStats();
    expect(await (await post("/api/ask", { text: "hi there", lang: "en-US", visitor_id: "v1" })).json()).toEqual({
      answer: "Hello",
      path: "llm",
      confidence: 0.3,
      sources: [{ id: "kb:hi", title: "Greeting" }],
    });
    expect(((await (await post("/api/ask", { text: "hi there", lang: "en" })).json()) as { path: string }).path).toBe("cache");
    expect(llm.stats.requests).toBe(1);
    const bad = await post("/api/ask", { text: "" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as ErrorBody).error.code).toBe("validation_failed");
  });

  test("SSE: delta events, then one final event with the JSON body", async () => {
    const { post } = await serve();
    const res = await post("/api/ask?stream=1", { text: "Tell me something new" });
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const events: { event: string; data: unknown }[] = [];
    for await (const ev of parseSse(res.body!)) events.push({ event: ev.event, data: JSON.parse(ev.data) });
    expect(events.map((e) => e.event)).toEqual(["delta", "delta", "final"]);
    expect(events.slice(0, 2).map((e) => (e.data as { text: string }).text).join("")).toBe("Hello [kb:hi]");
    expect(events[2]!.data).toEqual({ answer: "Hello [kb:hi]", path: "llm", confidence: 0, sources: [] });
  });

  test("SSE: a client that disconnects mid-stream aborts the upstream request", async () => {
    llm.setOptions({ tokensPerSecond: 20, reply: "one two three four five six seven eight nine ten" });
    llm.resetStats();
    try {
      const { post } = await serve();
      const res = await post("/api/ask?stream=1", { text: "A long story please" });
      const reader = res.body!.getReader();
      const first = await reader.read();
      expect(new TextDecoder().decode(first.value)).toStartWith("event: delta");
      await reader.cancel();
      await llm.waitFor((s) => s.cancelled === 1);
      expect(llm.stats.completed).toBe(0);
    } finally {
      llm.setOptions({ tokensPerSecond: 0, reply: "Hello [kb:hi]" });
    }
  });
});

describe("admin routes", () => {
  test("provider status and answer stats need an admin", async () => {
    const { url, admin, post } = await serve();
    expect((await fetch(`${url}/api/admin/llm/providers`)).status).toBe(401);
    const providers = (await (await admin("/api/admin/llm/providers")).json()) as { providers: { name: string; breaker: { state: string } }[] };
    expect(providers.providers).toMatchObject([{ name: "p1", breaker: { state: "closed" } }]);

    await post("/api/ask", { text: "What are your hours?" });
    await post("/api/ask", { text: "What are your hours?" });
    const stats = await (await admin("/api/admin/answer/stats")).json();
    expect(stats).toMatchObject({ total: 2, paths: { direct: 1, cache: 1 }, cache: { hits: 1, misses: 1, hit_rate: 0.5 }, pending: 0, off_hours: null });
  });

  test("pending questions are listed and the batch runs on demand; without off-hours handling the run is a 409", async () => {
    const off = await serve();
    const refused = await off.admin("/api/admin/pending/run", "POST");
    expect(refused.status).toBe(409);

    const { service, admin, posted } = await serve({ hours: { enabled: true, timezone: "Asia/Shanghai" }, sink: true });
    for await (const _ of service.pipeline.reply({ conversationId: "conv-1", text: "Do you deliver on Sunday?", lang: "en", signal: new AbortController().signal }));
    const list = (await (await admin("/api/admin/pending")).json()) as { pending: number; questions: { id: number; status: string; conversation_id: string; created_at: string }[] };
    expect(list).toMatchObject({ pending: 1, questions: [{ conversation_id: "conv-1", status: "pending", created_at: "2026-11-30T15:00:00.000Z" }] });
    const run = await (await admin("/api/admin/pending/run", "POST")).json();
    expect(run).toMatchObject({ processed: 1, answered: 1, pending: 0 });
    expect(posted).toEqual(['About your earlier question "Do you deliver on Sunday?":\nHello [kb:hi]']);
    const answered = await (await admin("/api/admin/pending?status=answered")).json();
    expect(answered).toMatchObject({ pending: 0, questions: [{ status: "answered", answer: "Hello [kb:hi]" }] });
    expect((await admin("/api/admin/pending?status=nope")).status).toBe(400);
  });
});
