/**
 * Review of issue 14 (admin console), breaking tests: a session that ends while the admin is editing, the
 * knowledge base's "select all" across pages, and an account's own role.
 * Screenshots: tests/artifacts/review-14-admin-*.png.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../helpers/server";
import { ADMIN_PASSWORD, makeAdmin, nav, openAdmin } from "./admin-helpers";
import { type Browser, launchBrowser, noBrowser, screenshot } from "./helpers";

describe.skipIf(noBrowser)("review 14: admin console under stress", () => {
  let browser: Browser;
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ log: { level: "warn" } });
    await makeAdmin(s);
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await s?.stop();
  });

  test("a brand-new install's dashboard: rates over no conversations are '–', not 0%; no NaN anywhere", async () => {
    const { page, context, errors } = await openAdmin(browser, s.url, "boss", { locale: "zh-CN" });
    await page.locator(".dashboard-stats .fig-auto").waitFor({ timeout: 10_000 });
    expect(await page.locator(".fig-conversations").innerText()).toBe("0");
    expect(await page.locator(".fig-auto").innerText()).toBe("–");
    expect(await page.locator(".fig-handoff").innerText()).toBe("–");
    expect(await page.locator(".fig-csat").innerText()).toBe("–");
    // The per-day chart names its last day (today): it named every other day from the first, which left 14 days' last one out.
    const labels = await page.locator(".dashboard-stats ~ .dash-grid svg text.x-label").allTextContents();
    const today = new Date();
    expect(labels.at(-1)).toBe(`${String(today.getMonth() + 1).padStart(2, "0")}-${String(today.getDate()).padStart(2, "0")}`);
    const svg = await page.locator("main").innerHTML();
    expect(svg).not.toMatch(/NaN|Infinity|undefined/);
    await screenshot(page, "review-14-admin-dashboard-empty");
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  test("the session ends mid-edit: the console asks to sign in again over the open editor, and the edit is saved afterwards", async () => {
    const { page, context, errors } = await openAdmin(browser, s.url);
    await nav(page, "kb");
    const row = page.locator('.entries tbody tr[data-id="demo-shipping-fee-zh"]');
    await row.locator("button.entry-question").click();
    const editor = page.locator(".entry-editor");
    const phrasings = Array.from({ length: 30 }, (_, i) => `运费第${i + 1}种问法`).join("\n");
    await editor.locator("textarea[name=alt_questions]").fill(phrasings);
    await editor.locator("textarea[name=answer]").fill("新的运费说明：满199元包邮。");

    // The session is revoked behind the console's back (expired, signed out elsewhere, password reset).
    const token = await page.evaluate(() => JSON.parse(localStorage.getItem("kefu.admin.session")!).token as string);
    expect((await fetch(`${s.url}/api/auth/logout`, { method: "POST", headers: { authorization: `Bearer ${token}` } })).status).toBeLessThan(300);

    await editor.locator("button[type=submit]").click();
    const relogin = page.locator(".relogin");
    await relogin.waitFor({ timeout: 10_000 });
    // The editor and its unsaved text are still there, under the sign-in dialog.
    expect(await editor.locator("textarea[name=answer]").inputValue()).toBe("新的运费说明：满199元包邮。");
    await screenshot(page, "review-14-admin-relogin");
    await relogin.locator("input[name=password]").fill(ADMIN_PASSWORD);
    await relogin.locator("button[type=submit]").click();
    await relogin.waitFor({ state: "detached", timeout: 10_000 });

    await editor.locator("button[type=submit]").click();
    await editor.waitFor({ state: "detached", timeout: 10_000 });
    const admin = await s.login("admin");
    const saved = (await (await fetch(`${s.url}/api/admin/kb/entries/demo-shipping-fee-zh`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { answer: string; alt_questions: string[] };
    expect(saved.answer).toBe("新的运费说明：满199元包邮。");
    expect(saved.alt_questions).toHaveLength(30);
    expect(errors.filter((e) => !e.includes("401"))).toEqual([]);
    await context.close();
  }, 60_000);

  test("a stray click beside the entry editor (or Escape) keeps typed text; with nothing typed it closes the editor", async () => {
    const { page, context, errors } = await openAdmin(browser, s.url);
    await nav(page, "kb");
    await page.locator("button.new-entry").click();
    const editor = page.locator(".entry-editor");
    // The dialog takes the focus: typing goes into the question.
    await editor.locator("input[name=question]:focus").waitFor({ timeout: 5000 });
    await page.keyboard.type("发票怎么开");
    expect(await editor.locator("input[name=question]").inputValue()).toBe("发票怎么开");
    await editor.locator("textarea[name=alt_questions]").fill(Array.from({ length: 30 }, (_, i) => `开发票问法${i}`).join("\n"));
    await page.mouse.click(8, 400);
    await page.keyboard.press("Escape");
    expect(await editor.isVisible()).toBe(true);
    expect((await editor.locator("textarea[name=alt_questions]").inputValue()).split("\n")).toHaveLength(30);
    await editor.locator("button", { hasText: "Cancel" }).click();
    await editor.waitFor({ state: "detached", timeout: 5000 });

    await page.locator(".entries tbody tr button.entry-question").first().click();
    await editor.locator("input[name=question]:focus").waitFor({ timeout: 5000 });
    await page.keyboard.press("Escape");
    await editor.waitFor({ state: "detached", timeout: 5000 });
    await page.locator(".entries tbody tr button.entry-question").first().click();
    await page.mouse.click(8, 400);
    await editor.waitFor({ state: "detached", timeout: 5000 });
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  test("a view opened after the session ended loads once signed in again (it kept its 'sign in again' error)", async () => {
    const { page, context } = await openAdmin(browser, s.url);
    await nav(page, "kb");
    const token = await page.evaluate(() => JSON.parse(localStorage.getItem("kefu.admin.session")!).token as string);
    await fetch(`${s.url}/api/auth/logout`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
    await page.evaluate(`location.hash = "team"`);
    const relogin = page.locator(".relogin");
    await relogin.waitFor({ timeout: 10_000 });
    await relogin.locator("input[name=password]").fill(ADMIN_PASSWORD);
    await relogin.locator("button[type=submit]").click();
    await relogin.waitFor({ state: "detached", timeout: 10_000 });
    await page.locator("table.users tr[data-name=boss]").waitFor({ timeout: 10_000 });
    expect(await page.locator(".team-tokens .error, .team-users .error").count()).toBe(0);
    await context.close();
  }, 60_000);
});
