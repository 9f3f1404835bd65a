import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer } from "./helpers/server";
import { agent, makeAgent, scriptedBot, startChatServer, visitor } from "./helpers/ws-client";

/**
 * Issue 12, fixes to the agent side: presence starts as the agent's last chosen state and assignment waits
 * until the console says `presence`; conversations of an agent gone longer than agent_grace_s return to
 * the queue and are reassigned.
 */

const state = (server: Awaited<ReturnType<typeof startChatServer>>, id: string) => server.kefu.ctx.chat.getConversation(id);

/** A visitor whose conversation waits for a human. */
async function ticket(wsUrl: string) {
  const v = await visitor(wsUrl, { lang: "en" });
  v.c.send({ type: "handoff" });
  await v.c.nextType("state", (f) => f.state === "queued");
  return v;
}

test("nothing is assigned to a new socket until it sends presence; then the waiting ticket is", async () => {
  const server = await startChatServer();
  try {
    const v = await ticket(server.wsUrl);
    const ag = await makeAgent(server);
    const a = await agent(server.wsUrl, ag.token, { presence: null });
    expect(a.welcome.status).toBe("online");
    // Give the server every chance to assign: a queue round trip and a pause.
    a.c.send({ type: "queue" });
    const queue = await a.c.nextType("queue");
    expect(queue.queued.map((q: any) => q.conversation_id)).toContain(v.welcome.conversation_id);
    await Bun.sleep(150);
    await a.c.sync();
    expect(a.c.frames.some((f) => f.type === "assigned")).toBe(false);
    expect((await state(server, v.welcome.conversation_id))?.state).toBe("queued");
    // Visitors are told an agent is online (the console is loading), just not given to it yet.
    expect((await visitor(server.wsUrl, { token: v.welcome.token })).welcome.agents_online).toBe(true);

    a.c.send({ type: "presence", status: "online" });
    expect(await a.c.nextType("assigned")).toMatchObject({ conversation: { conversation_id: v.welcome.conversation_id, state: "agent" } });
    await a.c.close();
    await v.c.close();
  } finally {
    await server.stop();
  }
});

test("the last chosen status is the agent's status on the next connection, also after a restart", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kefu-presence-"));
  try {
    let server = await startTestServer({ log: { level: "warn" } }, dir);
    const ag = await makeAgent(server);
    let a = await agent(server.wsUrl, ag.token, { presence: "away" });
    await a.c.sync();
    await a.c.close();
    a = await agent(server.wsUrl, ag.token, { presence: null });
    expect(a.welcome.status).toBe("away");
    // The queue shows the agent away while connected, even before the socket says presence.
    a.c.send({ type: "queue" });
    expect((await a.c.nextType("queue")).agents.find((x: any) => x.id === ag.id).status).toBe("away");
    await a.c.close();
    await server.stop();

    server = await startTestServer({ log: { level: "warn" } }, dir);
    server.kefu.ctx.bot = scriptedBot();
    // A ticket waits; the away agent connects and says away: nothing is assigned.
    const v = await ticket(server.wsUrl);
    a = await agent(server.wsUrl, ag.token, { presence: null });
    expect(a.welcome.status).toBe("away");
    a.c.send({ type: "presence", status: "away" });
    await Bun.sleep(100);
    await a.c.sync();
    expect(a.c.frames.some((f) => f.type === "assigned")).toBe(false);
    a.c.send({ type: "presence", status: "online" });
    await a.c.nextType("assigned");
    await a.c.close();
    a = await agent(server.wsUrl, ag.token, { presence: null });
    expect(a.welcome.status).toBe("online");
    await a.c.close();
    await v.c.close();
    await server.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Grace periods run on the real clock (the chat service takes none): 2 s, so that "still within it" checks
// have more than a second of margin on a busy machine.
test("an agent gone longer than agent_grace_s loses their conversations to the queue, and another agent gets them", async () => {
  const server = await startChatServer({ chat: { agent_grace_s: 2 } });
  try {
    const lin = await makeAgent(server);
    const a = await agent(server.wsUrl, lin.token);
    const v = await ticket(server.wsUrl);
    await a.c.nextType("assigned");
    await v.c.nextType("state", (f) => f.state === "agent");
    await a.c.close();

    // Still Lin's within the grace period (1.5 s of it left).
    await Bun.sleep(500);
    expect(await state(server, v.welcome.conversation_id)).toMatchObject({ state: "agent", agentId: lin.id });
    const requeued = await v.c.nextType("state", (f) => f.state === "queued");
    expect(requeued.agent).toBeUndefined();
    expect(await state(server, v.welcome.conversation_id)).toMatchObject({ state: "queued", queuedReason: "agent_offline", agentId: null });
    // Nobody online: the visitor hears so, and the bot answers meanwhile.
    expect(await v.c.nextType("message", (f) => f.from === "system")).toMatchObject({ text: expect.stringContaining("No agent is online") });

    const wang = await makeAgent(server);
    const b = await agent(server.wsUrl, wang.token, { presence: null });
    b.c.send({ type: "queue" });
    expect((await b.c.nextType("queue")).queued).toContainEqual(
      expect.objectContaining({ conversation_id: v.welcome.conversation_id, queued_reason: "agent_offline" }),
    );
    b.c.send({ type: "presence", status: "online" });
    expect(await b.c.nextType("assigned")).toMatchObject({ conversation: { conversation_id: v.welcome.conversation_id, agent: { id: wang.id } } });
    await b.c.close();
    await v.c.close();
  } finally {
    await server.stop();
  }
}, 15_000);

test("an agent who comes back within the grace period keeps their conversations (a reload of the console)", async () => {
  const server = await startChatServer({ chat: { agent_grace_s: 1 } });
  try {
    const lin = await makeAgent(server);
    let a = await agent(server.wsUrl, lin.token);
    const v = await ticket(server.wsUrl);
    await a.c.nextType("assigned");
    await a.c.close();
    a = await agent(server.wsUrl, lin.token, { presence: null });
    await Bun.sleep(1400);
    expect(await state(server, v.welcome.conversation_id)).toMatchObject({ state: "agent", agentId: lin.id });
    // Two sockets: closing one of them starts no grace period.
    const second = await agent(server.wsUrl, lin.token, { presence: null });
    await second.c.close();
    await Bun.sleep(1400);
    expect(await state(server, v.welcome.conversation_id)).toMatchObject({ state: "agent", agentId: lin.id });
    await a.c.close();
    await v.c.close();
  } finally {
    await server.stop();
  }
});

test("after a restart, owners get the grace period to reconnect, then their conversations are queued", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kefu-grace-"));
  try {
    let server = await startTestServer({ log: { level: "warn" }, chat: { agent_grace_s: 1 } }, dir);
    server.kefu.ctx.bot = scriptedBot();
    const lin = await makeAgent(server);
    const a = await agent(server.wsUrl, lin.token);
    const v = await ticket(server.wsUrl);
    await a.c.nextType("assigned");
    await v.c.close();
    await a.c.close();
    await server.stop();

    server = await startTestServer({ log: { level: "warn" }, chat: { agent_grace_s: 2 } }, dir);
    server.kefu.ctx.bot = scriptedBot();
    // 2 s from start-up: the start-up itself (slow on a busy machine) cannot use it up before this check.
    const id = v.welcome.conversation_id;
    expect(await server.kefu.ctx.chat.getConversation(id)).toMatchObject({ state: "agent", agentId: lin.id });
    const deadline = Date.now() + 5000;
    while ((await server.kefu.ctx.chat.getConversation(id))?.state === "agent" && Date.now() < deadline) await Bun.sleep(50);
    expect(await server.kefu.ctx.chat.getConversation(id)).toMatchObject({ state: "queued", queuedReason: "agent_offline" });
    await server.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 15_000);
