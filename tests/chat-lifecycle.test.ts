import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Bot } from "../src/chat/bot";
import { cid, scriptedBot, startChatServer, visitor } from "./helpers/ws-client";

const pluginDir = mkdtempSync(join(tmpdir(), "kefu-chat-plugins-"));
afterAll(() => rmSync(pluginDir, { recursive: true, force: true }));

/** A bot that streams one piece, then waits until it is aborted. */
const hangingBot = (): Bot => ({
  async *reply({ signal }) {
    yield { type: "delta", text: "thinking about it" };
    await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
  },
});

test("a plugin's onMessage verdict answers or hands off before the bot runs", async () => {
  writeFileSync(
    join(pluginDir, "decider.ts"),
    `export default {
      name: "decider",
      onMessage(m) {
        if (m.text === "vip order") return { handoff: true };
        if (m.text === "opening hours") return { reply: m.lang === "en" ? "9 to 5" : "九点到五点" };
      },
    };`,
  );
  const bot = scriptedBot();
  const server = await startChatServer({ plugins: { dir: pluginDir } }, bot);
  try {
    const { c } = await visitor(server.wsUrl, { lang: "en" });
    c.send({ type: "send", client_id: cid(), text: "opening hours" });
    expect(await c.nextType("message")).toMatchObject({ seq: 2, from: "bot", text: "9 to 5" });
    c.send({ type: "send", client_id: cid(), text: "vip order" });
    expect(await c.nextType("state")).toMatchObject({ seq: 4, state: "queued" });
    expect(bot.calls).toEqual([]);
    await c.close();
  } finally {
    await server.stop();
  }
});

test("a new visitor message interrupts a streaming reply, which is kept under its reserved seq", async () => {
  const server = await startChatServer({}, hangingBot());
  try {
    const { c, welcome } = await visitor(server.wsUrl, { lang: "en" });
    c.send({ type: "send", client_id: cid(), text: "first" });
    expect(await c.nextType("delta")).toMatchObject({ seq: 2, text: "thinking about it" });
    c.send({ type: "send", client_id: cid(), text: "second" });
    expect(await c.nextType("message")).toMatchObject({ seq: 2, from: "bot", text: "thinking about it" });
    expect(await c.nextType("ack")).toMatchObject({ seq: 3 });
    expect(await c.nextType("delta")).toMatchObject({ seq: 4 });
    const rows = server.kefu.ctx.db.query<{ seq: number }, [string]>("SELECT seq FROM chat_messages WHERE conversation_id = ? ORDER BY seq").all(welcome.conversation_id);
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3]);
    await c.close();
  } finally {
    await server.stop();
  }
});

test("a bot that fails or times out gets a fallback answer that counts as a miss", async () => {
  const failing: Bot = {
    async *reply() {
      throw new Error("model crashed");
    },
  };
  const server = await startChatServer({ chat: { bot_timeout_ms: 200, bot_misses_before_handoff: 2 } }, failing);
  try {
    const { c } = await visitor(server.wsUrl, { lang: "en" });
    c.send({ type: "send", client_id: cid(), text: "hello?" });
    expect(await c.nextType("message", (f) => f.from === "bot")).toMatchObject({ text: expect.stringContaining("cannot answer right now") });
    server.kefu.ctx.bot = hangingBot();
    c.send({ type: "send", client_id: cid(), text: "anyone?" });
    // Timed out: the streamed text is kept as the answer, and it is the second miss in a row.
    expect(await c.nextType("message", (f) => f.from === "bot")).toMatchObject({ text: "thinking about it" });
    expect(await c.nextType("state")).toMatchObject({ state: "queued" });
    await c.close();
  } finally {
    await server.stop();
  }
});

test("graceful shutdown closes chat sockets with 1001", async () => {
  const server = await startChatServer();
  const { c } = await visitor(server.wsUrl);
  await server.stop();
  expect((await c.closed).code).toBe(1001);
});
