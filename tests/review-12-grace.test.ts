import { expect, test } from "bun:test";
import { agent, makeAgent, startChatServer, visitor } from "./helpers/ws-client";

/**
 * Review of issue 12: the grace period of an agent gone offline racing with what happens meanwhile — the
 * conversation closed or transferred, the agent back just before the deadline, gone again at once.
 */
async function owned(server: Awaited<ReturnType<typeof startChatServer>>) {
  const lin = await makeAgent(server);
  const a = await agent(server.wsUrl, lin.token);
  const v = await visitor(server.wsUrl, { lang: "en" });
  v.c.send({ type: "handoff" });
  await a.c.nextType("assigned");
  await v.c.nextType("state", (f) => f.state === "agent");
  return { lin, a, v };
}

// Grace periods of whole seconds on the real clock (the chat service takes no clock): every step is given
// a second or more of margin, as a busy machine can pause a test for hundreds of ms.
test("a conversation closed, or transferred to an online agent, during the grace period is left alone when it ends", async () => {
  const server = await startChatServer({ chat: { agent_grace_s: 2 } });
  try {
    const admin = await server.login("admin");
    const closed = await owned(server);
    const moved = await owned(server);
    const wang = await makeAgent(server);
    const b = await agent(server.wsUrl, wang.token, { presence: "away" }); // online for transfer, takes nothing new
    await closed.a.c.close();
    await moved.a.c.close();
    const res = await fetch(`${server.url}/api/agent/conversations/${closed.v.welcome.conversation_id}/close`, { method: "POST", headers: { authorization: `Bearer ${admin}` } });
    expect(res.status).toBe(200);
    const t = await fetch(`${server.url}/api/agent/conversations/${moved.v.welcome.conversation_id}/transfer`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: JSON.stringify({ agent_id: wang.id }),
    });
    expect(t.status).toBe(200);
    await Bun.sleep(2600); // past the deadline of both
    const chat = server.kefu.ctx.chat;
    expect(await chat.getConversation(closed.v.welcome.conversation_id)).toMatchObject({ state: "closed" });
    expect(await chat.getConversation(moved.v.welcome.conversation_id)).toMatchObject({ state: "agent", agentId: wang.id });
    for (const { v } of [closed, moved]) {
      await v.c.sync();
      expect(v.c.frames.filter((f) => f.type === "state" && f.state === "queued").length).toBe(1); // only the first handoff
    }
    await b.c.close();
    for (const { v } of [closed, moved]) await v.c.close();
  } finally {
    await server.stop();
  }
}, 30_000);

test("back just before the deadline keeps the conversations; gone again, the grace period starts over", async () => {
  const server = await startChatServer({ chat: { agent_grace_s: 3 } });
  try {
    const { lin, a, v } = await owned(server);
    const id = v.welcome.conversation_id;
    await a.c.close();
    await Bun.sleep(2000); // 1 s before the deadline
    const back = await agent(server.wsUrl, lin.token);
    await Bun.sleep(1500); // past the first deadline
    expect(await server.kefu.ctx.chat.getConversation(id)).toMatchObject({ state: "agent", agentId: lin.id });
    await back.c.close();
    await Bun.sleep(1500); // a fresh grace period (3 s from this close): not yet
    expect(await server.kefu.ctx.chat.getConversation(id)).toMatchObject({ state: "agent", agentId: lin.id });
    await v.c.nextType("state", (f) => f.state === "queued" && f.seq > 2);
    expect(await server.kefu.ctx.chat.getConversation(id)).toMatchObject({ state: "queued", queuedReason: "agent_offline" });
    await v.c.close();
  } finally {
    await server.stop();
  }
}, 30_000);
