/**
 * Review of issue 14 (admin console), breaking tests on the views: "select all" on a later page of the
 * knowledge base, the conversation list in Chinese and its date filter in China's time zone, and an admin's
 * own role. Screenshots: tests/artifacts/review-14-admin-*.png.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Locator } from "playwright-core";
import { startTestServer, type TestServer } from "../helpers/server";
import { cid, visitor } from "../helpers/ws-client";
import { makeAdmin, nav, openAdmin } from "./admin-helpers";
import { type Browser, launchBrowser, noBrowser, screenshot } from "./helpers";

describe.skipIf(noBrowser)("review 14: admin console views", () => {
  let browser: Browser;
  let s: TestServer;
  let token: string;
  beforeAll(async () => {
    s = await startTestServer({ log: { level: "warn" } });
    await makeAdmin(s);
    token = await s.login("admin", "second-admin");
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await s?.stop();
  });

  test("select all on page 2 adds that page to what page 1 had selected (it replaced it); unticking it keeps page 1's", async () => {
    const entries = Array.from({ length: 80 }, (_, i) => ({ id: `bulk-${String(i).padStart(3, "0")}`, question: `批量问题${i}`, answer: `批量答案${i}` }));
    const jsonl = entries.map((e) => JSON.stringify(e)).join("\n");
    expect((await fetch(`${s.url}/api/admin/kb/import?format=jsonl`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/x-ndjson" }, body: jsonl })).status).toBe(200);
    const { page, context, errors } = await openAdmin(browser, s.url);
    await nav(page, "kb");
    await page.locator(".summary", { hasText: /^112 entries/ }).waitFor({ timeout: 10_000 });
    await page.locator(".entries tbody tr input[type=checkbox]").first().check();
    await page.locator(".bulk-bar", { hasText: "1 selected" }).waitFor({ timeout: 5000 });
    await page.locator(".pager button", { hasText: "Next" }).click();
    await page.locator(".pager", { hasText: "51–100" }).waitFor({ timeout: 10_000 });
    await page.locator(".entries thead input[type=checkbox]").check();
    await page.locator(".bulk-bar", { hasText: "51 selected" }).waitFor({ timeout: 5000 });
    await page.locator(".entries thead input[type=checkbox]").uncheck();
    await page.locator(".bulk-bar", { hasText: "1 selected" }).waitFor({ timeout: 5000 });

    // Deleting the whole last page shows the page before it, not an empty "101–100 / 100".
    await page.locator(".bulk-bar button.ghost").click();
    await page.locator(".pager button", { hasText: "Next" }).click();
    await page.locator(".pager", { hasText: "101–112" }).waitFor({ timeout: 10_000 });
    await page.locator(".entries thead input[type=checkbox]").check();
    await page.locator(".bulk-bar .danger", { hasText: "Delete" }).click();
    await page.locator(".bulk-bar .confirm-yes").click();
    await page.locator(".entries tbody tr[data-id]").nth(49).waitFor({ timeout: 10_000 });
    await page.locator(".pager", { hasText: "51–100 / 100" }).waitFor({ timeout: 10_000 });
    expect(await page.locator(".entries tbody tr[data-id]").count()).toBe(50);
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  test("Chinese UI: a conversation's state is in Chinese; a date filter starts at local midnight in Asia/Shanghai", async () => {
    const { c } = await visitor(s.wsUrl, { lang: "zh" });
    c.send({ type: "send", client_id: cid(), text: "你好，我想问一下" });
    await c.nextType("message");
    c.close();
    const context = await browser.newContext({ viewport: { width: 1360, height: 860 }, locale: "zh-CN", timezoneId: "Asia/Shanghai" });
    const page = await context.newPage();
    await page.goto(`${s.url}/admin#conversations`);
    await page.locator("input[name=name]").fill("boss");
    await page.locator("input[name=password]").fill("correct horse battery");
    await page.locator("button[type=submit]").click();
    const row = page.locator("table.conversations tbody tr[data-id]").first();
    await row.waitFor({ timeout: 10_000 });
    expect(await row.locator("td").nth(1).innerText()).toBe("机器人");
    await row.click();
    await page.locator(".transcript-panel .msg").first().waitFor({ timeout: 10_000 });
    expect(await page.locator(".transcript-panel p.muted").first().innerText()).toMatch(/ · 机器人$/); // no trailing " · " without tags
    expect(await page.locator(".pager span.muted").innerText()).toMatch(/^1–\d+ \/ \d+$/); // the page's range, as the KB's pager
    await screenshot(page, "review-14-admin-conversations-zh");

    await page.locator("input[name=from]").fill("2026-03-01");
    const request = page.waitForRequest((r) => r.url().includes("/api/admin/conversations?") && r.url().includes("from="));
    await page.locator("form.filters button[type=submit]").click();
    const from = new URL((await request).url()).searchParams.get("from");
    // 2026-03-01 00:00 in Shanghai (UTC+8) is 16:00 UTC the day before, not 08:00 local on the day.
    expect(from).toBe("2026-02-28T16:00:00.000Z");
    await context.close();
  }, 60_000);

  test("an admin cannot demote themselves from the Team view (the console would lock them out at once)", async () => {
    const { page, context } = await openAdmin(browser, s.url);
    await nav(page, "team");
    const me = page.locator("table.users tr[data-name=boss]");
    await me.waitFor({ timeout: 10_000 });
    expect(await me.locator("select[aria-label=Role]").isDisabled()).toBe(true);
    expect(await page.locator("table.users tr[data-name=second-admin] select[aria-label=Role]").isDisabled()).toBe(false);
    await context.close();
  }, 60_000);

  test("a file the server will refuse (a broken quote, even with skip invalid lines) is previewed with its reason and no Apply button", async () => {
    const { page, context } = await openAdmin(browser, s.url, "boss", { locale: "zh-CN" });
    await nav(page, "import");
    const csv = '编号,问题,答案,相似问法,标签,启用\nshop-fee,运费怎么算,满199包邮,运费多少|邮费,运费,是\nshop-x,"未闭合引号,答案,,,\nshop-ret,怎么退货,7天无理由,,售后,否\n';
    await page.locator("input[type=file]").setInputFiles({ name: "常见问题.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
    await page.locator("input[name=skip_invalid]").check();
    await page.locator("button.preview").click();
    const report = page.locator(".import-report.dry-run");
    await report.waitFor({ timeout: 10_000 });
    await report.locator(".report-rejected li", { hasText: "第 3 行" }).waitFor({ timeout: 5000 });
    await report.locator(".refused-reason").waitFor({ timeout: 5000 });
    expect(await report.locator("button.apply").count()).toBe(0);
    await screenshot(page, "review-14-admin-import-refused");
    await context.close();
  }, 60_000);

  test("Chinese UI: the hit test says why in Chinese (the server words its reason in English)", async () => {
    // An entry of its own (an earlier test deletes some demo entries).
    const made = await fetch(`${s.url}/api/admin/kb/entries`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ id: "points-gift", question: "会员积分怎么兑换礼品", answer: "在会员中心的积分商城兑换。" }),
    });
    expect(made.status).toBeLessThan(300);
    const { page, context, errors } = await openAdmin(browser, s.url, "boss", { locale: "zh-CN" });
    await nav(page, "hit");
    const reason = page.locator(".hit-result .reason");
    for (const [q, words] of [["会员积分怎么兑换礼品", /置信度 [\d.]+ ≥ 直接回答阈值 [\d.]+：用条目 points-gift 原文回答/], ["今天天气怎么样呀", /兜底回复|没有匹配到任何条目|没有足够接近的条目/]] as const) {
      await page.locator("input.hit-q").fill(q);
      await page.locator(".hit-form button[type=submit]").click();
      await page.locator(".hit-result").waitFor({ timeout: 10_000 });
      await eventuallyText(reason, words);
      expect(await reason.innerText()).not.toMatch(/confidence|entry|fallback|LLM/);
    }
    await screenshot(page, "review-14-admin-hit-zh");
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  test("slow network: a preview that answers after another file was picked is dropped, so Apply cannot send a file other than the one previewed", async () => {
    const { page, context } = await openAdmin(browser, s.url);
    await nav(page, "import");
    await page.route("**/api/admin/kb/import", async (route) => {
      await Bun.sleep(1500);
      await route.continue();
    });
    const fileA = "编号,问题,答案\nslow-a,文件A的问题,文件A的答案\n";
    const fileB = "编号,问题,答案\nslow-b,文件B的问题,文件B的答案\n";
    await page.locator("input[name=mode][value=replace]").check();
    await page.locator("input[type=file]").setInputFiles({ name: "a.csv", mimeType: "text/csv", buffer: Buffer.from(fileA) });
    const answered = page.waitForResponse((r) => r.url().includes("/api/admin/kb/import"));
    await page.locator("button.preview").click();
    await page.locator("input[type=file]").setInputFiles({ name: "b.csv", mimeType: "text/csv", buffer: Buffer.from(fileB) });
    await answered;
    await Bun.sleep(300);
    // File A's preview (deleting everything but slow-a) must not sit above file B, ready to apply.
    expect(await page.locator(".import-report", { hasText: "文件A的问题" }).count()).toBe(0);
    await page.locator("button.preview:not([disabled])").click();
    await page.locator(".import-report.dry-run", { hasText: "文件B的问题" }).waitFor({ timeout: 10_000 });
    await context.close();
  }, 60_000);

  test("Chinese UI: System names breaker, plugin and model states in Chinese (they were the server's English words)", async () => {
    const { page, context } = await openAdmin(browser, s.url, "boss", { locale: "zh-CN" });
    // The report as a server with a tripped provider, a failed plugin and a ready local model sends it.
    await page.route("**/api/admin/system", async (route) => {
      const real = (await (await route.fetch()).json()) as Record<string, unknown>;
      await route.fulfill({
        json: {
          ...real,
          providers: [{ name: "main", model: "qwen-plus", breaker: { state: "open" }, gate: { limit: 8, in_flight: 0 } }],
          plugins: [{ name: "<b>evil</b>", status: "auto_disabled", last_error: { stage: "onMessage", message: "<img src=x onerror=alert(1)>", at: new Date().toISOString() } }],
          models: [{ role: "embedder", model: "bge-small-zh", state: "ready", workers: 1, ready_workers: 1 }],
        },
      });
    });
    await nav(page, "system");
    await page.locator(".providers .breaker-open").waitFor({ timeout: 10_000 });
    expect(await page.locator(".providers .breaker-open").innerText()).toBe("熔断中（暂停调用）");
    expect(await page.locator(".plugin-auto_disabled").innerText()).toBe("出错过多，已自动停用");
    expect(await page.locator(".model-ready").innerText()).toBe("就绪");
    // The knowledge base's line too (it was its JSON keys: entries, version, thresholds, calibration pending).
    expect(await page.locator(".sys-kb").innerText()).not.toMatch(/[a-z]{3,}/);
    // A plugin's name and last error are text.
    expect(await page.locator("main b, main img").count()).toBe(0);
    await screenshot(page, "review-14-admin-system-zh");
    await context.close();
  }, 60_000);

  test("Chinese UI: an unnamed batch run is named in Chinese and local time (it was 'run <UTC time>')", async () => {
    const context = await browser.newContext({ viewport: { width: 1360, height: 860 }, locale: "zh-CN", timezoneId: "Asia/Shanghai" });
    const page = await context.newPage();
    await page.goto(`${s.url}/admin#batch`);
    await page.locator("input[name=name]").first().fill("boss");
    await page.locator("input[name=password]").fill("correct horse battery");
    await page.locator("button[type=submit]").click();
    await page.locator("textarea[name=cases]").fill("question,expected\n会员积分怎么兑换礼品,points-gift\n今天天气怎么样,\n");
    await page.locator("button.run-batch").click();
    const title = page.locator(".batch-result h2");
    await title.waitFor({ timeout: 30_000 });
    const text = await title.innerText();
    expect(text).toMatch(/^\d\d-\d\d \d\d:\d\d 的测试$/);
    // Shanghai's wall clock (UTC+8), give or take the minute the run took.
    const at = (ms: number) => new Date(ms + 8 * 3600_000).toISOString().slice(11, 16);
    expect([at(Date.now()), at(Date.now() - 60_000)]).toContain(text.slice(6, 11));
    await context.close();
  }, 60_000);
});


/** Waits until the locator's text matches `re` (a result replaced in place), then asserts it. */
async function eventuallyText(locator: Locator, re: RegExp) {
  const end = Date.now() + 10_000;
  while (!re.test(await locator.innerText()) && Date.now() < end) await Bun.sleep(50);
  expect(await locator.innerText()).toMatch(re);
}