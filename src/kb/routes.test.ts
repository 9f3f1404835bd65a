import { describe, expect, test } from "bun:test";
import { Elysia } from "elysia";
import { KefuError } from "../errors/kefu-error.ts";
import { testAccess } from "../auth/test-access.ts";
import { kbAdminRoutes } from "./routes.ts";
import { openKb, SHOP_FAQ } from "./test/helpers.ts";

async function app() {
  const kb = await openKb();
  await kb.upsert(SHOP_FAQ);
  const a = new Elysia()
    .onError(({ error, set }) => {
      if (error instanceof KefuError) {
        set.status = error.status;
        return error.toJSON();
      }
    })
    .use(kbAdminRoutes(kb, testAccess(), { maxImportBytes: 20 * 1024 * 1024 }));
  const call = (method: string, path: string, body?: unknown) =>
    a.handle(
      new Request(`http://localhost/api/admin/kb${path}`, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
  return { kb, call };
}

describe("kb admin routes", () => {
  test("CRUD", async () => {
    const { call } = await app();
    const created = await call("POST", "/entries", { id: "pay", question: "支持哪些支付方式？", answer: "微信、支付宝。" });
    expect(created.status).toBe(201);
    expect((await call("POST", "/entries", { id: "pay", question: "x", answer: "y" })).status).toBe(409);
    expect(((await (await call("GET", "/entries/pay")).json()) as { answer: string }).answer).toBe("微信、支付宝。");
    const put = await call("PUT", "/entries/pay", { question: "支持哪些支付方式？", answer: "微信、支付宝、银行卡。", alt_questions: ["能用信用卡吗"] });
    expect(((await put.json()) as { alt_questions: string[] }).alt_questions).toEqual(["能用信用卡吗"]);
    // PUT changes the fields given and keeps the others.
    const off = (await (await call("PUT", "/entries/pay", { enabled: false })).json()) as { enabled: boolean; alt_questions: string[]; answer: string; created_at: string };
    expect(off).toMatchObject({ enabled: false, alt_questions: ["能用信用卡吗"], answer: "微信、支付宝、银行卡。", hits: 0, last_hit_at: null, document_id: null });
    expect(Date.parse(off.created_at)).toBeGreaterThan(0);
    expect((await call("PUT", "/entries/nope", { enabled: false })).status).toBe(404);
    const list = (await (await call("GET", "/entries?limit=2")).json()) as { total: number; entries: unknown[] };
    expect(list.total).toBe(SHOP_FAQ.length + 1);
    expect(list.entries).toHaveLength(2);
    expect((await call("DELETE", "/entries/pay")).status).toBe(204);
    expect((await call("GET", "/entries/pay")).status).toBe(404);
    expect((await call("POST", "/entries", { question: "", answer: "y" })).status).toBe(422);
  });

  test("search hit test", async () => {
    const { call } = await app();
    const r = (await (await call("GET", `/search?q=${encodeURIComponent("iPhone 怎么退货")}&k=3`)).json()) as {
      matches: { id: string; confidence: number; explanation: string }[];
    };
    expect(r.matches[0]!.id).toBe("returns");
    expect(r.matches[0]!.explanation.length).toBeGreaterThan(0);
    expect((await call("GET", "/search")).status).toBe(422);
  });

  test("import dry run, import, export round trip", async () => {
    const { call, kb } = await app();
    const text = "id,question,answer\nnew1,能开增值税专用发票吗？,可以。\n";
    const dry = (await (await call("POST", "/import", { text, format: "csv", dry_run: true })).json()) as { counts: { added: number }; applied: boolean };
    expect(dry).toMatchObject({ counts: { added: 1 }, applied: false });
    expect(kb.get("new1")).toBeNull();
    expect(((await (await call("POST", "/import", { text, format: "csv" })).json()) as { applied: boolean }).applied).toBe(true);
    const exp = await call("GET", "/export?format=jsonl");
    expect(exp.headers.get("content-type")).toContain("ndjson");
    const body = await exp.text();
    expect(body.trim().split("\n")).toHaveLength(SHOP_FAQ.length + 1);
    const again = (await (await call("POST", "/import", { text: body, format: "jsonl" })).json()) as { counts: { unchanged: number; added: number; updated: number } };
    expect(again.counts).toMatchObject({ added: 0, updated: 0, unchanged: SHOP_FAQ.length + 1 });
    expect((await call("GET", "/export?format=xml")).status).toBe(422);
  });
});
