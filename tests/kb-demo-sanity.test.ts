import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { demoShopFaq } from "../src/demo/shop-faq";
import { KnowledgeBase } from "../src/kb/engine";
import { kbMigrations } from "../src/kb/migrations";
import { loadSqliteVec } from "../src/platform/sqlite-vec";

/**
 * What a small shop sees with the default thresholds: questions its knowledge base
 * does not cover must not get a confident wrong answer; everyday paraphrases of its
 * questions must get the right one. Written independently of the evaluation sets.
 */
const offTopic = [
  "what is the capital of france",
  "What's the weather like tomorrow?",
  "Tell me a joke",
  "Is the store open on Christmas?",
  "Do you have a physical shop in Beijing?",
  "Do you sell iPhones?",
  "你们卖不卖手机",
  "给我讲个笑话",
  "你们招聘吗",
  "怎么修改登录密码",
  "你是机器人吗",
  "这件衣服有几种颜色",
  // Reported in issue 11 as answered verbatim (and wrongly) before calibration.
  "Is there a student discount?",
  "what's the weather",
  "你们老板是谁",
  "Do you offer gift wrapping for a birthday?",
  "Can I pick up my order in Shanghai?",
  "I want to apply for a job",
  "How do I reset my password?",
  "可以开发票吗上海有门店吗",
];
// Known misses, measured and left visible in src/kb/README.md ("Demo shop"): "where's my package right now"
// (no entry above `suggest`) and "how long does it take to get my money back" (delivery time ranks first).
const paraphrases: [string, string][] = [
  ["I'd like to send back the shoes I bought", "demo-returns-en"],
  ["how many days until my parcel arrives", "demo-delivery-time-en"],
  ["Can I pay using Mastercard?", "demo-payment-methods-en"],
  ["I typed the wrong address on my order", "demo-change-address-en"],
  ["my card got declined", "demo-payment-failed-en"],
  ["发票怎么开", "demo-invoice-zh"],
  ["几天能到货", "demo-delivery-time-zh"],
  ["能用支付宝付款吗", "demo-payment-methods-zh"],
  ["收货地址写错了", "demo-change-address-zh"],
  ["退款什么时候到", "demo-refund-time-zh"],
  ["尺码小了想换大一号", "demo-exchange-zh"],
  ["包邮吗？", "demo-shipping-fee-zh"],
];

async function demoKb() {
  const db = new Database(":memory:");
  await loadSqliteVec(db);
  for (const m of kbMigrations) db.run(m.sql);
  const kb = await KnowledgeBase.open(db);
  await kb.upsert(demoShopFaq);
  // As `kefu serve` has it once the background fit is done.
  await kb.calibrate();
  return kb;
}

describe("demo shop knowledge base with default thresholds", () => {
  test("off-topic questions get no direct answer", async () => {
    const kb = await demoKb();
    const answered: string[] = [];
    for (const q of offTopic) if ((await kb.ask(q)).path === "direct") answered.push(q);
    expect(answered).toEqual([]);
  });

  test("its own questions get their answer verbatim", async () => {
    const kb = await demoKb();
    const wrong: string[] = [];
    for (const e of demoShopFaq) {
      const r = await kb.ask(e.question);
      if (r.path !== "direct" || r.entryId !== e.id) wrong.push(`${e.question} → ${r.path} ${r.entryId ?? r.matches[0]?.id}`);
    }
    expect(wrong).toEqual([]);
  });

  // At the default `direct` (chosen for 90% right verbatim answers on the dev sets) these everyday paraphrases
  // are offered as "did you mean" choices, the right entry first, rather than answered verbatim (src/kb/README.md).
  test("paraphrases of its questions get the right entry, verbatim or as the first choice", async () => {
    const kb = await demoKb();
    const wrong: string[] = [];
    for (const [q, id] of paraphrases) {
      const r = await kb.ask(q);
      const first = r.entryId ?? r.matches[0]?.id;
      if (r.path === "none" || first !== id) wrong.push(`${q} → ${r.path} ${first}`);
    }
    expect(wrong).toEqual([]);
  });
});
