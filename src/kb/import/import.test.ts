import { describe, expect, test } from "bun:test";
import { openKb } from "../test/helpers.ts";
import { importText } from "./apply.ts";
import { parseCsv } from "./csv.ts";
import { exportText } from "./export.ts";
import { parseEntryCsv, parseMarkdownFaq } from "./formats.ts";

const CSV = `id,question,answer,alt_questions
returns,如何申请退货退款？,"在订单页点击""申请售后""，
选择退货退款。",怎么退货 || 我想退货
shipping,多久发货？,付款后 48 小时内发货。,"什么时候发货
发货要几天"
hours,"What are your opening hours?","Mon-Fri, 9:00-18:00",when are you open
`;

describe("csv", () => {
  test("RFC 4180 quoting, embedded newlines and line numbers", () => {
    const r = parseCsv('a,b\r\n"x,1","y ""q"""\n"multi\nline",z\n');
    expect(r.error).toBeUndefined();
    expect(r.records.map((x) => x.fields)).toEqual([["a", "b"], ["x,1", 'y "q"'], ["multi\nline", "z"]]);
    expect(r.records.map((x) => x.line)).toEqual([1, 2, 3]);
  });

  test("bad quoting is reported with its line", () => {
    expect(parseCsv('a,b\n"open,x\n').error).toEqual({ line: 2, message: "unterminated quoted field" });
    expect(parseCsv('a,b\nx"y,z\n').error?.line).toBe(2);
    expect(parseCsv('a,b\n"x"y,z\n').error?.message).toBe("unexpected character after closing quote");
  });

  test("alternatives split on ' || ' and newlines; Chinese headers accepted", () => {
    const r = parseEntryCsv("问题,答案,相似问题\n怎么退货,去订单页,退货流程 || 能退吗\n");
    expect(r.records[0]!.entry).toMatchObject({ question: "怎么退货", answer: "去订单页", alts: ["退货流程", "能退吗"] });
    expect(parseEntryCsv(CSV).records[1]!.entry.alts).toEqual(["什么时候发货", "发货要几天"]);
  });
});

describe("import", () => {
  test("adds, then reports unchanged; dry run writes nothing", async () => {
    const kb = await openKb();
    const dry = await importText(kb, CSV, { format: "csv", dryRun: true });
    expect(dry).toMatchObject({ applied: false, added: 3, rejected: [] });
    expect(kb.count()).toBe(0);
    const first = await importText(kb, CSV, { format: "csv" });
    expect(first).toMatchObject({ applied: true, added: 3, updated: 0, unchanged: 0 });
    expect(kb.get("returns")!.answer).toBe('在订单页点击"申请售后"，\n选择退货退款。');
    const second = await importText(kb, CSV, { format: "csv" });
    expect(second).toMatchObject({ added: 0, updated: 0, unchanged: 3 });
    expect((await kb.search("退货")).matches[0]!.id).toBe("returns");
  });

  test("round trip: import → export → import reports 0 changes (csv and jsonl)", async () => {
    for (const format of ["csv", "jsonl"] as const) {
      const kb = await openKb();
      await importText(kb, CSV, { format: "csv" });
      await kb.upsert([{ id: "tagged", question: "Tagged, \"quoted\" question", answer: "a\nb", tags: ["billing", "vip"], enabled: false }]);
      const exported = exportText(kb.all(), format);
      const v = kb.version();
      const again = await importText(kb, exported, { format });
      expect(again).toMatchObject({ added: 0, updated: 0, unchanged: 4, rejected: [] });
      expect(kb.version()).toBe(v);
      const fresh = await openKb();
      await importText(fresh, exported, { format });
      expect(exportText(fresh.all(), format)).toBe(exported);
    }
  });

  test("updates by id", async () => {
    const kb = await openKb();
    await importText(kb, CSV, { format: "csv" });
    const r = await importText(kb, "id,question,answer\nhours,What are your opening hours?,Open 24/7\n", { format: "csv" });
    expect(r).toMatchObject({ added: 0, updated: 1, unchanged: 0 });
    expect(kb.get("hours")!.answer).toBe("Open 24/7");
    expect(kb.get("hours")!.alts).toEqual([]);
  });

  const malformed: [string, string, RegExp][] = [
    ["bad quoting", 'id,question,answer\na,"unterminated,x\nb,ok,ok\n', /unterminated quoted field/],
    ["missing answer column", "id,question\na,hello\n", /missing "answer" column/],
    ["empty question", "id,question,answer\na,,some answer\nb,fine,fine\n", /empty question/],
    ["10 MB line", `id,question,answer\na,${"x".repeat(10_000_000)},y\n`, /longer than/],
    ["wrong field count", "id,question,answer\na,b\n", /expected 3 fields/],
  ];
  for (const [name, text, reason] of malformed) {
    test(`malformed file (${name}) → clear report, KB unchanged`, async () => {
      const kb = await openKb();
      await importText(kb, CSV, { format: "csv" });
      const before = exportText(kb.all(), "jsonl");
      const v = kb.version();
      const r = await importText(kb, text, { format: "csv" });
      expect(r.applied).toBe(false);
      expect(r.rejected.length).toBeGreaterThan(0);
      expect(r.rejected.map((x) => x.reason).join("; ")).toMatch(reason);
      expect(r.rejected[0]!.line).toBeGreaterThan(0);
      expect(kb.version()).toBe(v);
      expect(exportText(kb.all(), "jsonl")).toBe(before);
    });
  }

  test("skipInvalid applies the valid records and lists the rejected ones with lines", async () => {
    const kb = await openKb();
    const r = await importText(kb, "id,question,answer\na,,x\nb,ok,fine\nb,dup,dup\nc,q,\n", { format: "csv", skipInvalid: true });
    expect(r.applied).toBe(true);
    expect(r.added).toBe(1);
    expect(r.rejected).toEqual([
      { line: 2, reason: "empty question" },
      { line: 4, reason: 'duplicate id "b" (first on line 3)' },
      { line: 5, reason: "empty answer" },
    ]);
  });

  test("near-duplicate questions across entries are reported, not dropped", async () => {
    const kb = await openKb();
    await importText(kb, CSV, { format: "csv" });
    const r = await importText(kb, "id,question,answer\nopen,What are your opening hours ?,9-18\nother,How much is shipping to Canada?,10 USD\n", { format: "csv" });
    expect(r.added).toBe(2);
    expect(r.nearDuplicates).toHaveLength(1);
    expect(r.nearDuplicates[0]).toMatchObject({ line: 2, id: "open", otherId: "hours" });
    expect(kb.get("open")).not.toBeNull();
  });

  test("JSON, JSONL and Markdown FAQ", async () => {
    const kb = await openKb();
    const json = JSON.stringify([{ id: "j1", question: "怎么开发票", answer: "订单页申请", alt_questions: ["发票怎么开"] }]);
    expect(await importText(kb, json, { format: "json" })).toMatchObject({ added: 1 });
    const jsonl = '{"id":"l1","question":"运费多少","answer":"满99包邮","alts":"邮费 || 包邮吗"}\nnot json\n';
    const bad = await importText(kb, jsonl, { format: "jsonl" });
    expect(bad.applied).toBe(false);
    expect(bad.rejected[0]!.line).toBe(2);
    const md = "# FAQ\n\n## 怎么退货？\n相似问题: 能退吗 || 退货流程\n\n在订单页申请售后。\n\n```\n# not a heading\n```\n\n## Opening hours\n9 to 6.\n";
    const parsed = parseMarkdownFaq(md);
    expect(parsed.rejected).toEqual([{ line: 1, reason: "empty answer" }]);
    expect(parsed.records.map((r) => r.entry.question)).toEqual(["怎么退货？", "Opening hours"]);
    expect(parsed.records[0]!.entry.alts).toEqual(["能退吗", "退货流程"]);
    expect(parsed.records[0]!.entry.answer).toContain("# not a heading");
  });

  test("plain documents are chunked with size and overlap", async () => {
    const kb = await openKb();
    const text = Array.from({ length: 30 }, (_, i) => `Paragraph ${i} about delivery times and parcels.`).join("\n\n");
    const r = await importText(kb, text, { format: "document", documentTitle: "delivery.txt", chunk: { size: 200, overlap: 40 } });
    expect(r.applied).toBe(true);
    expect(r.documents[0]!.chunks).toBeGreaterThan(5);
    expect(kb.documents.list()[0]!.title).toBe("delivery.txt");
  });
});
