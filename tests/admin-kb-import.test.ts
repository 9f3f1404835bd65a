import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { demoShopFaq } from "../src/demo/shop-faq";
import { xlsxWorkbook } from "../src/kb/import/test-xlsx";
import { startTestServer, type TestServer } from "./helpers/server";

/**
 * Issue 14, done-when 3: POST /api/admin/kb/import as multipart (file) and as a raw text/csv body, replace mode
 * deleting what the file lacks in one transaction, an unchanged re-import keeping the version, dry runs writing
 * nothing. Against a real server whose knowledge base is the seeded demo.
 */

let s: TestServer;
let admin: string;
beforeAll(async () => {
  s = await startTestServer({ log: { level: "warn" }, answer: { ask_open: true } });
  admin = await s.login("admin");
}, 30_000);
afterAll(() => s.stop());

type Json = Record<string, any>;
const version = () => s.kefu.ctx.kb.version();
const ids = () => [...s.kefu.ctx.kb.all()].map((e) => e.id);
const auth = () => ({ authorization: `Bearer ${admin}` });

async function upload(name: string, text: string | Uint8Array, fields: Record<string, string> = {}, type?: string) {
  const form = new FormData();
  form.set("file", new File([text], name, type ? { type } : {}));
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  const res = await fetch(`${s.url}/api/admin/kb/import`, { method: "POST", headers: auth(), body: form });
  return { status: res.status, json: (await res.json()) as Json };
}
async function raw(query: string, contentType: string, body: string | Uint8Array) {
  const res = await fetch(`${s.url}/api/admin/kb/import${query}`, { method: "POST", headers: { ...auth(), "content-type": contentType }, body });
  return { status: res.status, json: (await res.json()) as Json };
}
async function ask(text: string) {
  const res = await fetch(`${s.url}/api/ask`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text, lang: "zh" }) });
  return (await res.json()) as Json;
}

// The shop's own FAQ: one demo question with the shop's own answer (same id: an update), two new ones.
const SHOP = [
  "id,question,answer,alt_questions,tags",
  "demo-shipping-fee-zh,运费怎么算？,全场包邮，偏远地区加收10元。,包邮吗 || 邮费多少,shipping",
  "gift-wrap,可以礼品包装吗？,可以，每单加收2元。,能包装吗,service",
  "pickup,可以到店自提吗？,暂不支持到店自提。,,service",
].join("\n");

describe("import forms", () => {
  test("multipart: the format from the file name, dry run first (nothing written), then applied", async () => {
    const v = version();
    const dry = await upload("faq.csv", SHOP, { dry_run: "true" });
    expect(dry.status).toBe(200);
    expect(dry.json).toMatchObject({
      dry_run: true,
      mode: "upsert",
      format: "csv",
      applied: false,
      version: v,
      counts: { added: 2, updated: 1, unchanged: 0, deleted: 0, rejected: 0 },
      added: [
        { line: 3, id: "gift-wrap", question: "可以礼品包装吗?" },
        { line: 4, id: "pickup", question: "可以到店自提吗?" },
      ],
      updated: [{ line: 2, id: "demo-shipping-fee-zh", fields: ["alt_questions", "answer"] }],
    });
    expect(version()).toBe(v);
    expect(s.kefu.ctx.kb.get("gift-wrap")).toBeNull();

    const applied = await upload("faq.csv", SHOP);
    expect(applied.json).toMatchObject({ applied: true, dry_run: false, counts: { added: 2, updated: 1 }, version: v + 1 });
    expect(s.kefu.ctx.kb.get("gift-wrap")!.answer).toBe("可以，每单加收2元。");
  }, 20_000);

  test("the same file again changes nothing and keeps the knowledge-base version (and the answer cache)", async () => {
    expect((await ask("可以礼品包装吗")).path).toBe("direct");
    expect((await ask("可以礼品包装吗")).path).toBe("cache");
    const v = version();
    const again = await upload("faq.csv", SHOP);
    expect(again.json).toMatchObject({ applied: true, counts: { added: 0, updated: 0, unchanged: 3 }, version: v });
    expect(version()).toBe(v);
    expect((await ask("可以礼品包装吗")).path).toBe("cache");
    // Exported and imported back: still nothing to do.
    const exported = await (await fetch(`${s.url}/api/admin/kb/export?format=csv`, { headers: auth() })).text();
    expect((await raw("", "text/csv", exported)).json).toMatchObject({ counts: { added: 0, updated: 0, deleted: 0 }, version: v });
  }, 20_000);

  test("raw bodies: text/csv, ndjson and a Markdown FAQ with the options as query parameters", async () => {
    const csv = await raw("?dry_run=true", "text/csv; charset=utf-8", "question,answer\n有没有会员折扣？,会员享95折。\n");
    expect(csv.json).toMatchObject({ format: "csv", dry_run: true, counts: { added: 1 } });
    const v = version();
    const ndjson = await raw("", "application/x-ndjson", '{"id":"nd-1","question":"Do you have a loyalty card?","answer":"Yes, ask at checkout.","alt_questions":["loyalty program"]}\n');
    expect(ndjson.json).toMatchObject({ format: "jsonl", applied: true, counts: { added: 1 }, version: v + 1 });
    expect(s.kefu.ctx.kb.get("nd-1")!.alts).toEqual(["loyalty program"]);
    const md = await raw("?format=markdown", "text/markdown", "## 周末发货吗？\n周末照常发货。\n");
    expect(md.json).toMatchObject({ format: "markdown", counts: { added: 1 } });
    // curl --data-binary without -H sends application/x-www-form-urlencoded: the text tells the format.
    const curlDefault = await raw("?dry_run=1", "application/x-www-form-urlencoded", "question,answer\n能开发票吗？,能。\n");
    expect(curlDefault.json).toMatchObject({ format: "csv", dry_run: true });
    // Excel on a Chinese Windows saves CSV as GBK: read as GB18030.
    const gbk = new Uint8Array([0xce, 0xca, 0xcc, 0xe2, 0x2c, 0xb4, 0xf0, 0xb0, 0xb8, 0x0a, 0xc4, 0xe3, 0xba, 0xc3, 0x2c, 0xc4, 0xfa, 0xba, 0xc3, 0x0a]); // 问题,答案\n你好,您好\n
    expect((await raw("?dry_run=true", "text/csv", gbk)).json.added).toEqual([{ line: 2, id: expect.any(String), question: "你好" }]);
    expect((await raw("", "application/pdf", "x")).status).toBe(415);
  }, 20_000);

  test("an Excel workbook, uploaded or sent as the body", async () => {
    const book = xlsxWorkbook([
      ["id", "question", "answer", "alt_questions"],
      ["xl-1", "Do you ship on Sundays?", "No, Monday to Saturday.", "sunday delivery"],
    ]);
    const dry = await upload("faq.xlsx", book, { dry_run: "true" });
    expect(dry.json).toMatchObject({ format: "xlsx", dry_run: true, counts: { added: 1, rejected: 0 }, added: [{ line: 2, id: "xl-1" }] });
    const xlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    const body = await raw("", xlsxType, book);
    expect(body.json).toMatchObject({ format: "xlsx", applied: true, counts: { added: 1 } });
    expect(s.kefu.ctx.kb.get("xl-1")!.alts).toEqual(["sunday delivery"]);
    // Told from its bytes when neither a name nor a type says so.
    expect((await raw("?dry_run=true", "application/octet-stream", book)).json).toMatchObject({ format: "xlsx", counts: { unchanged: 1 } });
    expect((await upload("faq.xlsx", "not a workbook")).json.error.details.rejected[0].error).toContain(".xlsx");
  }, 20_000);

  test("a plain-text document: the dry run shows the chunks it would be split into", async () => {
    const text = Array.from({ length: 10 }, (_, i) => `第${i + 1}条：退货商品须保持原包装完好，配件齐全，并附上购物凭证。`).join("\n\n");
    const dry = await upload("returns-policy.txt", text, { dry_run: "true", chunk_size: "120", chunk_overlap: "20" });
    expect(dry.json).toMatchObject({ format: "document", applied: false, documents: [{ action: "added" }] });
    expect(dry.json.chunks.length).toBeGreaterThan(2);
    expect(dry.json.chunks[0]).toEqual({ index: 0, text: expect.stringMatching(/^第1条/) });
    expect(s.kefu.ctx.kb.documents.list()).toHaveLength(0);
    const applied = await upload("returns-policy.txt", text, { chunk_size: "120", chunk_overlap: "20" });
    expect(applied.json.documents).toEqual([{ line: 1, id: dry.json.documents[0].id, action: "added", chunks: dry.json.chunks.length }]);
    expect(s.kefu.ctx.kb.documents.list()[0]!.title).toBe("returns-policy.txt");
  }, 20_000);

  test("rejected lines: a 400 listing each with its line, nothing written; skip_invalid imports the rest", async () => {
    const bad = "id,question,answer\nok-1,How do I contact you?,Use the chat.\nbad-1,,no question\nbad-2,No answer,\n";
    const v = version();
    const r = await raw("", "text/csv", bad);
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe("import_rejected");
    expect(r.json.error.details.rejected).toEqual([
      { line: 3, error: "empty question", id: "bad-1" },
      { line: 4, error: "empty answer", id: "bad-2" },
    ]);
    expect(version()).toBe(v);
    expect(s.kefu.ctx.kb.get("ok-1")).toBeNull();
    // A dry run is a preview: 200 with the same lines.
    expect((await raw("?dry_run=true", "text/csv", bad)).json).toMatchObject({ applied: false, counts: { added: 1, rejected: 2 } });
    const skip = await raw("?skip_invalid=true", "text/csv", bad);
    expect(skip.json).toMatchObject({ applied: true, counts: { added: 1, rejected: 2 } });
  }, 20_000);
});

describe("replace mode", () => {
  test("the dry run lists the demo entries to be deleted; applying deletes them with the upserts in one version bump", async () => {
    // The complaint: the shop's 运费 question keeps getting the demo's answer.
    await s.kefu.ctx.kb.upsert([{ id: "demo-shipping-fee-zh", question: demoShopFaq[4]!.question, alts: demoShopFaq[4]!.alts, answer: demoShopFaq[4]!.answer }]);
    expect((await ask("运费怎么算")).answer).toContain("满99元包邮");
    const before = ids();
    const lacking = before.filter((id) => !["demo-shipping-fee-zh", "gift-wrap", "pickup"].includes(id));
    expect(lacking.filter((id) => id.startsWith("demo-"))).toHaveLength(demoShopFaq.length - 1);

    const v = version();
    const dry = await upload("shop.csv", SHOP, { mode: "replace", dry_run: "true" });
    expect(dry.json).toMatchObject({ mode: "replace", applied: false, counts: { added: 0, updated: 1, unchanged: 2, deleted: lacking.length } });
    expect(dry.json.deleted.map((d: Json) => d.id)).toEqual(lacking);
    expect(dry.json.deleted[0]).toEqual({ id: "demo-shipping-time-zh", question: "多久可以发货?" });
    expect(ids()).toEqual(before);

    const applied = await upload("shop.csv", SHOP, { mode: "replace" });
    expect(applied.json).toMatchObject({ mode: "replace", applied: true, counts: { updated: 1, deleted: lacking.length }, version: v + 1 });
    expect(version()).toBe(v + 1);
    expect(ids().toSorted()).toEqual(["demo-shipping-fee-zh", "gift-wrap", "pickup"]);
    expect(s.kefu.ctx.kb.documents.list()).toHaveLength(1); // documents are not entries: kept
    expect((await ask("运费怎么算")).answer).toBe("全场包邮，偏远地区加收10元。");

    // Replacing with the same file again: nothing to delete, the version stays.
    expect((await raw("?mode=replace", "text/csv", SHOP)).json).toMatchObject({ counts: { deleted: 0, updated: 0, unchanged: 3 }, version: v + 1 });
    expect((await raw("?mode=replace", "text/plain", "Just some prose.")).status).toBe(400);
  }, 20_000);
});
