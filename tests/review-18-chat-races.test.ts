import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { TestServer } from "./helpers/server";
import { agent, makeAgent, startChatServer, type WsClient } from "./helpers/ws-client";

// Review of issue 18 (the chat on the async Sql interface), single node on SQLite: races and error frames
// found with real sockets against a real server.
let server: TestServer;
const open: WsClient[] = [];
const track = <T extends { c: WsClient }>(x: T) => (open.push(x.c), x);

beforeAll(async () => {
  server = await startChatServer({ chat: { new_visitors_per_ip_per_minute: 10_000, rate_burst: 1_000, frame_burst: 1_000 } });
});
afterAll(async () => {
  for (const c of open.splice(0)) await c.close();
  await server.stop();
});

describe("agent frames answered with an error frame", () => {
  test("typing about a conversation that does not exist gets error not_found (it used to be dropped, logged as a failed frame)", async () => {
    const a = await makeAgent(server);
    const { c } = track(await agent(server.wsUrl, a.token, { presence: null }));
    c.send({ type: "typing", conversation_id: "c_does_not_exist", on: true });
    expect(await c.nextType("error")).toMatchObject({ code: "not_found" });
    // The socket goes on.
    c.send({ type: "ping" });
    await c.nextType("pong");
  });
});
