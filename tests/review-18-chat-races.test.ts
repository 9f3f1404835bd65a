import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { TestServer } from "./helpers/server";
import { agent, cid, makeAgent, startChatServer, visitor, type WsClient } from "./helpers/ws-client";

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

describe("an agent closes while the visitor writes", () => {
  test("a message sent as the close lands goes to a new conversation, never into the closed one (acked, nobody would read it)", async () => {
    const a = await makeAgent(server, { maxConcurrent: 50 });
    const ac = track(await agent(server.wsUrl, a.token, { presence: null })).c;
    for (let i = 0; i < 5; i++) {
      const v = track(await visitor(server.wsUrl));
      v.c.send({ type: "send", client_id: cid(), text: "hello" });
      await v.c.nextType("message", (f) => f.from === "bot");
      const id = v.welcome.conversation_id as string;
      ac.send({ type: "claim", conversation_id: id });
      await v.c.nextType("state", (f) => f.state === "agent");
      // The visitor's message is being stored (group commit, the next turn) when the agent's close arrives.
      const late = cid();
      v.c.send({ type: "send", client_id: late, text: "one more question" });
      ac.send({ type: "close", conversation_id: id });
      const ack = await v.c.nextType("ack", (f) => f.client_id === late);

      const rows = await server.kefu.ctx.chat.messagesAfter(id, 0);
      const closed = rows.find((r) => r.kind === "state" && r.meta?.state === "closed");
      expect(closed).toBeDefined();
      const stored = rows.find((r) => r.clientId === late);
      if (stored) {
        // Stored before the close: fine, the agent saw it (the close came after it).
        expect(stored.seq).toBeLessThan(closed!.seq);
        expect(ack.seq).toBe(stored.seq);
      } else {
        // After the close: in the visitor's new conversation, which their tab switched to.
        const welcome = v.c.frames.find((f) => f.type === "welcome" && f.conversation_id !== id);
        expect(welcome).toBeDefined();
        const next = await server.kefu.ctx.chat.messagesAfter(welcome!.conversation_id, 0);
        expect(next.find((r) => r.clientId === late)).toMatchObject({ seq: ack.seq, sender: "visitor", text: "one more question" });
        expect((await server.kefu.ctx.chat.getConversation(welcome!.conversation_id))?.state).not.toBe("closed");
      }
      await v.c.close();
    }
  }, 30_000);
});
