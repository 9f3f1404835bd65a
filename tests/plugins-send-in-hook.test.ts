import { afterAll, beforeAll, expect, test } from "bun:test";
import { type PluginTestServer, startPluginServer } from "./helpers/plugin-server";
import { visitor } from "./helpers/ws-client";

// A multi-turn plugin that says "one moment" from inside its hook, then answers once its (slow) lookup is
// done: the visitor gets both, in order. Before, the send() cancelled the reply in flight and the answer
// was lost.
let s: PluginTestServer;
beforeAll(async () => {
  s = await startPluginServer("send-in-hook", {
    "lookup.ts": `export default { name: "lookup",
      async onMessage({ message, conversation, send }) {
        if (!message.text.includes("20240518123")) return;
        await send(conversation.id, message.lang === "zh" ? "稍等，正在查询订单…" : "One moment, checking your order…");
        await new Promise((r) => setTimeout(r, 150));
        return { text: message.lang === "zh" ? "订单 20240518123 已发货。" : "Order 20240518123 has shipped." };
      },
    };`,
  }, { plugins: { watch: false } });
});
afterAll(() => s.stop());

test("send() inside onMessage goes out before the hook's answer, and the answer is not lost", async () => {
  for (const [lang, text, first, answer] of [
    ["zh", "我的订单 20240518123 到哪了", "稍等，正在查询订单…", "订单 20240518123 已发货。"],
    ["en", "where is order 20240518123", "One moment, checking your order…", "Order 20240518123 has shipped."],
  ] as const) {
    const { c } = await visitor(s.wsUrl, { lang });
    c.send({ type: "send", client_id: `q-${lang}`, text });
    const one = await c.nextType("message", (f) => f.from === "bot");
    const two = await c.nextType("message", (f) => f.from === "bot");
    expect([one.text, two.text]).toEqual([first, answer]);
    expect((two.seq as number) > (one.seq as number)).toBe(true);
    // No reset (a dropped reply) in between, and the answer log keeps the question with the plugin's path.
    expect(c.frames.some((f) => f.type === "reset")).toBe(false);
    const row = s.kefu.ctx.db.query("SELECT question, path FROM insights_answers ORDER BY id DESC LIMIT 1").get();
    expect(row).toEqual({ question: text, path: "plugin" });
    c.close();
  }
}, 15_000);
