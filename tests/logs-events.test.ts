import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eventually } from "./helpers/eventually";
import { startTestServer, type TestServer } from "./helpers/server";
import { agent, cid, makeAgent, visitor, type WsClient } from "./helpers/ws-client";

/**
 * Issue 17, logs: provider failures, breaker transitions and assignment events are JSON lines at info or
 * warn, and secrets never reach a line — not a password that failed to log in, not a bearer token, not a
 * provider's API key, even when the provider echoes the key in its error message.
 */

type Line = { level: string; msg: string; [k: string]: unknown };
const lines = (s: TestServer) => s.logs.map((l) => JSON.parse(l) as Line);

describe("secrets never reach the log", () => {
  const CONFIG_KEY = "sk-config-key-0123456789abcdef";
  const ENV_KEY = "sk-env-key-fedcba9876543210";
  const PASSWORD = "my-wrong-password-Zq81";
  const seen: string[] = [];
  let upstream: ReturnType<typeof Bun.serve>;
  let s: TestServer;
  beforeAll(async () => {
    // An OpenAI-compatible provider that refuses every key and, like some gateways, echoes it back.
    upstream = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        const auth = req.headers.get("authorization") ?? "";
        seen.push(auth);
        const key = auth.replace(/^Bearer /, "");
        return Response.json({ error: { message: `Incorrect API key provided: ${key}`, type: "invalid_request_error", code: "invalid_api_key" } }, { status: 401 });
      },
    });
    const base_url = `http://127.0.0.1:${upstream.port}/v1`;
    s = await startTestServer(
      {
        log: { level: "debug" },
        chat: { bot_misses_before_handoff: 0 },
        llm: {
          providers: [
            { name: "configured", base_url, model: "m", api_key: CONFIG_KEY, priority: 1 },
            { name: "from_env", base_url, model: "m", api_key_env: "KEFU_TEST_PROVIDER_KEY", priority: 2 },
          ],
          answer_deadline_ms: 3000,
          breaker_min_requests: 1,
          breaker_failure_rate: 0.5,
          breaker_open_ms: 600_000,
        },
      },
      undefined,
      { llm: { env: { KEFU_TEST_PROVIDER_KEY: ENV_KEY } } },
    );
  });
  afterAll(async () => {
    await s.stop();
    upstream.stop(true);
  });

  test("providers whose key is refused and echoed: failure and breaker lines at warn, with the reason, without the key", async () => {
    const { c } = await visitor(s.wsUrl, { lang: "en" });
    c.send({ type: "send", client_id: cid(), text: "Do you repair bicycles?" });
    await c.nextType("message", (f) => f.from === "bot");
    await c.close();
    // Both keys really went upstream.
    expect(seen).toEqual(expect.arrayContaining([`Bearer ${CONFIG_KEY}`, `Bearer ${ENV_KEY}`]));
    const all = lines(s);
    const failing = all.filter((l) => l.msg === "llm provider failing");
    expect(failing.map((l) => [l.level, l.provider])).toEqual([
      ["warn", "configured"],
      ["warn", "from_env"],
    ]);
    expect(String(failing[0]!.error)).toContain("HTTP 401: Incorrect API key provided: [redacted]");
    const opened = all.filter((l) => l.msg === "llm provider breaker opened: calls are skipped");
    expect(opened.map((l) => [l.level, l.provider])).toEqual([
      ["warn", "configured"],
      ["warn", "from_env"],
    ]);
    const text = s.logs.join("\n");
    for (const secret of [CONFIG_KEY, ENV_KEY, CONFIG_KEY.slice(0, 16), ENV_KEY.slice(0, 16)]) expect(text).not.toContain(secret);
  });

  test("a failed login, a successful one and the token in use: neither the password nor the token is written", async () => {
    await s.kefu.ctx.auth.addUser("wen", "agent", "correct horse battery");
    const login = (password: string) => fetch(`${s.url}/api/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "wen", password }) });
    expect((await login(PASSWORD)).status).toBe(401);
    const ok = await login("correct horse battery");
    expect(ok.status).toBe(200);
    const { token } = (await ok.json()) as { token: string };
    expect((await fetch(`${s.url}/api/agent/conversations`, { headers: { authorization: `Bearer ${token}` } })).status).toBeLessThan(500);
    const a = await agent(s.wsUrl, token); // the socket carries it as ?access_token=
    await a.c.close();
    await eventually(() => lines(s).filter((l) => l.msg === "request" && l.path === "/api/auth/login").length >= 2);
    expect(lines(s).filter((l) => l.msg === "request" && l.path === "/api/auth/login").map((l) => l.status)).toEqual([401, 200]);
    const text = s.logs.join("\n");
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain("correct horse battery");
    expect(text).not.toContain(token);
  });
});

describe("assignment events", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ log: { level: "info" }, chat: { agent_grace_s: 600 } });
  });
  afterAll(() => s.stop());

  test("queued, assigned, transferred, returned and closed: one info line each, with the conversation, the agents and the reason", async () => {
    const one = await makeAgent(s);
    const two = await makeAgent(s);
    const sockets = new Map<number, WsClient>();
    for (const a of [one, two]) sockets.set(a.id, (await agent(s.wsUrl, a.token)).c);
    const events = (id: string) => lines(s).filter((l) => l.conversation_id === id && typeof l.event === "string");

    const v1 = await visitor(s.wsUrl, { lang: "en" });
    const id1 = v1.welcome.conversation_id as string;
    v1.c.send({ type: "send", client_id: cid(), text: "human please" });
    await v1.c.nextType("state", (f) => f.state === "agent");
    const assigned = events(id1).find((l) => l.event === "assigned")!;
    const owner = assigned.agent_id as number;
    const other = owner === one.id ? two.id : one.id;
    sockets.get(owner)!.send({ type: "transfer", conversation_id: id1, agent_id: other });
    await eventually(() => events(id1).some((l) => l.event === "transferred"));
    sockets.get(other)!.send({ type: "return_to_bot", conversation_id: id1 });
    await v1.c.nextType("state", (f) => f.state === "bot");

    const v2 = await visitor(s.wsUrl, { lang: "en" });
    const id2 = v2.welcome.conversation_id as string;
    v2.c.send({ type: "send", client_id: cid(), text: "human please" });
    await v2.c.nextType("state", (f) => f.state === "agent");
    const owner2 = events(id2).find((l) => l.event === "assigned")!.agent_id as number;
    sockets.get(owner2)!.send({ type: "close", conversation_id: id2 });
    await v2.c.nextType("state", (f) => f.state === "closed");

    const strip = (l: Line) => ({ level: l.level, msg: l.msg, event: l.event, from: l.from, to: l.to, from_agent_id: l.from_agent_id, agent_id: l.agent_id, reason: l.reason });
    expect(events(id1).map(strip)).toEqual([
      { level: "info", msg: "conversation queued", event: "queued", from: "bot", to: "queued", from_agent_id: undefined, agent_id: undefined, reason: "keyword" },
      { level: "info", msg: "conversation assigned", event: "assigned", from: "queued", to: "agent", from_agent_id: undefined, agent_id: owner, reason: "auto" },
      { level: "info", msg: "conversation transferred", event: "transferred", from: "agent", to: "agent", from_agent_id: owner, agent_id: other, reason: "transfer" },
      { level: "info", msg: "conversation returned", event: "returned", from: "agent", to: "bot", from_agent_id: other, agent_id: undefined, reason: "return_to_bot" },
    ]);
    expect(events(id2).map((l) => l.event)).toEqual(["queued", "assigned", "closed"]);
    expect(events(id2).at(-1)).toMatchObject({ level: "info", from: "agent", to: "closed", from_agent_id: owner2, reason: "close" });
    // Ids only: nothing the visitor wrote.
    expect(lines(s).filter((l) => typeof l.event === "string").some((l) => JSON.stringify(l).includes("human please"))).toBe(false);
    for (const c of [...sockets.values(), v1.c, v2.c]) await c.close();
  }, 15_000);
});
