import { describe, expect, test } from "bun:test";
import { openKb } from "../test/helpers.ts";
import { importText } from "./apply.ts";
import { parseCsv } from "./csv.ts";
import { csvTemplate, exportText } from "./export.ts";
import { decodeText, parseEntryCsv, parseMarkdownFaq, sniffFormat } from "./formats.ts";
import { xlsxWorkbook } from "./test-xlsx.ts";

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
    expect(dry).toMatchObject({ applied: false, counts: { added: 3 }, rejected: [] });
    expect(kb.count()).toBe(0);
    const first = await importText(kb, CSV, { format: "csv" });
    expect(first).toMatchObject({ applied: true, counts: { added: 3, updated: 0, unchanged: 0 } });
    expect(kb.get("returns")!.answer).toBe('在订单页点击"申请售后"，\n选择退货退款。');
    const second = await importText(kb, CSV, { format: "csv" });
    expect(second.counts).toMatchObject({ added: 0, updated: 0, unchanged: 3 });
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
      expect(again).toMatchObject({ counts: { added: 0, updated: 0, unchanged: 4 }, rejected: [] });
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
    expect(r.counts).toMatchObject({ added: 0, updated: 1, unchanged: 0 });
    expect(r.updated).toEqual([{ line: 2, id: "hours", question: "What are your opening hours?", fields: ["alt_questions", "answer"] }]);
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
      expect(r.rejected.map((x) => x.error).join("; ")).toMatch(reason);
      expect(r.rejected[0]!.line).toBeGreaterThan(0);
      expect(kb.version()).toBe(v);
      expect(exportText(kb.all(), "jsonl")).toBe(before);
    });
  }

  test("skipInvalid applies the valid records and lists the rejected ones with lines", async () => {
    const kb = await openKb();
    const r = await importText(kb, "id,question,answer\na,,x\nb,ok,fine\nb,dup,dup\nc,q,\n", { format: "csv", skipInvalid: true });
    expect(r.applied).toBe(true);
    expect(r.counts.added).toBe(1);
    expect(r.rejected).toEqual([
      { line: 2, error: "empty question", id: "a" },
      { line: 4, error: 'duplicate id "b" (first on line 3)' },
      { line: 5, error: "empty answer", id: "c" },
    ]);
  });

  test("near-duplicate questions across entries are reported, not dropped", async () => {
    const kb = await openKb();
    await importText(kb, CSV, { format: "csv" });
    const r = await importText(kb, "id,question,answer\nopen,What are your opening hours ?,9-18\nother,How much is shipping to Canada?,10 USD\n", { format: "csv" });
    expect(r.counts.added).toBe(2);
    expect(r.near_duplicates).toHaveLength(1);
    expect(r.near_duplicates[0]).toMatchObject({ line: 2, id: "open", other_id: "hours" });
    expect(kb.get("open")).not.toBeNull();
  });

  test("JSON, JSONL and Markdown FAQ", async () => {
    const kb = await openKb();
    const json = JSON.stringify([{ id: "j1", question: "怎么开发票", answer: "订单页申请", alt_questions: ["发票怎么开"] }]);
    expect(await importText(kb, json, { format: "json" })).toMatchObject({ counts: { added: 1 } });
    const jsonl = '{"id":"l1","question":"运费多少","answer":"满99包邮","alts":"邮费 || 包邮吗"}\nnot json\n';
    const bad = await importText(kb, jsonl, { format: "jsonl" });
    expect(bad.applied).toBe(false);
    expect(bad.rejected[0]!.line).toBe(2);
    const md = "# FAQ\n\n## 怎么退货？\n相似问题: 能退吗 || 退货流程\n\n在订单页申请售后。\n\n```\n# not a heading\n```\n\n## Opening hours\n9 to 6.\n";
    const parsed = parseMarkdownFaq(md);
    expect(parsed.rejected).toMatchObject([{ line: 1, error: "empty answer" }]);
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

describe("replace mode", () => {
  const FILE = "id,question,answer\nreturns,如何申请退货退款？,在订单页申请售后。\nnew,Do you gift wrap?,Yes.\n";

  test("dry run lists what the file lacks as deleted and writes nothing", async () => {
    const kb = await openKb();
    await importText(kb, CSV, { format: "csv" });
    const v = kb.version();
    const dry = await importText(kb, FILE, { format: "csv", mode: "replace", dryRun: true });
    expect(dry).toMatchObject({ mode: "replace", dry_run: true, applied: false, counts: { added: 1, updated: 1, unchanged: 0, deleted: 2, rejected: 0 } });
    expect(dry.deleted).toEqual([
      { id: "shipping", question: "多久发货?" },
      { id: "hours", question: "What are your opening hours?" },
    ]);
    expect(dry.updated[0]).toMatchObject({ line: 2, id: "returns", fields: ["alt_questions", "answer"] });
    expect(kb.version()).toBe(v);
    expect(kb.get("shipping")).not.toBeNull();
  });

  test("deletes what the file lacks in the same transaction as the upserts: one version bump, documents kept", async () => {
    const kb = await openKb();
    await importText(kb, CSV, { format: "csv" });
    await importText(kb, "Care: wash cold.", { format: "document", documentTitle: "care.txt" });
    const v = kb.version();
    const r = await importText(kb, FILE, { format: "csv", mode: "replace" });
    expect(r).toMatchObject({ applied: true, counts: { added: 1, updated: 1, deleted: 2 }, version: v + 1 });
    expect(kb.version()).toBe(v + 1);
    expect([...kb.all()].map((e) => e.id)).toEqual(["returns", "new"]);
    expect(kb.documents.list()).toHaveLength(1);
    // The same file again: nothing to add, update or delete, and the version stays.
    const again = await importText(kb, FILE, { format: "csv", mode: "replace" });
    expect(again).toMatchObject({ applied: true, counts: { added: 0, updated: 0, unchanged: 2, deleted: 0 }, version: v + 1 });
    expect(kb.version()).toBe(v + 1);
  });

  test("a failure while applying (after the deletes ran) leaves every entry and the version as they were", async () => {
    const kb = await openKb();
    await importText(kb, CSV, { format: "csv" });
    const before = exportText(kb.all(), "jsonl");
    const v = kb.version();
    // The deletes come first in the transaction; the insert of "new" then fails.
    kb.db.run("CREATE TRIGGER fail_new BEFORE INSERT ON kb_entries WHEN NEW.id = 'new' BEGIN SELECT RAISE(ABORT, 'disk on fire'); END");
    await expect(importText(kb, FILE, { format: "csv", mode: "replace" })).rejects.toThrow("disk on fire");
    expect(kb.version()).toBe(v);
    expect(exportText(kb.all(), "jsonl")).toBe(before);
    expect((await kb.search("多久发货")).matches[0]!.id).toBe("shipping");
    kb.db.run("DROP TRIGGER fail_new");
    expect((await importText(kb, FILE, { format: "csv", mode: "replace" })).counts.deleted).toBe(2);
  });

  test("with skip_invalid, an entry whose line was rejected is kept, not deleted as lacking", async () => {
    const kb = await openKb();
    await importText(kb, CSV, { format: "csv" });
    const file = "id,question,answer,enabled\nreturns,如何申请退货退款？,在订单页申请售后。,\nshipping,多久发货？,,\nhours,What are your opening hours?,9-18,sometimes\n";
    const r = await importText(kb, file, { format: "csv", mode: "replace", skipInvalid: true });
    expect(r.rejected).toEqual([
      { line: 3, error: "empty answer", id: "shipping" },
      { line: 4, error: 'enabled must be true or false, got "sometimes"', id: "hours" },
    ]);
    expect(r).toMatchObject({ applied: true, counts: { updated: 1, deleted: 0 } });
    expect([...kb.all()].map((e) => e.id)).toEqual(["returns", "shipping", "hours"]);
    expect(kb.get("shipping")!.answer).toBe("付款后 48 小时内发货。");
  });

  test("refused: a file without a valid entry (it would empty the knowledge base), and documents", async () => {
    const kb = await openKb();
    await importText(kb, CSV, { format: "csv" });
    const empty = await importText(kb, "id,question,answer\n", { format: "csv", mode: "replace" });
    expect(empty.applied).toBe(false);
    expect(empty.reason).toContain("would delete every entry");
    expect(kb.count()).toBe(3);
    await expect(importText(kb, "Some prose.", { format: "document", mode: "replace" })).rejects.toThrow(/document/);
  });
});

describe("template, formats, encodings", () => {
  test("the template in both languages imports as it is and round-trips a filled row", async () => {
    for (const lang of ["zh", "en"] as const) {
      const kb = await openKb();
      const text = `${csvTemplate(lang)}faq-1,Is there a warranty?,One year.,warranty period || guarantee,"after-sales,vip",false\r\n`;
      expect(sniffFormat(text)).toBe("csv");
      const r = await importText(kb, text, { format: "csv" });
      expect(r).toMatchObject({ applied: true, counts: { added: 3, rejected: 0 } });
      expect(kb.get("shipping-fee")!.alts).toHaveLength(2);
      expect(kb.get("faq-1")).toMatchObject({ alts: ["warranty period", "guarantee"], tags: ["after-sales", "vip"], enabled: false });
    }
  });

  test("formats are told from the text when not given", () => {
    expect(sniffFormat('[{"question":"a","answer":"b"}]')).toBe("json");
    expect(sniffFormat('{"question":"a","answer":"b"}\n{"question":"c","answer":"d"}\n')).toBe("jsonl");
    expect(sniffFormat("# 怎么退货\n在订单页申请。\n")).toBe("markdown");
    expect(sniffFormat("\uFEFF问题,答案\n怎么退货,在订单页申请\n")).toBe("csv");
    expect(sniffFormat("Our warranty covers one year, parts and labour.")).toBe("document");
  });

  test("files that are not UTF-8 are read as GB18030 (Excel's CSV on a Chinese Windows)", () => {
    const gbk = new Uint8Array([0xce, 0xca, 0xcc, 0xe2, 0x2c, 0xb4, 0xf0, 0xb0, 0xb8]); // 问题,答案
    expect(decodeText(gbk)).toBe("问题,答案");
    expect(decodeText(new TextEncoder().encode("\uFEFF问题,答案"))).toBe("问题,答案");
  });

  test("a document's dry run previews its chunks", async () => {
    const kb = await openKb();
    const text = Array.from({ length: 12 }, (_, i) => `Paragraph ${i} about delivery times and parcels.`).join("\n\n");
    const r = await importText(kb, text, { format: "document", documentTitle: "delivery.txt", dryRun: true, chunk: { size: 200, overlap: 40 } });
    expect(r.applied).toBe(false);
    expect(r.chunks!.length).toBeGreaterThan(2);
    expect(r.chunks![0]).toMatchObject({ index: 0 });
    expect(r.chunks![0]!.text).toStartWith("Paragraph 0");
    expect(r.documents).toEqual([{ line: 1, id: expect.stringMatching(/^d-/), action: "added", chunks: r.chunks!.length }]);
    expect(kb.documents.list()).toHaveLength(0);
  });
});

describe("xlsx", () => {
  test("the first sheet of a workbook imports like a CSV file, rows numbered as Excel numbers them", async () => {
    const kb = await openKb();
    const book = xlsxWorkbook(
      [
        ["编号", "问题", "答案", "相似问法", "标签", "启用"],
        ["returns", "怎么退货？", "签收后7天内可退货。\n在订单页申请售后。", "退货流程 || 能退吗", "returns,after-sales", true],
        [1001, "Do you gift wrap?", "Yes & it is free.", "gift wrapping\nwrap it", null, false],
        [null, "No answer here", null, null, null, null],
      ],
      [1, 2, 3, 5],
    );
    const r = await importText(kb, Buffer.from(book).toString("base64"), { format: "xlsx", skipInvalid: true });
    expect(r).toMatchObject({ format: "xlsx", applied: true, counts: { added: 2, rejected: 1 } });
    expect(r.added.map((a) => [a.line, a.id])).toEqual([
      [2, "returns"],
      [3, "1001"],
    ]);
    expect(r.rejected).toMatchObject([{ line: 5, error: "empty answer" }]);
    expect(kb.get("returns")).toMatchObject({ answer: "签收后7天内可退货。\n在订单页申请售后。", alts: ["退货流程", "能退吗"], tags: ["returns", "after-sales"], enabled: true });
    expect(kb.get("1001")).toMatchObject({ answer: "Yes & it is free.", alts: ["gift wrapping", "wrap it"], tags: [], enabled: false });
  });

  test("a file that is not a workbook is refused with a reason, nothing written", async () => {
    const kb = await openKb();
    const r = await importText(kb, Buffer.from("id,question,answer\n").toString("base64"), { format: "xlsx" });
    expect(r).toMatchObject({ applied: false, rejected: [{ line: 1, error: "not an .xlsx file (no ZIP directory)" }] });
  });
});
