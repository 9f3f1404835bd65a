import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually } from "./helpers/eventually";
import { startTestServer, type TestServer } from "./helpers/server";
import { visitor, type WsClient } from "./helpers/ws-client";

// The rest of the plugin API over a running server: ctx (verified visitor, conversation, kb search,
// send, fetch with a timeout, config), onAnswer (rewrite, veto), onConversation, routes (admin or public
// and rate-limited), ordering.
const SECRET = "s3cret-for-identity";
let s: TestServer;
let dir: string;
let slow: ReturnType<typeof Bun.serve>;

const PROBE = `
import { definePlugin, respond } from "kefu/plugin";
export default definePlugin({
  name: "probe",
  config: { properties: { slow_url: { type: "string" }, suffix: { type: "string", default: " ✓" } }, required: ["slow_url"], additionalProperties: false },
  async onMessage(ctx) {
    const t = ctx.message.text;
    if (t === "who") return { text: JSON.stringify({ visitor: ctx.visitor, conversation: ctx.conversation }) };
    if (t === "kb") return { text: "kb:" + ((await ctx.kb.search("运费怎么算", 1))[0]?.id ?? "none") };
    if (t === "later") {
      const id = ctx.conversation.id;
      setTimeout(() => ctx.send(id, "late news"), 30);
      return { text: "wait" };
    }
    if (t === "slowfetch") {
      const t0 = Date.now();
      try { await ctx.fetch(ctx.config.slow_url, { timeout_ms: 100 }); return { text: "fetched" }; }
      catch (e) { return { text: "fetch failed: " + e.name + (Date.now() - t0 < 900 ? " in time" : " late") }; }
    }
    if (t === "order") return { text: "probe first" };
  },
  onAnswer(ctx, answer) {
    if (ctx.message.text === "secret") return { veto: true, reason: "no" };
    if (answer.path === "direct") return { text: answer.text + ctx.config.suffix };
  },
  async onConversation(ctx, e) {
    await ctx.kv.set("ev:" + e.conversation_id + ":" + e.type, e);
  },
  routes: [
    { method: "GET", path: "/events/:conversation", public: true, handler: async (ctx, req) => ({ events: (await ctx.kv.list("ev:" + req.params.conversation + ":")).map((r) => r.value.type) }) },
    { method: "POST", path: "/echo/:id", handler: (ctx, req) => respond(201, { id: req.params.id, body: req.body, q: req.query.q, user: req.user?.name }) },
    { method: "GET", path: "/boom", handler: () => { throw new Error("route broke"); } },
  ],
});`;
const SECOND = `export default { name: "second", onMessage: ({ message }) => (message.text === "order" ? { text: "second first" } : undefined) };`;

beforeAll(async () => {
  slow = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: async () => (await Bun.sleep(1500), new Response("late")) });
  dir = mkdtempSync(join(tmpdir(), "kefu-plugins-hooks-"));
  mkdirSync(join(dir, "plugins"));
  writeFileSync(join(dir, "plugins", "probe.ts"), PROBE);
  writeFileSync(join(dir, "plugins", "a-second.ts"), SECOND);
  s = await startTestServer(
    {
      chat: { identity_secret: SECRET },
      plugins: { watch: false, order: ["probe"], public_route_burst: 3, public_route_per_minute: 1, "probe": { slow_url: `http://127.0.0.1:${slow.port}/` } } as never,
    },
    dir,
  );
});
afterAll(async () => {
  await s.stop();
  slow.stop(true);
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
async function ask(c: WsClient, text: string): Promise<string> {
  c.send({ type: "send", client_id: `h${++n}`, text });
  return (await c.nextType("message", (f) => f.from === "bot")).text as string;
}

describe("ctx", () => {
  test("a verified visitor and the conversation; kb search; send() posts later; fetch honours its timeout", async () => {
    const user = { id: "shop-42", name: "Ann", email: "ann@example.com", hash: createHmac("sha256", SECRET).update("shop-42").digest("hex") };
    const { c, welcome } = await visitor(s.wsUrl, { lang: "en", user });
    const who = JSON.parse(await ask(c, "who"));
    expect(who).toEqual({
      visitor: { id: welcome.visitor_id, name: "Ann", email: "ann@example.com", external_id: "shop-42", verified: true },
      conversation: { id: welcome.conversation_id, state: "bot", lang: "en" },
    });
    expect(await ask(c, "kb")).toMatch(/^kb:\S+$/);
    expect(await ask(c, "kb")).not.toBe("kb:none");
    expect(await ask(c, "later")).toBe("wait");
    expect((await c.nextType("message", (f) => f.from === "bot")).text).toBe("late news");
    expect(await ask(c, "slowfetch")).toBe("fetch failed: TimeoutError in time");
    c.close();
  }, 15_000);
});

describe("hooks", () => {
  test("[plugins] order puts probe before a-second; onAnswer rewrites a direct answer and vetoes another", async () => {
    const { c } = await visitor(s.wsUrl, { lang: "zh" });
    expect(await ask(c, "order")).toBe("probe first");
    const direct = await ask(c, "运费怎么算？");
    expect(direct).toEndWith(" ✓");
    expect(direct).toContain("运费");
    // Vetoed: the visitor gets the honest "no answer" text instead, counted as a miss.
    const vetoed = await ask(c, "secret");
    expect(vetoed).not.toContain("✓");
    expect(s.logs.some((l) => l.includes("plugin hook failed"))).toBe(false);
    c.close();
  }, 15_000);

  test("onConversation sees started, queued and rated", async () => {
    const { c, welcome } = await visitor(s.wsUrl, { lang: "zh" });
    await ask(c, "你好");
    c.send({ type: "send", client_id: `h${++n}`, text: "转人工" });
    await c.nextType("ack");
    c.send({ type: "rate", conversation_id: welcome.conversation_id, score: 5 });
    const events = async () => ((await (await fetch(`${s.url}/api/plugins/probe/events/${welcome.conversation_id}`)).json()) as { events: string[] }).events.sort();
    // Waited for in the plugin's store, not through its public route: every request spends from the per-address
    // bucket the next test counts on (one request of this test's).
    const stored = () => s.kefu.ctx.db.query<{ n: number }, [string]>("SELECT count(*) AS n FROM plugin_kv WHERE plugin = 'probe' AND key LIKE ?").get(`ev:${welcome.conversation_id}:%`)!.n;
    expect(await eventually(async () => stored() === 3, 3000)).toBe(true);
    expect(await events()).toEqual(["queued", "rated", "started"]);
    c.close();
  }, 15_000);
});

describe("routes", () => {
  test("admin routes need an admin; public ones are rate-limited per address; failures are 502, unknown paths 404", async () => {
    const admin = await s.login("admin");
    const auth = { authorization: `Bearer ${admin}`, "content-type": "application/json" };
    const echo = await fetch(`${s.url}/api/plugins/probe/echo/7?q=x`, { method: "POST", headers: auth, body: JSON.stringify({ a: 1 }) });
    expect(echo.status).toBe(201);
    expect(await echo.json()).toMatchObject({ id: "7", body: { a: 1 }, q: "x", user: expect.stringMatching(/^admin/) });
    expect((await fetch(`${s.url}/api/plugins/probe/echo/7`, { method: "POST" })).status).toBe(401);
    const boom = await fetch(`${s.url}/api/plugins/probe/boom`, { headers: auth });
    expect(boom.status).toBe(502);
    expect(((await boom.json()) as { error: { code: string } }).error.code).toBe("plugin_failed");
    expect((await fetch(`${s.url}/api/plugins/probe/nothing`, { headers: auth })).status).toBe(404);
    expect((await fetch(`${s.url}/api/plugins/probe/echo/%E0%A4%A`, { method: "POST", headers: auth, body: "{}" })).status).toBe(404);
    expect((await fetch(`${s.url}/api/plugins/nobody/x`, { headers: auth })).status).toBe(404);
    // Strangers learn nothing about what exists: 401 before 404.
    expect((await fetch(`${s.url}/api/plugins/nobody/x`)).status).toBe(401);
    // Public: no token needed, but the per-address bucket (burst 3 here; the onConversation test used one) runs dry.
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetch(`${s.url}/api/plugins/probe/events/x`)).status);
    expect(statuses).toContain(429);
    expect(statuses[0]).toBe(200);
  }, 15_000);
});
