import { afterAll, beforeAll, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "./helpers/server";
import { agent } from "./helpers/ws-client";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ log: { level: "warn" } });
});
afterAll(() => s.stop());

test("the agent WebSocket refuses a missing or bad token", async () => {
  for (const url of [`${s.wsUrl}/ws/agent`, `${s.wsUrl}/ws/agent?access_token=kfu_nope`]) {
    const res = await fetch(url.replace("ws://", "http://"), { headers: { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" } });
    expect(res.status).toBe(401);
  }
});

test("an open agent socket ends once its token is logged out", async () => {
  const token = await s.login("agent");
  const { c } = await agent(s.wsUrl, token);
  c.send({ type: "queue" });
  await c.nextType("queue");
  const out = await fetch(`${s.url}/api/auth/logout`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
  expect(out.status).toBe(200);
  c.send({ type: "queue" });
  expect((await c.closed).code).toBe(1008);
});
