import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { demoShopFaq } from "../src/demo/shop-faq";
import { startTestServer, type TestServer } from "./helpers/server";

/** Issue 14, the knowledge-base half of the admin REST API, against a real server (demo knowledge seeded). */

let s: TestServer;
let admin: string;
beforeAll(async () => {
  s = await startTestServer({ log: { level: "warn" }, answer: { ask_open: true } });
  admin = await s.login("admin");
}, 30_000);
afterAll(() => s.stop());

type Json = Record<string, any>;
async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: Json; text: string; headers: Headers }> {
  const headers: Record<string, string> = { authorization: `Bearer ${admin}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${s.url}/api/admin/kb${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json: Json = {};
  try {
    json = JSON.parse(text);
  } catch {
    // CSV and empty bodies
  }
  return { status: res.status, json, text, headers: res.headers };
}
const version = () => s.kefu.ctx.kb.version();

describe("strict bodies", () => {
  test("an unknown body field is a 400 naming it, on every knowledge-base route, and nothing is written", async () => {
    const v = version();
    const cases: [string, string, Json, string][] = [
      ["POST", "/entries", { question: "Do you sell gift cards?", answer: "Yes.", alts: ["gift card"] }, "alts"],
      ["PUT", "/entries/demo-returns-en", { answr: "typo" }, "answr"],
      ["POST", "/entries/bulk", { action: "delete", ids: ["demo-returns-en"], force: true }, "force"],
      // The misspelling the issue names: camelCase dryRun must not import for real.
      ["POST", "/import", { text: "question,answer\nDo you sell gift cards?,Yes.\n", format: "csv", dryRun: true }, "dryRun"],
      ["POST", "/import", { text: "question,answer\nDo you sell gift cards?,Yes.\n", dry_runn: true }, "dry_runn"],
    ];
    for (const [method, path, body, field] of cases) {
      const r = await api(method, path, body);
      expect({ path, status: r.status, code: r.json.error?.code }).toEqual({ path, status: 400, code: "validation_failed" });
      expect(r.json.error.message).toContain(`unknown field "${field}"`);
    }
    expect(version()).toBe(v);
    expect((await api("GET", "/entries?q=gift")).json.total).toBe(0);
    expect(s.kefu.ctx.kb.get("demo-returns-en")).not.toBeNull();
  }, 20_000);

  test("the form and query forms of an import are as strict: a misspelled dry_run never writes", async () => {
    const v = version();
    const form = new FormData();
    form.set("file", new File(["question,answer\nDo you sell gift cards?,Yes.\n"], "faq.csv", { type: "text/csv" }));
    form.set("dryrun", "true");
    const multipart = await fetch(`${s.url}/api/admin/kb/import`, { method: "POST", headers: { authorization: `Bearer ${admin}` }, body: form });
    expect(multipart.status).toBe(400);
    expect(((await multipart.json()) as Json).error.message).toContain('unknown field "dryrun"');
    const raw = await fetch(`${s.url}/api/admin/kb/import?dry-run=1`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "text/csv" },
      body: "question,answer\nDo you sell gift cards?,Yes.\n",
    });
    expect(raw.status).toBe(400);
    expect(((await raw.json()) as Json).error.message).toContain('unknown field "dry-run"');
    expect(version()).toBe(v);
    expect((await api("GET", "/entries?q=gift")).json.total).toBe(0);
  }, 20_000);
});

describe("entries", () => {
  test("snake_case entries; PUT changes only the fields given; list search, tag and enabled filters; tags", async () => {
    const created = await api("POST", "/entries", { id: "gift-card", question: "Do you sell gift cards?", alt_questions: ["gift card", "voucher"], answer: "Yes, from 50 yuan.", tags: ["payment", "promo"] });
    expect(created.status).toBe(201);
    expect(created.json).toEqual({
      id: "gift-card",
      question: "Do you sell gift cards?",
      alt_questions: ["gift card", "voucher"],
      answer: "Yes, from 50 yuan.",
      tags: ["payment", "promo"],
      enabled: true,
      document_id: null,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
      updated_at: created.json.created_at,
      hits: 0,
      last_hit_at: null,
    });
    const off = await api("PUT", "/entries/gift-card", { enabled: false });
    expect(off.json).toMatchObject({ enabled: false, alt_questions: ["gift card", "voucher"], answer: "Yes, from 50 yuan." });

    expect((await api("GET", "/entries?q=VOUCHER")).json.entries.map((e: Json) => e.id)).toEqual(["gift-card"]);
    expect((await api("GET", "/entries?q=50%20yuan")).json.entries.map((e: Json) => e.id)).toEqual(["gift-card"]); // the answer is searched too
    const disabled = (await api("GET", "/entries?enabled=false")).json;
    expect(disabled.entries.map((e: Json) => e.id)).toEqual(["gift-card"]);
    expect((await api("GET", "/entries?enabled=true&limit=500")).json.total).toBe(demoShopFaq.length);
    const payment = (await api("GET", "/entries?tag=payment&limit=500")).json;
    expect(payment.total).toBe(demoShopFaq.filter((e) => e.tags.includes("payment")).length + 1);
    expect(payment.version).toBe(version());
    // Newest change first by default; by question A→Z on request.
    expect((await api("GET", "/entries?limit=1")).json.entries[0].id).toBe("gift-card");
    const byQuestion = (await api("GET", "/entries?sort=question&limit=500")).json.entries.map((e: Json) => e.question.toLowerCase());
    expect(byQuestion.filter((q: string) => /^[a-z]/.test(q))).toEqual(byQuestion.filter((q: string) => /^[a-z]/.test(q)).toSorted());
    expect((await api("GET", "/entries?sort=popular")).status).toBe(400);

    const tags = (await api("GET", "/tags")).json.tags as { tag: string; count: number }[];
    expect(tags.find((t) => t.tag === "promo")).toEqual({ tag: "promo", count: 1 });
    expect(tags.find((t) => t.tag === "payment")!.count).toBe(payment.total);
    expect(tags.map((t) => t.count)).toEqual(tags.map((t) => t.count).toSorted((a, b) => b - a));
    expect((await api("DELETE", "/entries/gift-card")).status).toBe(204);
  }, 20_000);

  test("hits and the last hit come from the answer log; the list sorts by them", async () => {
    const ask = async (text: string) => {
      const r = await fetch(`${s.url}/api/ask`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text, lang: "en" }) });
      return (await r.json()) as Json;
    };
    // Verbatim, then from the answer cache (a cached direct answer counts too); a different entry once.
    expect((await ask("How do I cancel my order?")).path).toBe("direct");
    expect((await ask("How do I cancel my order?")).path).toBe("cache");
    expect((await ask("Is there a warranty?")).path).toBe("direct");
    const cancel = (await api("GET", "/entries/demo-cancel-order-en")).json;
    expect(cancel.hits).toBe(2);
    expect(Date.parse(cancel.last_hit_at)).toBeGreaterThan(Date.now() - 60_000);
    const byHits = (await api("GET", "/entries?sort=hits&limit=3")).json.entries.map((e: Json) => [e.id, e.hits]);
    expect(byHits.slice(0, 2)).toEqual([
      ["demo-cancel-order-en", 2],
      ["demo-warranty-en", 1],
    ]);
    const byLast = (await api("GET", "/entries?sort=last_hit&limit=2")).json.entries.map((e: Json) => e.id);
    expect(byLast).toEqual(["demo-warranty-en", "demo-cancel-order-en"]);
    // Ascending still lists the never-hit entries last.
    const asc = (await api("GET", "/entries?sort=last_hit&order=asc&limit=2")).json.entries.map((e: Json) => e.id);
    expect(asc).toEqual(["demo-cancel-order-en", "demo-warranty-en"]);
    expect((await api("GET", "/entries?q=cancel%20my%20order")).json.entries[0].hits).toBe(2);
  }, 20_000);

  test("bulk disable, enable and delete: one transaction and one version bump each, entries already so not counted", async () => {
    const ids = ["demo-invoice-zh", "demo-invoice-en", "no-such-entry"];
    let v = version();
    const off = await api("POST", "/entries/bulk", { action: "disable", ids });
    expect(off.json).toEqual({ affected: 2, version: v + 1 });
    expect(s.kefu.ctx.kb.get("demo-invoice-en")!.enabled).toBe(false);
    const again = await api("POST", "/entries/bulk", { action: "disable", ids });
    expect(again.json).toEqual({ affected: 0, version: v + 1 });
    v = version();
    expect((await api("POST", "/entries/bulk", { action: "enable", ids })).json).toEqual({ affected: 2, version: v + 1 });
    expect(s.kefu.ctx.kb.get("demo-invoice-en")!.enabled).toBe(true);
    v = version();
    expect((await api("POST", "/entries/bulk", { action: "delete", ids })).json).toEqual({ affected: 2, version: v + 1 });
    expect(s.kefu.ctx.kb.get("demo-invoice-zh")).toBeNull();
    // Each bulk action that changed something is one audit row; the one that changed nothing, none.
    const audit = await fetch(`${s.url}/api/admin/audit?action=kb.entry.bulk`, { headers: { authorization: `Bearer ${admin}` } });
    const rows = ((await audit.json()) as Json).entries as Json[];
    expect(rows.map((r) => r.detail)).toEqual([
      { action: "delete", ids: 3, affected: 2 },
      { action: "enable", ids: 3, affected: 2 },
      { action: "disable", ids: 3, affected: 2 },
    ]);
    expect((await api("POST", "/entries/bulk", { action: "archive", ids })).status).toBe(400);
    expect((await api("POST", "/entries/bulk", { action: "delete", ids: [] })).status).toBe(400);
  }, 20_000);

  test("remove demo entries deletes every demo entry (edited ones too) and nothing else, in one bump", async () => {
    await api("POST", "/entries", { id: "own-shipping", question: "运费怎么算？", answer: "全场包邮。" });
    await api("PUT", "/entries/demo-returns-zh", { answer: "我们改过的退货说明。" });
    const left = [...s.kefu.ctx.kb.all()].filter((e) => e.id.startsWith("demo-")).length;
    expect(left).toBeGreaterThan(20);
    const v = version();
    expect((await api("POST", "/demo/remove")).json).toEqual({ deleted: left, version: v + 1 });
    expect([...s.kefu.ctx.kb.all()].map((e) => e.id)).toEqual(["own-shipping"]);
    expect((await api("POST", "/demo/remove")).json).toEqual({ deleted: 0, version: v + 1 });
    const audit = await fetch(`${s.url}/api/admin/audit?action=kb.demo.remove`, { headers: { authorization: `Bearer ${admin}` } });
    expect((((await audit.json()) as Json).entries as Json[]).map((r) => r.detail)).toEqual([{ deleted: left }]);
  }, 20_000);
});

describe("CSV template", () => {
  test("download the Chinese and the English template, fill it in, import it", async () => {
    for (const lang of ["zh", "en"] as const) {
      const t = await api("GET", `/template.csv?lang=${lang}`);
      expect(t.status).toBe(200);
      expect(t.headers.get("content-type")).toContain("text/csv");
      expect(t.headers.get("content-disposition")).toContain(`kefu-kb-template-${lang}.csv`);
      const header = t.text.split("\r\n")[0];
      expect(header).toBe(lang === "zh" ? "编号,问题,答案,相似问法,标签,启用" : "id,question,answer,alt_questions,tags,enabled");
      // Filled in the way a spreadsheet user would: the examples replaced by own rows.
      const filled = `${header}\r\ntpl-${lang}-1,Do you price-match?,"Yes, within 7 days.",price match || cheaper elsewhere,"promo,${lang}",${lang === "zh" ? "是" : "true"}\r\n,Can I pick up in store?,Not yet.,,,\r\n`;
      const form = new FormData();
      form.set("file", new File([filled], `kb-${lang}.csv`));
      const r = await fetch(`${s.url}/api/admin/kb/import`, { method: "POST", headers: { authorization: `Bearer ${admin}` }, body: form });
      const report = (await r.json()) as Json;
      expect(r.status).toBe(200);
      expect(report).toMatchObject({ format: "csv", applied: true, counts: { added: lang === "zh" ? 2 : 1, unchanged: lang === "zh" ? 0 : 1, rejected: 0 } });
      expect((await api("GET", `/entries/tpl-${lang}-1`)).json).toMatchObject({ alt_questions: ["price match", "cheaper elsewhere"], tags: ["promo", lang], enabled: true });
      // The template as downloaded imports too (its example rows).
      const asIs = await fetch(`${s.url}/api/admin/kb/import?dry_run=true`, { method: "POST", headers: { authorization: `Bearer ${admin}`, "content-type": "text/csv" }, body: t.text });
      expect(((await asIs.json()) as Json).counts).toMatchObject({ rejected: 0 });
    }
    // A byte-order mark first, so Excel reads the UTF-8 (fetch's text() drops it).
    const bytes = new Uint8Array(await (await fetch(`${s.url}/api/admin/kb/template.csv`, { headers: { authorization: `Bearer ${admin}` } })).arrayBuffer());
    expect([...bytes.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    expect(new TextDecoder().decode(bytes)).toStartWith("id,question");
    expect((await api("GET", "/template.csv?lang=fr")).status).toBe(400);
  }, 20_000);
});

describe("every admin route", () => {
  /** Object schemas anywhere in a body schema that would let an unknown field through. */
  const loose = (schema: any, at = "body"): string[] => {
    if (!schema || typeof schema !== "object") return [];
    const own = schema.type === "object" && schema.additionalProperties !== false ? [at] : [];
    const inner = [
      ...Object.entries(schema.properties ?? {}).flatMap(([k, v]) => loose(v, `${at}.${k}`)),
      ...loose(schema.items, `${at}[]`),
      ...[...(schema.anyOf ?? []), ...(schema.allOf ?? [])].flatMap((v: unknown) => loose(v, at)),
    ];
    return [...own, ...inner];
  };

  test("takes a strict body: a field it does not know cannot be silently ignored", () => {
    const problems = s.kefu.app.routes
      .filter((r) => r.path.startsWith("/api/admin") && ["POST", "PUT", "PATCH"].includes(r.method))
      .flatMap((r) => {
        const body = (r.hooks as { body?: unknown } | undefined)?.body;
        return body ? loose(body).map((where) => `${r.method} ${r.path}: ${where}`) : [`${r.method} ${r.path}: no body schema`];
      });
    expect(problems).toEqual([]);
  }, 20_000);

  test("a route without fields refuses one", async () => {
    const r = await api("POST", "/demo/remove", { dry_run: true });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toContain('unknown field "dry_run"');
  }, 20_000);
});
