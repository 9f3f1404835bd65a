import { expect, test } from "bun:test";
import type { Bot, BotInput } from "../src/chat/bot";
import { agent, cid, makeAgent, startChatServer, visitor } from "./helpers/ws-client";

/** A bot that streams one piece, then waits until it is aborted; records what it was asked. */
const hangingBot = (): Bot & { inputs: BotInput[] } => {
  const inputs: BotInput[] = [];
  return {
    inputs,
    async *reply(input) {
      inputs.push(input);
      yield { type: "delta", text: "thinking about it" };
      await new Promise((resolve) => input.signal.addEventListener("abort", resolve, { once: true }));
    },
  };
};

test("a new visitor message interrupts a streaming reply: the draft is reset, nothing of it is stored, and its seq goes to the message", async () => {
  const bot = hangingBot();
  const server = await startChatServer({}, bot);
  try {
    const { c, welcome } = await visitor(server.wsUrl, { lang: "en" });
    c.send({ type: "send", client_id: cid(), text: "first" });
    expect(await c.nextType("delta")).toMatchObject({ seq: 2, text: "thinking about it" });
    // An agent watching the conversation sees the draft dropped too.
    const a = await agent(server.wsUrl, (await makeAgent(server)).token);
    a.c.send({ type: "watch", conversation_id: welcome.conversation_id, last_seq: 0 });
    await a.c.nextType("message", (f) => f.seq === 1);
    c.send({ type: "send", client_id: cid(), text: "second" });
    expect(await c.nextType("reset")).toEqual({ type: "reset", seq: 2, reason: "newer_message" });
    expect(await a.c.nextType("reset")).toEqual({ type: "reset", conversation_id: welcome.conversation_id, seq: 2, reason: "newer_message" });
    await a.c.close();
    expect(await c.nextType("ack")).toMatchObject({ seq: 2 });
    // The next reply answers both messages, under the next seq.
    expect(await c.nextType("delta")).toMatchObject({ seq: 3 });
    expect(bot.inputs.at(-1)).toMatchObject({ text: "first\nsecond", parts: ["first", "second"] });
    const rows = server.kefu.ctx.db.query<{ seq: number; sender: string }, [string]>("SELECT seq, sender FROM chat_messages WHERE conversation_id = ? ORDER BY seq").all(welcome.conversation_id);
    expect(rows).toEqual([
      { seq: 1, sender: "visitor" },
      { seq: 2, sender: "visitor" },
    ]);
    // A client that resumes from the start sees no fragment.
    const { c: again } = await visitor(server.wsUrl, { token: welcome.token, conversation_id: welcome.conversation_id, last_seq: 0 });
    await again.sync();
    expect(again.frames.filter((f) => f.type === "message").map((f) => f.from)).toEqual(["visitor", "visitor"]);
    await again.close();
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
    // Timed out: the half-streamed text is dropped for the fallback, and it is the second miss in a row.
    const draft = await c.nextType("delta");
    expect(await c.nextType("reset")).toEqual({ type: "reset", seq: draft.seq, reason: "timeout" });
    expect(await c.nextType("message", (f) => f.from === "bot")).toMatchObject({ seq: draft.seq, text: expect.stringContaining("cannot answer right now") });
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

test("a reset from the bot empties the draft; the stored reply is the final text only", async () => {
  const bot: Bot = {
    async *reply() {
      yield { type: "delta", text: "half an answer from a provider that then fai" };
      yield { type: "reset" };
      yield { type: "delta", text: "Did you mean: returns?" };
      yield { type: "answer", text: "Did you mean: returns?", confident: false };
    },
  };
  const server = await startChatServer({}, bot);
  try {
    const { c } = await visitor(server.wsUrl, { lang: "en" });
    c.send({ type: "send", client_id: cid(), text: "help" });
    const first = await c.nextType("delta");
    const reset = await c.nextType("reset");
    expect(reset.seq).toBe(first.seq);
    const after = await c.nextType("delta");
    expect(after).toMatchObject({ seq: first.seq, text: "Did you mean: returns?" });
    const final = await c.nextType("message", (f) => f.from === "bot");
    expect(final).toMatchObject({ seq: first.seq, text: "Did you mean: returns?" });
    await c.close();
  } finally {
    await server.stop();
  }
});
