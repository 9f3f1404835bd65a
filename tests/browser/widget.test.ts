/**
 * The widget in a real Chromium, against the real server: the acceptance lines of issue #12 that a
 * visitor sees (ask, answer, reload, server restart, hostile text). Screenshots: tests/artifacts/.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../helpers/server";
import { type Browser, launchBrowser, noBrowser, type Page, screenshot, watchErrors } from "./helpers";

// page.evaluate callbacks run in the browser; the test project has no DOM types.
declare const window: any, document: any, localStorage: any;

const W = "#kefu-widget >> "; // Playwright's CSS locators pierce the open shadow root

const visitorRows = (s: TestServer, text: string) =>
  s.kefu.ctx.db.query<{ n: number }, [string]>("SELECT count(*) AS n FROM chat_messages WHERE sender = 'visitor' AND text = ?").get(text)!.n;

async function ask(page: Page, text: string) {
  await page.locator(`${W}textarea.input`).fill(text);
  await page.locator(`${W}textarea.input`).press("Enter");
}

describe.skipIf(noBrowser)("the widget in Chromium", () => {
  let browser: Browser;
  let dir: string;
  let s: TestServer;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "kefu-widget-"));
    s = await startTestServer({ log: { level: "warn" } }, dir);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("demo page → ask → answer; reload → history; server restart → the message sent meanwhile arrives once", async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
    const errors = watchErrors(page);
    await page.goto(`${s.url}/`);
    await page.locator(`${W}.launcher`).click();
    await expect(page.locator(`${W}.panel`).isVisible()).resolves.toBe(true);
    await ask(page, "运费怎么算？");
    const answer = page.locator(`${W}.msg.from-bot .bubble`).first();
    await answer.waitFor({ timeout: 10_000 });
    expect(await answer.textContent()).toContain("包邮");
    expect(await page.locator(`${W}.msg.from-visitor`).count()).toBe(1);
    await screenshot(page, "widget-answer");

    // Reload: the stored visitor resumes and the server replays the conversation.
    await page.reload();
    await page.locator(`${W}.launcher`).click();
    await page.locator(`${W}.msg.from-bot`).first().waitFor({ timeout: 10_000 });
    expect(await page.locator(`${W}.msg.from-visitor .bubble`).allTextContents()).toEqual(["运费怎么算？"]);
    expect(await page.locator(`${W}.msg.from-bot .bubble`).first().textContent()).toContain("包邮");

    // Restart the server mid-conversation; the visitor writes while it is down.
    const port = s.kefu.port;
    await s.stop();
    await page.locator(`${W}.banner`).waitFor({ state: "visible", timeout: 10_000 });
    const question = "How do I return an item?";
    await ask(page, question);
    expect(await page.locator(`${W}.msg.pending`).count()).toBe(1);
    await screenshot(page, "widget-offline");
    s = await startTestServer({ log: { level: "warn" }, server: { port } as never }, dir);
    await page.locator(`${W}.msg.from-bot`).nth(1).waitFor({ timeout: 20_000 });
    await page.locator(`${W}.msg.pending`).waitFor({ state: "detached", timeout: 10_000 });
    expect(await page.locator(`${W}.banner`).isVisible()).toBe(false);
    expect(await page.locator(`${W}.msg.from-visitor .bubble`).allTextContents()).toEqual(["运费怎么算？", question]);
    expect(visitorRows(s, question)).toBe(1);
    expect((await page.locator(`${W}.msg.from-bot .bubble`).nth(1).textContent())!.toLowerCase()).toContain("return");
    await screenshot(page, "widget-after-restart");

    // And once more after a reload: still one of each.
    await page.reload();
    await page.locator(`${W}.launcher`).click();
    await page.locator(`${W}.msg.from-bot`).nth(1).waitFor({ timeout: 10_000 });
    expect(await page.locator(`${W}.msg.from-visitor .bubble`).allTextContents()).toEqual(["运费怎么算？", question]);
    expect(visitorRows(s, question)).toBe(1);
    expect(errors.filter((e) => !/WebSocket|ERR_CONNECTION_REFUSED/.test(e))).toEqual([]);
    await page.close();
  }, 90_000);

  test("two tabs of one visitor, server restarting: what one tab wrote meanwhile shows once in both, stored once", async () => {
    const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    const a = await context.newPage();
    await a.goto(`${s.url}/chat`);
    await ask(a, "运费怎么算？");
    await a.locator(`${W}.msg.from-bot`).first().waitFor({ timeout: 10_000 });
    const b = await context.newPage(); // same localStorage: the same visitor, a second socket
    await b.goto(`${s.url}/chat`);
    await b.locator(`${W}.msg.from-bot`).first().waitFor({ timeout: 10_000 });

    const port = s.kefu.port;
    await s.stop();
    await a.locator(`${W}.banner`).waitFor({ state: "visible", timeout: 10_000 });
    await b.locator(`${W}.banner`).waitFor({ state: "visible", timeout: 10_000 });
    const question = "能开发票吗？";
    await ask(a, question);
    s = await startTestServer({ log: { level: "warn" }, server: { port } as never }, dir);
    for (const page of [a, b]) {
      await page.locator(`${W}.msg.from-visitor .bubble`, { hasText: question }).waitFor({ timeout: 20_000 });
      await page.locator(`${W}.msg.from-bot`).nth(1).waitFor({ timeout: 20_000 });
    }
    await Bun.sleep(300);
    for (const page of [a, b]) expect(await page.locator(`${W}.msg.from-visitor .bubble`).allTextContents()).toEqual(["运费怎么算？", question]);
    expect(visitorRows(s, question)).toBe(1);
    await context.close();
  }, 90_000);

  test("visitor text and a knowledge-base answer holding HTML render as text; nothing runs", async () => {
    const payload = `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script><b>bold</b>`;
    await s.kefu.ctx.kb.upsert([{ id: "xss-entry", question: "What is the secret offer code?", answer: `Here: ${payload}` }]);
    const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
    await page.goto(`${s.url}/`);
    await page.locator(`${W}.launcher`).click();
    await ask(page, payload);
    await page.locator(`${W}.msg.from-bot`).first().waitFor({ timeout: 10_000 });
    await ask(page, "What is the secret offer code?");
    const answer = page.locator(`${W}.msg.from-bot .bubble`, { hasText: "Here:" });
    await answer.waitFor({ timeout: 10_000 });
    expect(await answer.textContent()).toBe(`Here: ${payload}`);
    expect(await page.locator(`${W}.msg.from-visitor .bubble`).first().textContent()).toBe(payload);
    const inShadow = await page.evaluate(() => {
      const root = document.getElementById("kefu-widget")!.shadowRoot!;
      return { img: root.querySelectorAll("img, script, b").length, xss: window.__xss ?? null };
    });
    expect(inShadow).toEqual({ img: 0, xss: null });
    await screenshot(page, "widget-xss");
    await page.close();
  }, 60_000);
});
