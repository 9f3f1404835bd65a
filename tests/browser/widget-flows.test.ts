/**
 * The widget embedded the way a shop embeds it — on a page of another origin, with kefuSettings and the
 * command queue — through the visitor flows beyond a plain answer: asking for a human with nobody online
 * (offline form → ticket), an agent's reply, unread badge and preview, the rating after a close, identity
 * verification, reset on logout, the mobile layout and the keyboard.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { agent, makeAgent } from "../helpers/ws-client";
import { startTestServer, type TestServer } from "../helpers/server";
import { type Browser, launchBrowser, noBrowser, type Page, screenshot, watchErrors } from "./helpers";

// page.evaluate callbacks run in the browser; the test project has no DOM types.
declare const window: any, document: any, localStorage: any;

const W = "#kefu-widget >> ";
const SHOP = "http://shop.localhost";
const SECRET = "test-identity-secret-0123456789";
const sign = (id: string) => createHmac("sha256", SECRET).update(id).digest("hex");

/** A shop page on another origin: the settings and the queued commands run before widget.js has loaded. */
function shopPage(kefuUrl: string, settings: object, queued: string) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop · product 42</title></head><body>
<h1>Product 42</h1>
<script>
  window.kefuSettings = ${JSON.stringify(settings)};
  window.kefu = window.kefu || function () { (kefu.q = kefu.q || []).push(arguments); };
  window.events = [];
  ${queued}
</script>
<script src="${kefuUrl}/widget.js" async></script>
</body></html>`;
}

async function openShop(browser: Browser, s: TestServer, settings: object, queued = "", viewport = { width: 1000, height: 720 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  await page.route(`${SHOP}/**`, (route) => route.fulfill({ contentType: "text/html", body: shopPage(s.url, settings, queued) }));
  const errors = watchErrors(page);
  await page.goto(`${SHOP}/product/42?ref=mail`);
  await page.locator(`${W}.launcher`).waitFor({ state: "attached", timeout: 10_000 });
  return { page, context, errors };
}

const conversationOf = (s: TestServer, visitorId: string) =>
  s.kefu.ctx.db
    .query<{ id: string; state: string; queued_reason: string | null; rating_score: number | null; rating_comment: string | null }, [string]>(
      "SELECT id, state, queued_reason, rating_score, rating_comment FROM chat_conversations WHERE visitor_id = ? ORDER BY created_at DESC LIMIT 1",
    )
    .get(visitorId);
const storedVisitor = (page: Page, kefuUrl: string) =>
  page.evaluate((key) => JSON.parse(localStorage.getItem(key) ?? "{}") as { visitor_id?: string; conversation_id?: string }, `kefu:${new URL(kefuUrl).origin}`);

describe.skipIf(noBrowser)("the widget on a shop's page", () => {
  let browser: Browser;
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ log: { level: "warn" }, server: { allowed_origins: [SHOP] } as never, chat: { identity_secret: SECRET } as never });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await s?.stop();
  });

  test("nobody online → the offline form makes a ticket; an agent answers it, the badge counts it, the close brings the rating", async () => {
    const user = { id: "shop-user-7", name: "Ann Lee", email: "ann@example.com", hash: sign("shop-user-7") };
    const { page, context, errors } = await openShop(
      browser,
      s,
      { lang: "en", title: "Shop help", color: "#0a7d5a", user },
      "kefu('on', 'open', function () { events.push('open'); }); kefu('on', 'unread', function (n) { events.push('unread:' + n); }); kefu('open');",
    );
    // The queued open ran once the script loaded, and the settings took effect.
    await page.locator(`${W}.panel`).waitFor({ state: "visible", timeout: 10_000 });
    expect(await page.locator(`${W}h2`).textContent()).toBe("Shop help");
    expect(await page.locator(`${W}.human`).textContent()).toBe("Talk to a human");
    expect(await page.evaluate(() => window.events)).toContain("open");

    await page.locator(`${W}.human`).click();
    const form = page.locator(`${W}form.offline`);
    await form.waitFor({ timeout: 10_000 });
    await screenshot(page, "widget-offline-form");
    await form.locator("input[name=email]").fill("not-an-email");
    await form.locator("textarea[name=question]").fill("Where is my order 1042?");
    await form.locator("button[type=submit]").click();
    expect(await form.locator(".error").isVisible()).toBe(true); // a bad e-mail is caught before sending
    await form.locator("input[name=email]").fill("ann@example.com");
    await form.locator("button[type=submit]").click();
    await page.locator(`${W}.msg.from-visitor`, { hasText: "Where is my order 1042?" }).waitFor({ timeout: 10_000 });
    await page.locator(`${W}.msg.pending`).waitFor({ state: "detached", timeout: 10_000 });

    const { visitor_id } = await storedVisitor(page, s.url);
    const ticket = conversationOf(s, visitor_id!)!;
    expect({ state: ticket.state, reason: ticket.queued_reason }).toEqual({ state: "queued", reason: "offline_message" });

    // An agent comes online and gets the ticket; what the shop told about the visitor is there, verified.
    const a = await makeAgent(s, { displayName: "Lin" });
    const { c } = await agent(s.wsUrl, a.token);
    await c.nextType("assigned", (f) => f.conversation.conversation_id === ticket.id);
    const detail: any = await (await fetch(`${s.url}/api/agent/conversations/${ticket.id}`, { headers: { authorization: `Bearer ${a.token}` } })).json();
    expect(detail.visitor).toMatchObject({ name: "Ann Lee", email: "ann@example.com", verified: true, external_id: "shop-user-7" });
    expect(detail.context.url).toBe(`${SHOP}/product/42?ref=mail`);
    expect(detail.context.title).toBe("Shop · product 42");

    // Typing both ways: the agent's shows as "Lin is typing…"; the visitor's reaches the agent with a preview.
    c.send({ type: "typing", conversation_id: ticket.id, on: true });
    await page.locator(`${W}.typing`, { hasText: "Lin is typing" }).waitFor({ timeout: 10_000 });
    await page.locator(`${W}textarea.input`).pressSequentially("is it sh");
    const preview = await c.nextType("typing", (f) => f.from === "visitor" && f.on);
    expect("is it sh".startsWith(preview.text)).toBe(true);
    await page.locator(`${W}textarea.input`).fill("");

    c.send({ type: "send", conversation_id: ticket.id, client_id: "a-1", text: "Hi Ann, it ships today." });
    await page.locator(`${W}.msg.from-agent .bubble`, { hasText: "it ships today" }).waitFor({ timeout: 10_000 });
    expect(await page.locator(`${W}.msg.from-agent .who`).first().textContent()).toBe("Lin");
    expect(await page.locator(`${W}.subtitle`).textContent()).toContain("Lin");

    expect(await page.locator(`${W}.typing`).isHidden()).toBe(true); // the message ends the typing notice

    // Closed panel, hidden tab: the next agent message shows as a badge and a preview, fires `unread`,
    // and the tab title flashes until the tab is visible again.
    await page.evaluate(() => window.kefu("close"));
    await page.evaluate(() => {
      Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
      document.dispatchEvent(new Event("visibilitychange"));
    });
    c.send({ type: "send", conversation_id: ticket.id, client_id: "a-2", text: "Tracking number: SF1234567." });
    await page.locator(`${W}.badge`).waitFor({ state: "visible", timeout: 10_000 });
    expect(await page.locator(`${W}.badge`).textContent()).toBe("1");
    expect(await page.locator(`${W}.preview`).textContent()).toBe("Tracking number: SF1234567.");
    expect(await page.evaluate(() => window.events)).toContain("unread:1");
    await page.waitForFunction(() => document.title === "(1) New message", undefined, { timeout: 5_000 });
    await page.evaluate(() => {
      Object.defineProperty(document, "hidden", { configurable: true, get: () => false });
      document.dispatchEvent(new Event("visibilitychange"));
    });
    expect(await page.title()).toBe("Shop · product 42");
    await screenshot(page, "widget-unread");
    await page.locator(`${W}.preview`).click();
    expect(await page.locator(`${W}.badge`).isHidden()).toBe(true);

    // The agent closes: the rating card; 4 stars and a comment are stored on the conversation.
    c.send({ type: "close", conversation_id: ticket.id });
    const rating = page.locator(`${W}form.rating`);
    await rating.waitFor({ timeout: 10_000 });
    await rating.locator(".star").nth(3).click();
    await rating.locator("textarea").fill("Quick, thanks");
    await rating.locator("button[type=submit]").click();
    await rating.getByText("Thank you for your feedback.").waitFor({ timeout: 10_000 });
    expect(conversationOf(s, visitor_id!)).toMatchObject({ state: "closed", rating_score: 4, rating_comment: "Quick, thanks" });
    await screenshot(page, "widget-rated");
    c.ws.close();
    expect(errors).toEqual([]);
    await context.close();
  }, 90_000);

  test("a wrong identity hash is not trusted; reset forgets the visitor on this device", async () => {
    const { page, context } = await openShop(browser, s, { lang: "en", user: { id: "shop-user-8", name: "Mallory", hash: sign("someone-else") } }, "kefu('open');");
    await page.locator(`${W}textarea.input`).fill("hello there");
    await page.locator(`${W}textarea.input`).press("Enter");
    await page.locator(`${W}.msg.from-bot`).first().waitFor({ timeout: 10_000 });
    const first = await storedVisitor(page, s.url);
    const row = s.kefu.ctx.db.query<{ verified: number; external_id: string | null }, [string]>("SELECT verified, external_id FROM chat_visitors WHERE id = ?").get(first.visitor_id!);
    expect(row).toMatchObject({ verified: 0 });

    await page.evaluate(() => window.kefu("reset"));
    expect(await storedVisitor(page, s.url)).toEqual({});
    expect(await page.locator(`${W}.msg`).count()).toBe(0);
    await page.locator(`${W}textarea.input`).fill("a new visitor now");
    await page.locator(`${W}textarea.input`).press("Enter");
    await page.locator(`${W}.msg.from-bot`).first().waitFor({ timeout: 10_000 });
    const second = await storedVisitor(page, s.url);
    expect(second.visitor_id).toBeTruthy();
    expect(second.visitor_id).not.toBe(first.visitor_id);

    // Signing in later: setUser with a correct hash reconnects and the visitor becomes that verified user.
    await page.evaluate((u) => window.kefu("setUser", u), { id: "shop-user-9", name: "Bo", hash: sign("shop-user-9") });
    await page.waitForFunction(() => document.getElementById("kefu-widget")!.shadowRoot!.querySelector(".banner")?.hidden !== false);
    const verified = async () => {
      const v = await storedVisitor(page, s.url);
      return s.kefu.ctx.db.query<{ verified: number; external_id: string | null }, [string]>("SELECT verified, external_id FROM chat_visitors WHERE id = ?").get(v.visitor_id!);
    };
    for (let i = 0; i < 50 && (await verified())?.verified !== 1; i++) await Bun.sleep(100);
    expect(await verified()).toEqual({ verified: 1, external_id: "shop-user-9" });
    await context.close();
  }, 60_000);

  test("phone screens get a full-screen chat; the keyboard alone opens, uses and closes it", async () => {
    const { page, context } = await openShop(browser, s, { lang: "zh-CN" }, "", { width: 375, height: 667 });
    await page.keyboard.press("Tab"); // the launcher is the page's only focusable element
    await page.keyboard.press("Enter");
    const panel = page.locator(`${W}.panel`);
    await panel.waitFor({ state: "visible" });
    expect(await panel.boundingBox()).toEqual({ x: 0, y: 0, width: 375, height: 667 });
    expect(await page.locator(`${W}.launcher`).isHidden()).toBe(true);
    // Focus is in the input: type, Shift+Enter for a new line, Enter to send.
    await page.keyboard.type("运费");
    await page.keyboard.press("Shift+Enter");
    await page.keyboard.type("怎么算？");
    await page.keyboard.press("Enter");
    await page.locator(`${W}.msg.from-visitor .bubble`).waitFor();
    expect(await page.locator(`${W}.msg.from-visitor .bubble`).textContent()).toBe("运费\n怎么算？");
    await page.locator(`${W}.msg.from-bot`).first().waitFor({ timeout: 10_000 });
    expect(await page.locator(`${W}h2`).textContent()).toBe("在线客服");
    await screenshot(page, "widget-mobile");
    await page.keyboard.press("Escape");
    await panel.waitFor({ state: "hidden" });
    expect(await page.evaluate(() => document.getElementById("kefu-widget")!.shadowRoot!.activeElement?.className)).toBe("launcher");
    await context.close();
  }, 60_000);
});
