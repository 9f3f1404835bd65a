/**
 * The admin console's knowledge-base tools in Chromium, beyond acceptance line 1 (admin-console.test.ts):
 * search, tag and enabled filters, sorting by hits, editing with alternative phrasings, bulk disable and
 * delete, removing the demo, the template and export downloads, a Markdown FAQ and a document import with
 * the chunk preview, a batch hit test compared with a later run, and thresholds saved and reverted.
 * Screenshots: tests/artifacts/admin-kb-*.png.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { eventually } from "../helpers/eventually";
import { startTestServer, type TestServer } from "../helpers/server";
import { cid, visitor } from "../helpers/ws-client";
import { xlsxWorkbook } from "../../src/kb/import/test-xlsx";
import { makeAdmin, nav, openAdmin } from "./admin-helpers";
import { type Browser, type Page, launchBrowser, noBrowser, screenshot } from "./helpers";

describe.skipIf(noBrowser)("admin console: knowledge-base tools", () => {
  let browser: Browser;
  let s: TestServer;
  let page: Page;
  let errors: string[];
  beforeAll(async () => {
    s = await startTestServer({ log: { level: "warn" } });
    await makeAdmin(s);
    browser = await launchBrowser();
    ({ page, errors } = await openAdmin(browser, s.url));
    await nav(page, "kb");
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await s?.stop();
  });
  const summary = (text: RegExp) => page.locator(".summary", { hasText: text }).waitFor({ timeout: 10_000 });
  const row = (id: string) => page.locator(`.entries tbody tr[data-id="${id}"]`);

  test("search, filters, hits sort, edit with phrasings; bulk disable and delete; remove the demo", async () => {
    await summary(/^32 entries/);
    await page.locator("input[name=q]").fill("退货");
    await page.locator(".search-form button[type=submit]").click();
    // The search answers when the list no longer holds entries without the word.
    expect(await eventually(async () => (await row("demo-shipping-fee-en").count()) === 0, 10_000)).toBe(true);
    expect(await row("demo-returns-zh").count()).toBe(1);
    await page.locator("input[name=q]").fill("");
    await page.locator(".search-form button[type=submit]").click();
    await page.locator("select[name=tag]").selectOption("shipping");
    await summary(/^8 entries/);
    expect(await page.locator(".entries tbody tr .tag").allTextContents()).toEqual(Array(8).fill("shipping"));

    // A visitor's direct answer counts a hit; sorting by hits puts that entry first.
    const { c } = await visitor(s.wsUrl, { lang: "zh" });
    c.send({ type: "send", client_id: cid(), text: "运费怎么算？" });
    await c.nextType("message", (f) => f.from === "bot");
    c.close();
    await page.locator("select[name=sort]").selectOption("hits:desc");
    await page.locator(".entries tbody tr").first().locator("td.num", { hasText: /^1$/ }).waitFor({ timeout: 10_000 });
    expect(await page.locator(".entries tbody tr").first().getAttribute("data-id")).toBe("demo-shipping-fee-zh");

    // Edit: a new phrasing becomes an alternative the bot answers.
    await row("demo-shipping-fee-zh").locator(".entry-question").click();
    const editor = page.locator(".entry-editor");
    const alts = editor.locator("textarea[name=alt_questions]");
    await alts.fill(`${await alts.inputValue()}\n寄快递要花多少钱`);
    await editor.locator("input[name=tags]").fill("shipping, fees");
    await screenshot(page, "admin-kb-edit");
    await editor.locator("button[type=submit]").click();
    await editor.waitFor({ state: "detached", timeout: 10_000 });
    const entry = s.kefu.ctx.kb.get("demo-shipping-fee-zh")!;
    expect(entry.alts).toContain("寄快递要花多少钱");
    expect(entry.tags).toEqual(["shipping", "fees"]);

    // An entry's own question, sent to the hit test from its row, finds it first.
    await row("demo-shipping-fee-zh").locator("button.test-entry").click();
    await page.locator(".hit-result tbody tr").first().waitFor({ timeout: 10_000 });
    expect(await page.locator("input.hit-q").inputValue()).toBe("运费怎么算?");
    expect(await page.locator(".hit-result tbody tr").first().getAttribute("data-id")).toBe("demo-shipping-fee-zh");
    await nav(page, "kb");
    await summary(/entries/);

    // Bulk: tick two, disable them; the enabled filter finds exactly those.
    await page.locator("select[name=tag]").selectOption("");
    await page.locator("select[name=sort]").selectOption("question:asc");
    for (const id of ["demo-returns-zh", "demo-returns-en"]) await row(id).locator("input[type=checkbox]").check();
    await page.locator(".bulk-bar .bulk-disable").click();
    await page.locator("select[name=enabled]").selectOption("false");
    await summary(/^2 entries/);
    expect((await page.locator(".entries tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-id")))).sort()).toEqual(["demo-returns-en", "demo-returns-zh"]);
    // …and delete them (asks once more).
    await page.locator(".entries thead input[type=checkbox]").check();
    await page.locator(".bulk-bar button", { hasText: "Delete" }).click();
    await page.locator(".bulk-bar .confirm-yes").click();
    await summary(/^0 entries/);
    await page.locator("select[name=enabled]").selectOption("");
    await summary(/^30 entries/);

    // An entry of the shop's own survives "remove demo entries".
    await page.locator("button.new-entry").click();
    await editor.locator("input[name=question]").fill("Do you sell gift cards?");
    await editor.locator("textarea[name=answer]").fill("Yes, from 50 to 500 yuan.");
    await editor.locator("button[type=submit]").click();
    await summary(/^31 entries/);
    await page.locator(".toolbar button", { hasText: "Remove demo entries" }).click();
    await page.locator(".toolbar .confirm-yes").click();
    await summary(/^1 entries/);
    expect(await page.locator(".entries .entry-question").allTextContents()).toEqual(["Do you sell gift cards?"]);
    expect(errors).toEqual([]);
  }, 90_000);

  test("template and export downloads; a Markdown FAQ and a document with its chunk preview", async () => {
    await nav(page, "import");
    const download = async (cls: string) => {
      const [d] = await Promise.all([page.waitForEvent("download"), page.locator(`button.${cls}`).click()]);
      return readFileSync((await d.path())!, "utf8");
    };
    expect((await download("template-zh")).replace(/^\uFEFF/, "").split(/\r?\n/)[0]).toBe("编号,问题,答案,相似问法,标签,启用");
    expect((await download("template-en")).replace(/^\uFEFF/, "").split(/\r?\n/)[0]).toBe("id,question,answer,alt_questions,tags,enabled");
    expect(await download("export-jsonl")).toContain("Do you sell gift cards?");

    const md = "# Do you have a shop in Shanghai?\n\nYes: 88 Nanjing Road, open 10:00-22:00.\n\n# 可以开发票吗？\n- 相似问法: 能开发票吗\n\n可以，在订单详情里申请电子发票。\n";
    await page.locator("input[type=file]").setInputFiles({ name: "faq.md", mimeType: "text/markdown", buffer: Buffer.from(md) });
    await page.locator("button.preview").click();
    const report = page.locator(".import-report.dry-run");
    await report.waitFor({ timeout: 10_000 });
    expect(await report.locator(".count-added strong").textContent()).toBe("2");
    await report.locator("button.apply").click();
    await page.locator(".import-report.applied").waitFor({ timeout: 10_000 });

    // An Excel workbook with the Chinese headers: its rows are previewed like a CSV's, by row number.
    const xlsx = xlsxWorkbook([
      ["编号", "问题", "答案", "相似问法", "标签", "启用"],
      ["xlsx-parking", "店里有停车位吗？", "有，地下车库前两小时免费。", "可以停车吗", "门店", "true"],
      ["", "", "缺少问题的一行", "", "", ""],
    ]);
    await page.locator("input[type=file]").setInputFiles({ name: "faq.xlsx", mimeType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", buffer: Buffer.from(xlsx) });
    await page.locator("button.preview").click();
    const xreport = page.locator(".import-report.dry-run");
    await xreport.locator(".report-added li", { hasText: "店里有停车位吗" }).waitFor({ timeout: 10_000 });
    expect(await xreport.locator(".report-rejected li").allTextContents()).toEqual([expect.stringMatching(/^line 3: /)]);
    // Without "skip invalid lines" the server would refuse the file as a whole: the preview says so and
    // offers no Apply (review 14: it offered one, which then failed).
    await xreport.locator(".refused-reason", { hasText: "Skip invalid lines" }).waitFor({ timeout: 10_000 });
    expect(await xreport.locator("button.apply").count()).toBe(0);
    expect(s.kefu.ctx.kb.get("xlsx-parking")).toBeNull();
    await page.locator("input[name=skip_invalid]").check();
    await page.locator("button.preview").click();
    await page.locator(".import-report.dry-run button.apply").click();
    await page.locator(".import-report.applied").waitFor({ timeout: 10_000 });
    expect(s.kefu.ctx.kb.get("xlsx-parking")?.question).toContain("店里有停车位吗");
    await page.locator("input[name=skip_invalid]").uncheck();

    // JSONL in upsert mode: an entry whose answer changes is listed as updated, with the field.
    const giftId = [...s.kefu.ctx.kb.all()].find((e) => e.question === "Do you sell gift cards?")!.id;
    const jsonl = `${JSON.stringify({ id: giftId, question: "Do you sell gift cards?", answer: "Yes, from 50 to 1000 yuan." })}\n`;
    await page.locator("input[type=file]").setInputFiles({ name: "update.jsonl", mimeType: "application/x-ndjson", buffer: Buffer.from(jsonl) });
    await page.locator("button.preview").click();
    await page.locator(".import-report.dry-run .report-updated li", { hasText: "answer" }).waitFor({ timeout: 10_000 });
    expect(await page.locator(".import-report.dry-run .count-updated strong").textContent()).toBe("1");

    const doc = Array.from({ length: 12 }, (_, i) => `Section ${i + 1}. Our warranty covers manufacturing defects for part ${i + 1} during two years from the delivery date; keep the invoice.`).join("\n\n");
    await page.locator("input[type=file]").setInputFiles({ name: "warranty.txt", mimeType: "text/plain", buffer: Buffer.from(doc) });
    await page.locator("select[name=format]").selectOption("document");
    await page.locator("input[name=title]").fill("Warranty terms");
    await page.locator("button.preview").click();
    const chunks = page.locator(".import-report.dry-run .report-chunks li");
    await chunks.first().waitFor({ timeout: 10_000 });
    expect(await chunks.count()).toBeGreaterThan(1);
    expect(await chunks.first().textContent()).toContain("Section 1.");
    await screenshot(page, "admin-kb-document-preview");
    // Applied, the document is listed under the entries (not as one) and can be deleted there.
    await page.locator(".import-report.dry-run button.apply").click();
    await page.locator(".import-report.applied").waitFor({ timeout: 10_000 });
    await nav(page, "kb");
    const docRow = page.locator(".documents tbody tr", { hasText: "Warranty terms" });
    await docRow.waitFor({ timeout: 10_000 });
    expect(s.kefu.ctx.kb.documents.list().map((d) => d.title)).toEqual(["Warranty terms"]);
    await docRow.locator("button", { hasText: "Delete" }).click();
    await docRow.locator(".confirm-yes").click();
    await docRow.waitFor({ state: "detached", timeout: 10_000 });
    expect(s.kefu.ctx.kb.documents.list()).toEqual([]);
    expect(errors).toEqual([]);
  }, 60_000);

  test("batch hit test: run, then again after an edit, compare the two", async () => {
    await nav(page, "batch");
    const cases = "Do you have a shop in Shanghai?,\nWhere is your store in Shanghai?,\n能开发票吗,\n";
    const ids = [...s.kefu.ctx.kb.all()].map((e) => [e.question, e.id] as const);
    const shop = ids.find(([q]) => q.includes("Shanghai"))![1];
    const invoice = ids.find(([q]) => q.includes("发票"))![1];
    const text = cases.replace("Shanghai?,\n", `Shanghai?,${shop}\n`).replace("in Shanghai?,\n", `in Shanghai?,${shop}\n`).replace("能开发票吗,", `能开发票吗,${invoice}`);
    await page.locator("textarea[name=cases]").fill(text);
    await page.locator("input[name=name]").fill("before");
    await page.locator("button.run-batch").click();
    await page.locator(".batch-result h2", { hasText: "before" }).waitFor({ timeout: 30_000 });
    expect(await page.locator(".batch-result .outcomes tbody tr").count()).toBe(3);

    // Teach the entry the phrasing that missed, run again, compare.
    await fetch(`${s.url}/api/admin/kb/entries/${encodeURIComponent(shop)}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${await s.login("admin")}`, "content-type": "application/json" },
      body: JSON.stringify({ alt_questions: ["Where is your store in Shanghai?"] }),
    });
    await page.locator("input[name=name]").fill("after");
    await page.locator("button.run-batch").click();
    await page.locator(".batch-result h2", { hasText: "after" }).waitFor({ timeout: 30_000 });
    await page.locator(".batch-runs tbody tr").nth(1).waitFor({ timeout: 10_000 });
    for (const i of [0, 1]) await page.locator(".batch-runs tbody tr").nth(i).locator("input[type=checkbox]").check();
    await page.locator(".batch-runs button", { hasText: "Compare" }).click();
    const cmp = page.locator(".batch-compare");
    await cmp.waitFor({ timeout: 10_000 });
    expect(await cmp.locator("table").first().locator("tbody tr").count()).toBeGreaterThan(3);
    await screenshot(page, "admin-kb-batch-compare");
    expect(errors).toEqual([]);
  }, 90_000);

  test("thresholds: moving the slider changes the estimate; save takes effect live; revert goes back to the config", async () => {
    await nav(page, "thresholds");
    const precision = page.locator(".est-precision");
    await precision.waitFor({ timeout: 10_000 });
    expect(await page.locator(".threshold-source").textContent()).toContain("configuration file");
    const slider = page.locator("input[name=direct]");
    await slider.fill("0.6");
    await page.locator(".direct-value", { hasText: "0.60" }).waitFor({ timeout: 5000 });
    await page.locator(".save-thresholds").click();
    await page.locator(".threshold-source", { hasText: "saved here" }).waitFor({ timeout: 10_000 });
    expect(s.kefu.ctx.kb.thresholds.direct).toBe(0.6);
    await screenshot(page, "admin-kb-thresholds");
    await page.locator(".revert-thresholds").click();
    await page.locator(".threshold-source", { hasText: "configuration file" }).waitFor({ timeout: 10_000 });
    expect(s.kefu.ctx.kb.thresholds.direct).toBe(0.85);
    expect(errors).toEqual([]);
  }, 60_000);

  test("unanswered: a group's phrasings added to an existing entry answer next time; a dismissed group goes away", async () => {
    for (const text of ["Can I buy a voucher for a friend?", "Is the cat in your logo real?"]) {
      const { c } = await visitor(s.wsUrl, { lang: "en" });
      c.send({ type: "send", client_id: cid(), text });
      await c.nextType("message", (f) => f.from === "bot");
      c.close();
    }
    await nav(page, "unanswered");
    const voucher = page.locator(".group", { hasText: "voucher for a friend" });
    await voucher.waitFor({ timeout: 10_000 });
    await voucher.locator("button.add-existing").click();
    await voucher.locator("input[name=entry_q]").fill("gift cards");
    await voucher.locator(".add-to-entry button[type=submit]").click();
    await voucher.locator(".pick-list button", { hasText: "Do you sell gift cards?" }).click();
    await voucher.waitFor({ state: "detached", timeout: 10_000 });
    const cat = page.locator(".group", { hasText: "cat in your logo" });
    await cat.locator("button.dismiss").click();
    await cat.waitFor({ state: "detached", timeout: 10_000 });

    const { c } = await visitor(s.wsUrl, { lang: "en" });
    c.send({ type: "send", client_id: cid(), text: "Can I buy a voucher for a friend?" });
    expect((await c.nextType("message", (f) => f.from === "bot")).text).toBe("Yes, from 50 to 500 yuan.");
    c.close();
    expect(errors).toEqual([]);
  }, 60_000);
});
