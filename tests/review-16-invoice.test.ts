import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { examplePlugins } from "../src/plugins/example-plugin";
import { type PluginTestServer, botReply as say, startPluginServer } from "./helpers/plugin-server";
import { startTestServer } from "./helpers/server";
import { visitor, type WsClient } from "./helpers/ws-client";

// Review of issue 16: the shipped example plugins together, the way a shop runs them (kefu init writes both).
let s: PluginTestServer;
beforeAll(async () => {
  s = await startPluginServer("review16-invoice", examplePlugins, { plugins: { watch: false } });
});
afterAll(() => s.stop());

async function toConfirm(c: WsClient, title: string) {
  expect(await say(c, "我要开发票")).toContain("发票抬头");
  expect(await say(c, title)).toContain("统一社会信用代码");
  expect(await say(c, "91350100M000100Y43")).toContain("邮箱");
  expect(await say(c, "finance@example.cn")).toContain("请确认开票信息");
}

test("two visitors confirming at the same moment get two requests, not one number for both", async () => {
  const visitors = await Promise.all(Array.from({ length: 4 }, () => visitor(s.wsUrl, { lang: "zh" })));
  await Promise.all(visitors.map(({ c }, i) => toConfirm(c, `并发测试公司${i}`)));
  const done = await Promise.all(visitors.map(({ c }) => say(c, "确认")));
  const ids = done.map((t) => /INV-\d{5}/.exec(t)?.[0]);
  expect(ids.every(Boolean)).toBe(true);
  expect(new Set(ids).size).toBe(visitors.length);
  const admin = await s.login("admin");
  const { requests } = (await (await fetch(`${s.url}/api/plugins/invoice/requests`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { requests: { title: string }[] };
  for (let i = 0; i < visitors.length; i++) expect(requests.map((r) => r.title)).toContain(`并发测试公司${i}`);
  for (const { c } of visitors) c.close();
}, 20_000);

test("zh: an order question in the middle of the invoice flow is answered, not taken as the invoice title", async () => {
  const { c } = await visitor(s.wsUrl, { lang: "zh" });
  expect(await say(c, "我要开发票")).toContain("发票抬头");
  expect(await say(c, "我的订单 20240518123 到哪了？")).toContain("订单 20240518123 已发货");
  // The flow is still there: the next message is the title.
  expect(await say(c, "厦门某某科技有限公司")).toContain("统一社会信用代码");
  expect(await say(c, "运费怎么算？")).not.toContain("这个税号不正确");
  expect(await say(c, "91350100M000100Y43")).toContain("邮箱");
  expect(await say(c, "取消")).toContain("已取消");
  // A company name with a question word in it is still a title.
  expect(await say(c, "我要开发票")).toContain("发票抬头");
  expect(await say(c, "什么值得买科技有限公司")).toContain("统一社会信用代码");
  c.close();
}, 15_000);

test("en: the same in English", async () => {
  const { c } = await visitor(s.wsUrl, { lang: "en" });
  expect(await say(c, "I need an invoice")).toContain("invoice title");
  expect(await say(c, "where is order 20240518123?")).toContain("Order 20240518123 has shipped");
  expect(await say(c, "ACME Trading Co., Ltd.")).toContain("unified social credit code");
  c.close();
}, 15_000);

test("en: the order plugin asks for the number in the middle of the invoice flow; the number goes to it, not into the title", async () => {
  const { c } = await visitor(s.wsUrl, { lang: "en" });
  expect(await say(c, "I need an invoice")).toContain("invoice title");
  expect(await say(c, "Where is my package?")).toContain("Please tell me your order number");
  expect(await say(c, "20240518123")).toContain("Order 20240518123 has shipped");
  expect(await say(c, "ACME Trading Co., Ltd.")).toContain("unified social credit code");
  c.close();
}, 15_000);

test("zh: 'I do not need an invoice' does not start the flow", async () => {
  const { c } = await visitor(s.wsUrl, { lang: "zh" });
  expect(await say(c, "我不需要发票")).not.toContain("发票抬头");
  expect(await say(c, "不要发票了")).not.toContain("发票抬头");
  c.close();
}, 10_000);

test("a tax id or e-mail ending in a full stop (。 or .) is taken without it, not stored with it", async () => {
  const { c } = await visitor(s.wsUrl, { lang: "zh" });
  expect(await say(c, "我要开发票")).toContain("发票抬头");
  expect(await say(c, "句号测试有限公司")).toContain("统一社会信用代码");
  expect(await say(c, "91350100M000100Y43。")).toContain("邮箱");
  const confirm = await say(c, "finance@example.cn。");
  expect(confirm).toContain("邮箱：finance@example.cn\n");
  expect(await say(c, "取消")).toContain("已取消");
  c.close();
}, 10_000);

test("order-status: 'my order number is …' in both languages", async () => {
  const { c } = await visitor(s.wsUrl, { lang: "zh" });
  expect(await say(c, "我的订单号是 20240518123")).toContain("订单 20240518123 已发货");
  c.close();
  const { c: e } = await visitor(s.wsUrl, { lang: "en" });
  expect(await say(e, "my order number is 20240518123")).toContain("Order 20240518123 has shipped");
  e.close();
}, 10_000);

test("a restart in the middle of the flow: the visitor goes on where they were", async () => {
  const own = mkdtempSync(join(tmpdir(), "kefu-review16-restart-"));
  mkdirSync(join(own, "plugins"));
  for (const [file, text] of Object.entries(examplePlugins)) writeFileSync(join(own, "plugins", file), text);
  try {
    let server = await startTestServer({ plugins: { watch: false } }, own);
    const first = await visitor(server.wsUrl, { lang: "en" });
    expect(await say(first.c, "I need an invoice")).toContain("invoice title");
    expect(await say(first.c, "Restart Ltd")).toContain("unified social credit code");
    first.c.close();
    await server.stop();
    server = await startTestServer({ plugins: { watch: false } }, own);
    try {
      const seen = Math.max(...first.c.frames.map((f) => (typeof f.seq === "number" ? f.seq : 0)));
      const again = await visitor(server.wsUrl, { lang: "en", visitor_id: first.welcome.visitor_id, token: first.welcome.token, conversation_id: first.welcome.conversation_id, last_seq: seen });
      expect(again.welcome.conversation_id).toBe(first.welcome.conversation_id);
      expect(await say(again.c, "91350100M000100Y43")).toContain("e-mail");
      again.c.close();
    } finally {
      await server.stop();
    }
  } finally {
    rmSync(own, { recursive: true, force: true });
  }
}, 20_000);

test("the admin route lists the newest requests first, also past the 1,000th", async () => {
  const db = s.kefu.ctx.db;
  const put = db.query("INSERT OR REPLACE INTO plugin_kv (plugin, key, value, expires_at, updated_at) VALUES ('invoice', ?, ?, NULL, 0)");
  const seq = ((JSON.parse(db.query<{ value: string }, []>("SELECT value FROM plugin_kv WHERE plugin = 'invoice' AND key = 'seq'").get()?.value ?? "0") as number) || 0);
  db.transaction(() => {
    for (let i = seq + 1; i <= seq + 1200; i++) {
      const id = `INV-${String(i).padStart(5, "0")}`;
      put.run(`request:${id}`, JSON.stringify({ id, title: `批量公司${i}`, tax_id: "91350100M000100Y43", email: "a@b.cn", conversation_id: "c", visitor_id: null, external_id: null, created_at: new Date(0).toISOString() }));
    }
    put.run("seq", JSON.stringify(seq + 1200));
  })();
  const admin = await s.login("admin");
  const res = await fetch(`${s.url}/api/plugins/invoice/requests`, { headers: { authorization: `Bearer ${admin}` } });
  expect(res.status).toBe(200);
  const { requests } = (await res.json()) as { requests: { id: string }[] };
  expect(requests[0]!.id).toBe(`INV-${String(seq + 1200).padStart(5, "0")}`);
  expect(requests[1]!.id).toBe(`INV-${String(seq + 1199).padStart(5, "0")}`);
}, 15_000);
