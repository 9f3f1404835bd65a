import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../src/log/logger";
import { examplePlugins } from "../src/plugins/example-plugin";
import { createPluginHost } from "../src/plugins/host";
import { pluginMigrations } from "../src/plugins/migrations";
import { startTestServer, type TestServer } from "./helpers/server";
import { visitor, type WsClient } from "./helpers/ws-client";
import { createSqliteSql } from "../src/storage/sqlite-driver";

// Issue 16 done-when 4: both example plugins (the files `kefu init` writes) end to end over the visitor
// WebSocket, in Chinese and English.
let s: TestServer;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kefu-plugins-examples-"));
  mkdirSync(join(dir, "plugins"));
  for (const [file, text] of Object.entries(examplePlugins)) writeFileSync(join(dir, "plugins", file), text);
  s = await startTestServer({ plugins: { watch: false } }, dir);
});
afterAll(async () => {
  await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
async function say(c: WsClient, text: string) {
  c.send({ type: "send", client_id: `m${++n}`, text });
  return (await c.nextType("message", (f) => f.from === "bot")) as unknown as { text: string; choices?: { entry_id: string; question: string }[] };
}

describe("order-status", () => {
  test("zh: a number in the question, a missing number asked for, an unknown number", async () => {
    const { c } = await visitor(s.wsUrl, { lang: "zh" });
    expect((await say(c, "我的订单 20240518123 到哪了")).text).toBe("订单 20240518123 已发货：顺丰 SF Express，运单号 SF1234567890，预计 2024-05-21 送达。");
    expect((await say(c, "我的快递到哪了？")).text).toContain("请提供您的订单号");
    expect((await say(c, "20240518456")).text).toBe("订单 20240518456 已付款，正在备货，通常 48 小时内发货。");
    expect((await say(c, "查一下订单 20249999999")).text).toContain("没有找到订单 20249999999");
    // Not an order question: the knowledge base answers as before.
    expect((await say(c, "怎么开发票")).text).toContain("申请开票");
    c.close();
  }, 15_000);

  test("en: the same in English", async () => {
    const { c } = await visitor(s.wsUrl, { lang: "en" });
    expect((await say(c, "where is order 20240518123")).text).toBe("Order 20240518123 has shipped with 顺丰 SF Express, tracking number SF1234567890, expected on 2024-05-21.");
    expect((await say(c, "Where is my package?")).text).toContain("Please tell me your order number");
    expect((await say(c, "It's 20240517789")).text).toContain("Order 20240517789 was delivered");
    expect((await say(c, "what is the status of order 12345678")).text).toContain("I could not find order 12345678");
    c.close();
  }, 15_000);
});

describe("invoice", () => {
  test("zh: title, a wrong tax id refused, e-mail, confirm; the request is listed on the plugin's admin route", async () => {
    const { c } = await visitor(s.wsUrl, { lang: "zh" });
    expect((await say(c, "我要开发票")).text).toContain("发票抬头");
    expect((await say(c, "厦门某某科技有限公司")).text).toContain("18 位统一社会信用代码");
    expect((await say(c, "91310000MA1FL8XQ30")).text).toContain("这个税号不正确"); // check character wrong
    expect((await say(c, "91350100 M000100 Y43")).text).toContain("邮箱");
    expect((await say(c, "finance@")).text).toContain("邮箱格式不正确");
    const confirm = await say(c, "finance@example.cn");
    expect(confirm.text).toContain("抬头：厦门某某科技有限公司\n税号：91350100M000100Y43\n邮箱：finance@example.cn");
    expect(confirm.choices?.map((x) => x.question)).toEqual(["确认", "修改", "取消"]);
    // Picked like any offered choice (the widget's buttons): the pick is the visitor's message to the plugin.
    const pick = `m${++n}`;
    c.send({ type: "choose", client_id: pick, entry_id: confirm.choices![0]!.entry_id });
    await c.nextType("ack", (f) => f.client_id === pick);
    const done = (await c.nextType("message", (f) => f.from === "bot")) as unknown as { text: string };
    expect(done.text).toMatch(/^已提交开票申请（编号 INV-\d{5}）/);
    c.close();

    const admin = await s.login("admin");
    const res = await fetch(`${s.url}/api/plugins/invoice/requests`, { headers: { authorization: `Bearer ${admin}` } });
    expect(res.status).toBe(200);
    const { requests } = (await res.json()) as { requests: { id: string; title: string; tax_id: string; email: string }[] };
    expect(requests.find((r) => done.text.includes(r.id))).toMatchObject({ title: "厦门某某科技有限公司", tax_id: "91350100M000100Y43", email: "finance@example.cn" });
    // The route is the plugin's own admin route: no token 401, an agent 403.
    expect((await fetch(`${s.url}/api/plugins/invoice/requests`)).status).toBe(401);
    const agent = await s.login("agent");
    expect((await fetch(`${s.url}/api/plugins/invoice/requests`, { headers: { authorization: `Bearer ${agent}` } })).status).toBe(403);
    const missing = await fetch(`${s.url}/api/plugins/invoice/requests/INV-99999`, { headers: { authorization: `Bearer ${admin}` } });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("not_found");
  }, 15_000);

  test("en: the flow in English, cancel leaves it", async () => {
    const { c } = await visitor(s.wsUrl, { lang: "en" });
    expect((await say(c, "I need an invoice")).text).toContain("invoice title");
    expect((await say(c, "cancel")).text).toContain("cancelled");
    expect((await say(c, "Please issue an invoice")).text).toContain("invoice title");
    expect((await say(c, "ACME Trading Co., Ltd.")).text).toContain("unified social credit code");
    expect((await say(c, "12345")).text).toContain("not valid");
    // Tax id and e-mail sent back to back: answered one by one or together (one text, two parts), the flow takes both.
    c.send({ type: "send", client_id: `m${++n}`, text: "91110000600037341L" });
    c.send({ type: "send", client_id: `m${++n}`, text: "ap@acme.example" });
    expect((await c.nextType("message", (f) => f.from === "bot" && String(f.text).startsWith("Please confirm"))).text).toContain(
      "Title: ACME Trading Co., Ltd.\nTax id: 91110000600037341L\nE-mail: ap@acme.example",
    );
    expect((await say(c, "confirm")).text).toMatch(/^Your invoice request INV-\d{5} is submitted/);
    c.close();
  }, 15_000);
});

test("invoice: several messages answered together are one step each", async () => {
  const db = new Database(":memory:");
  db.run(pluginMigrations[0]!.sql);
  const host = createPluginHost({ dir: join(dir, "plugins"), sql: createSqliteSql(db), log: createLogger({ level: "silent" }), hookTimeoutMs: 2000, watch: false });
  try {
    await host.start({ kbSearch: async () => [], send: () => false, lookup: (id) => ({ conversation: { id, state: "bot", lang: "zh" }, visitor: null }) });
    const ask = async (parts: string[]) => (await host.onMessage({ text: parts.join("\n"), parts, lang: "zh", conversationId: "c-1" }))?.verdict;
    expect(await ask(["我要开发票"])).toMatchObject({ text: expect.stringContaining("发票抬头") });
    expect(await ask(["某某公司", "91350100M000100Y43", "a@b.cn"])).toMatchObject({ text: expect.stringContaining("抬头：某某公司\n税号：91350100M000100Y43\n邮箱：a@b.cn") });
    expect(await ask(["确认"])).toMatchObject({ text: expect.stringMatching(/^已提交开票申请/) });
  } finally {
    await host.stop();
  }
}, 15_000);
