/**
 * The agent console (/agent) in a real Chromium against the real server, with a visitor beside it:
 * issue #12's acceptance line 2 (queued with a notification → take it → reply reaches the widget →
 * return to the bot, which answers again) and the console half of line 3 (hostile text renders as text).
 * Screenshots: tests/artifacts/agent-*.png.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { agent as agentSocket, makeAgent, visitor } from "../helpers/ws-client";
import { startTestServer, type TestServer } from "../helpers/server";
import { openConsole as openAgentConsole } from "./agent-helpers";
import { type Browser, launchBrowser, noBrowser, type Page, screenshot, watchErrors } from "./helpers";

const W = "#kefu-widget >> "; // the widget's open shadow root (Playwright's CSS locators pierce it)
const PASSWORD = "correct horse battery";
const IDENTITY_SECRET = "shop-secret-for-tests";

/** Lets a test say the tab is hidden (`window.__hidden = true`), which headless Chromium never is by itself. */
const STUB_HIDDEN = `
  window.__hidden = false;
  Object.defineProperty(Document.prototype, "hidden", { configurable: true, get() { return window.__hidden; } });
  Object.defineProperty(Document.prototype, "visibilityState", { configurable: true, get() { return window.__hidden ? "hidden" : "visible"; } });
`;

/**
 * Records desktop notifications instead of showing them: `window.__notifications` gets every one.
 * (A string, so this file needs no DOM types.)
 */
const STUB_NOTIFICATION = `
  window.__notifications = [];
  window.Notification = class {
    static permission = "granted";
    static requestPermission() { return Promise.resolve("granted"); }
    constructor(title, options) { window.__notifications.push({ title, body: (options && options.body) || "", tag: (options && options.tag) || "" }); }
    close() {}
  };
`;

type Recorded = { title: string; body: string; tag: string };
const notifications = (page: Page) => page.evaluate("window.__notifications") as Promise<Recorded[]>;

const openConsole = (browser: Browser, name: string) => openAgentConsole(browser, baseUrl, name, { init: STUB_NOTIFICATION + STUB_HIDDEN });

let baseUrl = "";

describe.skipIf(noBrowser)("the agent console in Chromium", () => {
  let browser: Browser;
  let s: TestServer;
  let dir: string;
  const start = (port = 0) => startTestServer({ log: { level: "warn" }, chat: { identity_secret: IDENTITY_SECRET }, server: { port } as never }, dir);
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "kefu-agent-console-"));
    s = await start();
    baseUrl = s.url;
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a visitor asks for a human → queued with a notification → the agent takes it and replies → the widget shows it; back to the bot, which answers", async () => {
    // max_concurrent 0: online, but nothing is assigned automatically, so the conversation waits in the queue.
    await makeAgent(s, { name: "lin", displayName: "小林", maxConcurrent: 0 });
    const agent = await openConsole(browser, "lin");
    const { page } = agent;
    expect(await page.locator(".top-bar .me").textContent()).toBe("小林");

    const visitorContext = await browser.newContext({ viewport: { width: 1000, height: 760 }, locale: "en-US" });
    const shop = await visitorContext.newPage();
    const shopErrors = watchErrors(shop);
    await shop.goto(`${s.url}/`);
    await shop.locator(`${W}.launcher`).click();
    await shop.locator(`${W}textarea.input`).fill("My parcel has not arrived yet");
    await shop.locator(`${W}textarea.input`).press("Enter");
    await shop.locator(`${W}.msg.from-bot`).first().waitFor({ timeout: 10_000 });
    await shop.locator(`${W}button.human`).click();

    // The console: the Queued tab counts it, the list shows the visitor's question, a notification went out.
    await page.locator(".tab-queued .count", { hasText: /^1$/ }).waitFor({ timeout: 10_000 });
    await page.locator(".tab-queued").click();
    const item = page.locator(".conv-item").first();
    await item.waitFor({ timeout: 5000 });
    expect(await item.locator(".preview").textContent()).toBe("My parcel has not arrived yet");
    expect(await item.locator(".state").textContent()).toBe("Queued");
    await expect(notifications(page)).resolves.toContainEqual(expect.objectContaining({ title: "New conversation waiting", body: expect.stringContaining("My parcel has not arrived yet") }));
    await screenshot(page, "agent-queued");

    // Open it: transcript, visitor context from the widget's hello.
    await item.click();
    await page.locator(".transcript .msg.from-visitor .bubble", { hasText: "My parcel has not arrived yet" }).waitFor({ timeout: 5000 });
    await page.locator(".context dd", { hasText: "Chrome" }).waitFor({ timeout: 5000 });
    expect(await page.locator(".context a").first().getAttribute("href")).toBe(`${s.url}/`);

    // Take it and reply with Enter; Shift+Enter makes a new line first.
    await page.locator(".action-claim").click();
    const box = page.locator(".composer textarea");
    await box.waitFor({ timeout: 5000 });
    await shop.locator(`${W}.subtitle`, { hasText: "小林" }).waitFor({ timeout: 10_000 });
    // Claimed here: no "assigned to you" notification for what the agent just did, and the caret is in the box.
    await page.waitForFunction(`document.activeElement && document.activeElement.tagName === "TEXTAREA"`, undefined, { timeout: 5000 });
    expect((await notifications(page)).map((n) => n.title)).not.toContain("Conversation assigned to you");
    await box.click();
    await box.pressSequentially("Hello, this is Lin.");
    await box.press("Shift+Enter");
    await box.pressSequentially("Let me check your parcel.");
    await box.press("Enter");
    const reply = "Hello, this is Lin.\nLet me check your parcel.";
    await page.locator(".transcript .msg.from-agent.mine:not(.pending) .bubble", { hasText: "Let me check" }).waitFor({ timeout: 5000 });
    expect(await box.inputValue()).toBe("");
    const shown = shop.locator(`${W}.msg.from-agent .bubble`, { hasText: "Let me check your parcel." });
    await shown.waitFor({ timeout: 10_000 });
    expect(await shown.textContent()).toBe(reply);
    await page.locator(".tab-mine .count", { hasText: /^1$/ }).waitFor({ timeout: 5000 });
    await screenshot(page, "agent-replied");
    await screenshot(shop, "agent-widget-reply");

    // Back to the bot: the next question gets the bot's answer, on both sides.
    await page.locator(".action-return").click();
    await page.locator(".conv-header .state", { hasText: "Bot" }).waitFor({ timeout: 5000 });
    const botAnswers = shop.locator(`${W}.msg.from-bot .bubble`);
    const before = await botAnswers.count();
    await shop.locator(`${W}textarea.input`).fill("How do I return an item?");
    await shop.locator(`${W}textarea.input`).press("Enter");
    await shop.locator(`${W}.msg.from-visitor`, { hasText: "How do I return an item?" }).waitFor({ timeout: 5000 });
    await botAnswers.nth(before).waitFor({ timeout: 10_000 });
    const last = (await botAnswers.allTextContents()).at(-1)!;
    expect(last.toLowerCase()).toContain("return");
    await page.locator(".transcript .msg.from-bot .bubble", { hasText: last.slice(0, 20) }).waitFor({ timeout: 5000 });
    await screenshot(page, "agent-back-to-bot");
    await screenshot(shop, "agent-widget-bot-again");

    expect(agent.errors).toEqual([]);
    expect(shopErrors).toEqual([]);
    await visitorContext.close();
    await agent.context.close();
  }, 90_000);

  test("visitor and knowledge-base text holding HTML renders as text in the console; nothing runs", async () => {
    const img = "<img src=x onerror=window.__xss=1>";
    const script = "<script>window.__xss=1</script>";
    const answer = `Use code <img src=x onerror=window.__xss=2> or <script>window.__xss=2</script>`;
    await s.kefu.ctx.kb.upsert([{ id: "xss-offer", question: "What is the secret discount code?", answer }]);
    const mei = await makeAgent(s, { name: "mei", maxConcurrent: 0 });
    const rest = (method: string, path: string, body: unknown) =>
      fetch(`${s.url}${path}`, { method, headers: { authorization: `Bearer ${mei.token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    // A canned reply with markup in its title and text (agents write them; shared ones reach every agent).
    expect((await rest("POST", "/api/agent/canned", { shortcut: "x", title: img, text: script })).status).toBeLessThan(300);
    const agent = await openConsole(browser, "mei");
    const { page } = agent;

    // The visitor: hostile page context, name, messages and typing preview, then a handoff.
    const { c: v } = await visitor(s.wsUrl, {
      context: { url: "javascript:window.__xss=3", title: img, referrer: script, user_agent: `${img} Chrome/120` },
      user: { id: "u-1", name: `<b onmouseover=window.__xss=4>Eve</b>` },
    });
    // Each message waits for its bot reply: messages sent before the previous one is answered are answered
    // together (one question), and the knowledge base would not see the third on its own.
    v.send({ type: "send", client_id: "x1", text: img });
    await v.nextType("ack");
    await v.nextType("message", (f) => f.from === "bot");
    v.send({ type: "send", client_id: "x2", text: script });
    await v.nextType("ack");
    await v.nextType("message", (f) => f.from === "bot");
    v.send({ type: "send", client_id: "x3", text: "What is the secret discount code?" });
    await v.nextType("message", (f) => f.from === "bot" && f.text.includes("Use code"));
    // (Two unanswered messages may already have queued it: bot_misses_before_handoff.)
    v.send({ type: "handoff" });
    await v.sync();
    expect(v.frames.some((f) => f.type === "state" && f.state === "queued")).toBe(true);

    await page.locator(".tab-queued").click();
    const item = page.locator(".conv-item").first();
    await item.waitFor({ timeout: 10_000 });
    expect(await item.locator(".who").textContent()).toBe("<b onmouseover=window.__xss=4>Eve</b>");
    await item.click();
    const visitorBubbles = page.locator(".transcript .msg.from-visitor .bubble");
    await visitorBubbles.nth(2).waitFor({ timeout: 5000 });
    expect(await visitorBubbles.allTextContents()).toEqual([img, script, "What is the secret discount code?"]);
    expect(await page.locator(".transcript .msg.from-bot .bubble", { hasText: "Use code" }).textContent()).toContain(answer);
    // Agent assist shows the same answer, as text.
    await page.locator(".assist .suggestion .a", { hasText: "Use code" }).waitFor({ timeout: 5000 });
    expect(await page.locator(".assist .suggestion .a").first().textContent()).toBe(answer);
    // The typing preview.
    v.send({ type: "typing", on: true, text: `${script} still typing` });
    await page.locator(".typing-preview .text", { hasText: "still typing" }).waitFor({ timeout: 5000 });
    expect(await page.locator(".typing-preview .text").textContent()).toBe(`${script} still typing`);
    // Context: a javascript: URL is not a link; the title is text.
    const pageRow = page.locator(".context dd").first();
    expect(await pageRow.textContent()).toBe(img);
    expect(await page.locator(".context a").count()).toBe(0);
    // A tag holding markup, in the list and the tag editor.
    const tag = "<img src=x onerror=__xss=5>";
    expect((await rest("PUT", `/api/agent/conversations/${encodeURIComponent(await item.getAttribute("data-id") ?? "")}/tags`, { tags: [tag] })).status).toBe(200);
    await page.locator(".conv-item .tag", { hasText: "onerror" }).waitFor({ timeout: 5000 });
    expect(await page.locator(".tag-editor .tag").first().textContent()).toBe(`${tag}×`);

    const injected = (await page.evaluate(
      `({ xss: window.__xss ?? null, elements: document.querySelectorAll(".console img, .console script, .console b").length })`,
    )) as { xss: number | null; elements: number };
    expect(injected).toEqual({ xss: null, elements: 0 });
    await screenshot(page, "agent-xss");
    // Only the owner may close it: claim, then close; the visitor is told.
    expect(await page.locator(".action-close").count()).toBe(0);
    await page.locator(".action-claim").click();
    // The canned reply in the / popup: text, inserted as text.
    await page.locator(".composer textarea").pressSequentially("/x");
    await page.locator(".canned-popup li.active .title").waitFor({ timeout: 5000 });
    expect(await page.locator(".canned-popup li.active .title").textContent()).toBe(img);
    expect(await page.locator(".canned-popup li.active .text").textContent()).toBe(script);
    await page.locator(".composer textarea").press("Tab");
    expect(await page.locator(".composer textarea").inputValue()).toBe(script);
    expect(await page.evaluate(`({ xss: window.__xss ?? null, elements: document.querySelectorAll(".console img, .console script, .console b").length })`)).toEqual({ xss: null, elements: 0 });
    await page.locator(".action-close").click();
    await page.locator(".conv-header .state", { hasText: "Closed" }).waitFor({ timeout: 5000 });
    await v.nextType("state", (f) => f.state === "closed");
    expect(agent.errors).toEqual([]);
    v.close();
    await agent.context.close();
  }, 60_000);

  test("assigned with a notification; canned reply by /shortcut, private note, tag, notification while hidden, search, Chinese UI, transfer", async () => {
    await makeAgent(s, { name: "aki", displayName: "Aki" });
    const bo = await makeAgent(s, { name: "bo", displayName: "Bo", maxConcurrent: 0 });
    const { c: boSocket } = await agentSocket(s.wsUrl, bo.token);
    boSocket.send({ type: "presence", status: "online" });
    const agent = await openConsole(browser, "aki");
    const { page } = agent;

    // A verified shop user asks for a human: it is assigned to the online agent at once.
    const user = { id: "cust-42", name: "Wang Fang", email: "wang@example.com" };
    const hash = createHmac("sha256", IDENTITY_SECRET).update(user.id).digest("hex");
    const { c: v } = await visitor(s.wsUrl, { lang: "en", user: { ...user, hash }, context: { url: "https://shop.example/cart", user_agent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1" } });
    v.send({ type: "send", client_id: "w1", text: "I want to talk to a human about my order" });
    await v.nextType("state", (f) => f.state === "agent");
    await page.locator(".tab-mine .count", { hasText: /^1$/ }).waitFor({ timeout: 10_000 });
    await expect(notifications(page)).resolves.toContainEqual(expect.objectContaining({ title: "Conversation assigned to you", body: expect.stringContaining("Wang Fang") }));
    await page.locator(".tab-mine").click();
    await page.locator(".conv-item", { hasText: "Wang Fang" }).click();
    await page.locator(".context .badge-ok", { hasText: "verified" }).waitFor({ timeout: 5000 });
    expect(await page.locator(".context dl").textContent()).toContain("Safari 17 · iOS · mobile");

    // A canned reply, made in the manager and used with its shortcut.
    await page.locator(".top-bar button", { hasText: "Canned replies" }).click();
    await page.locator(".modal button", { hasText: "New" }).click();
    await page.locator(".canned-form input[name=shortcut]").fill("wait");
    await page.locator(".canned-form input[name=title]").fill("Please wait");
    await page.locator(".canned-form textarea[name=text]").fill("Thanks for waiting! I am checking your order now.");
    await page.locator(".canned-form button[type=submit]").click();
    await page.locator(".canned-list .shortcut", { hasText: "/wait" }).waitFor({ timeout: 5000 });
    await screenshot(page, "agent-canned-manager");
    await page.locator(".modal button", { hasText: "Done" }).click();
    const box = page.locator(".composer textarea");
    await box.click();
    await box.pressSequentially("/wa");
    await page.locator(".canned-popup li.active .shortcut", { hasText: "/wait" }).waitFor({ timeout: 5000 });
    await screenshot(page, "agent-canned-popup");
    await box.press("Enter");
    expect(await box.inputValue()).toBe("Thanks for waiting! I am checking your order now.");
    await box.press("Enter");
    const canned = await v.nextType("message", (f) => f.from === "agent");
    expect(canned.text).toBe("Thanks for waiting! I am checking your order now.");
    expect(canned.agent.name).toBe("Aki");

    // A private note: shown to agents, never to the visitor.
    await page.locator(".composer-tabs .note-tab").click();
    await box.fill("Regular customer, offer free shipping");
    await box.press("Enter");
    await page.locator(".note-card:not(.pending) .text", { hasText: "Regular customer" }).waitFor({ timeout: 5000 });
    await v.sync();
    expect(JSON.stringify(v.frames)).not.toContain("Regular customer");
    await page.locator(".composer-tabs button", { hasText: "Reply" }).click();
    await page.waitForFunction(`document.activeElement && document.activeElement.tagName === "TEXTAREA"`, undefined, { timeout: 5000 });

    // A tag, shown in the list too.
    await page.locator(".tag-editor .tag-input").fill("vip");
    await page.locator(".tag-editor .tag-input").press("Enter");
    await page.locator(".conv-item .tag", { hasText: "vip" }).waitFor({ timeout: 5000 });
    await screenshot(page, "agent-note-tag");

    // The visitor writes while the console's tab is hidden: a notification; the live typing preview first.
    v.send({ type: "typing", on: true, text: "Also, can I change the" });
    await page.locator(".typing-preview .text", { hasText: "Also, can I change the" }).waitFor({ timeout: 5000 });
    await page.evaluate(`window.__hidden = true; document.dispatchEvent(new Event("visibilitychange"))`);
    v.send({ type: "send", client_id: "w2", text: "Also, can I change the address?" });
    await page.locator(".transcript .msg.from-visitor .bubble", { hasText: "change the address" }).waitFor({ timeout: 5000 });
    await expect(notifications(page)).resolves.toContainEqual(expect.objectContaining({ title: "New message from Wang Fang", body: "Also, can I change the address?" }));
    expect(await page.locator(".typing-preview").count()).toBe(0);
    expect(await page.title()).toMatch(/^\(1\) /);
    await page.evaluate(`window.__hidden = false; document.dispatchEvent(new Event("visibilitychange"))`);
    await page.waitForFunction(`!document.title.startsWith("(")`, undefined, { timeout: 5000 });

    // Search by the visitor's e-mail.
    await page.locator(".search input").fill("wang@example.com");
    await page.locator(".search input").press("Enter");
    await page.locator(".search-head").waitFor({ timeout: 5000 });
    await page.locator(".conv-list .conv-item", { hasText: "Wang Fang" }).waitFor({ timeout: 5000 });

    // Chinese UI.
    await page.locator(".top-bar button", { hasText: "中文" }).click();
    await page.locator(".tab-mine", { hasText: "我的" }).waitFor({ timeout: 5000 });
    expect(await page.locator(".composer-tabs").textContent()).toContain("内部备注");
    await screenshot(page, "agent-zh");

    // Transfer to Bo: it leaves Aki's list, Bo is told.
    await page.locator(".action-transfer").selectOption({ label: "Bo (在线, 0/0)" });
    await boSocket.nextType("assigned");
    await page.locator(".conv-header .agent-name", { hasText: "Bo" }).waitFor({ timeout: 5000 });
    await page.locator(".tab-mine .count", { hasText: /^0$/ }).waitFor({ timeout: 5000 });
    expect(await page.locator(".composer-locked").count()).toBe(1);

    // A narrow window: list above the conversation, no side panel.
    await page.setViewportSize({ width: 420, height: 820 });
    await screenshot(page, "agent-narrow");
    expect(agent.errors).toEqual([]);
    v.close();
    boSocket.close();
    await page.locator(".top-bar button", { hasText: "退出" }).click();
    await page.locator("input[name=password]").waitFor({ timeout: 5000 });
    await agent.context.close();
  }, 90_000);

  test("server restart: the console reconnects, resends a reply written meanwhile once, and misses nothing", async () => {
    await makeAgent(s, { name: "kai", displayName: "Kai" });
    const agent = await openConsole(browser, "kai");
    const { page } = agent;
    const first = await visitor(s.wsUrl, { lang: "en" });
    first.c.send({ type: "send", client_id: "r1", text: "human please, my order is late" });
    await first.c.nextType("state", (f) => f.state === "agent" && f.agent.name === "Kai");
    await page.locator(".tab-mine .count", { hasText: /^1$/ }).waitFor({ timeout: 10_000 });
    await page.locator(".conv-item", { hasText: "my order is late" }).click();
    await page.locator(".transcript .msg.from-visitor .bubble", { hasText: "my order is late" }).waitFor({ timeout: 5000 });

    const port = s.kefu.port;
    await s.stop();
    await page.locator(".conn-warning").waitFor({ timeout: 10_000 });
    const box = page.locator(".composer textarea");
    await box.fill("Written while the server was down");
    await box.press("Enter");
    await page.locator(".transcript .msg.pending .bubble", { hasText: "Written while" }).waitFor({ timeout: 5000 });
    await screenshot(page, "agent-offline");
    s = await start(port);

    await page.locator(".conn-warning").waitFor({ state: "detached", timeout: 20_000 });
    await page.locator(".transcript .msg.pending").waitFor({ state: "detached", timeout: 10_000 });
    const { c: v } = await visitor(s.wsUrl, { visitor_id: first.welcome.visitor_id, token: first.welcome.token, conversation_id: first.welcome.conversation_id, last_seq: 0 });
    await v.nextType("message", (f) => f.from === "agent" && f.text === "Written while the server was down");
    v.send({ type: "send", client_id: "r2", text: "Thanks, I am still here" });
    await page.locator(".transcript .msg.from-visitor .bubble", { hasText: "still here" }).waitFor({ timeout: 10_000 });
    expect(await page.locator(".transcript .msg.from-visitor .bubble").allTextContents()).toEqual(["human please, my order is late", "Thanks, I am still here"]);
    expect(await page.locator(".transcript .msg.from-agent .bubble").allTextContents()).toEqual(["Written while the server was down"]);
    const rows = s.kefu.ctx.db.query<{ n: number }, [string]>("SELECT count(*) AS n FROM chat_messages WHERE sender = 'agent' AND text = ?").get("Written while the server was down")!.n;
    expect(rows).toBe(1);
    await screenshot(page, "agent-after-restart");
    expect(agent.errors.filter((e) => !/WebSocket|ERR_CONNECTION_REFUSED/.test(e))).toEqual([]);
    v.close();
    await agent.context.close();
  }, 90_000);

  test("login errors, the session survives a reload, away survives it too and gets nothing until online", async () => {
    await makeAgent(s, { name: "nao", displayName: "Nao" });
    const context = await browser.newContext({ viewport: { width: 1360, height: 820 }, locale: "zh-CN" });
    await context.addInitScript(STUB_NOTIFICATION);
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${s.url}/agent/`);
    expect(await page.locator(".login-card button[type=submit]").textContent()).toBe("登录");
    await page.locator("input[name=name]").fill("nao");
    await page.locator("input[name=password]").fill("wrong password");
    await page.locator("button[type=submit]").click();
    await page.locator(".login-card .error").waitFor({ timeout: 5000 });
    await screenshot(page, "agent-login");
    await page.locator("input[name=password]").fill(PASSWORD);
    await page.locator("button[type=submit]").click();
    await page.locator(".presence-online.active").waitFor({ timeout: 10_000 });

    await page.locator(".presence-away").click();
    await page.locator(".presence-away.active").waitFor({ timeout: 5000 });
    await page.reload();
    await page.locator(".presence-away.active").waitFor({ timeout: 10_000 });
    await page.locator(".conn-warning").waitFor({ state: "detached", timeout: 10_000 });

    const { c: v } = await visitor(s.wsUrl, { lang: "zh" });
    v.send({ type: "send", client_id: "n1", text: "转人工，谢谢" });
    await v.nextType("state", (f) => f.state === "queued");
    const waiting = page.locator(".conv-item", { hasText: "转人工，谢谢" });
    await page.locator(".tab-queued").click();
    await waiting.waitFor({ timeout: 10_000 });
    await v.sync();
    expect(v.frames.some((f) => f.type === "state" && f.state === "agent")).toBe(false);

    await page.locator(".presence-online").click();
    await v.nextType("state", (f) => f.state === "agent" && f.agent.name === "Nao");
    await page.locator(".tab-mine").click();
    await page.locator(".conv-item", { hasText: "转人工，谢谢" }).waitFor({ timeout: 10_000 });
    await expect(notifications(page)).resolves.toContainEqual(expect.objectContaining({ title: "有会话分配给你" }));

    await page.locator(".top-bar button", { hasText: "退出" }).click();
    await page.locator("input[name=password]").waitFor({ timeout: 5000 });
    await page.reload();
    await page.locator("input[name=password]").waitFor({ timeout: 5000 });
    expect(errors.filter((e) => !/401|Unauthorized/i.test(e))).toEqual([]);
    v.close();
    await context.close();
  }, 60_000);
});
