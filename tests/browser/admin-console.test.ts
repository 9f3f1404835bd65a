/**
 * The admin console (/admin) in a real Chromium against the real server: issue #14's acceptance lines 1
 * (replace-mode CSV import with its dry-run preview → hit test → a visitor is answered with the entry) and
 * 2 (unanswered questions → one click makes an entry → answered directly), and the dashboard's screenshot
 * of line 4 with an XSS check. Screenshots: tests/artifacts/admin-*.png.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually } from "../helpers/eventually";
import { startTestServer, type TestServer } from "../helpers/server";
import { cid, makeAgent, visitor } from "../helpers/ws-client";
import { makeAdmin, nav, openAdmin } from "./admin-helpers";
import { type Browser, launchBrowser, noBrowser, type Page, screenshot } from "./helpers";

const SHOP_CSV = [
  "id,question,answer,alt_questions,tags,enabled",
  'hz-delivery,Do you deliver to Hangzhou?,"Yes: orders to Hangzhou arrive in 2 days by SF Express, free above 199 yuan.",Can you ship to Hangzhou? || Delivery to Hangzhou,shipping,true',
  "tea-storage,How should I store the oolong tea?,Keep it sealed in a cool dry place away from light; it stays fresh for 18 months.,How to keep tea fresh,tea,true",
  "gift-wrap,Do you offer gift wrapping?,Gift wrapping costs 10 yuan; choose it at checkout.,,orders,true",
].join("\n");

/** Asks one question as a new visitor over the WebSocket; returns the bot's reply and the conversation. */
async function ask(s: TestServer, text: string) {
  const { c, welcome } = await visitor(s.wsUrl, { lang: "en" });
  c.send({ type: "send", client_id: cid(), text });
  const reply = await c.nextType("message", (f) => f.from === "bot");
  return { c, reply, conversationId: welcome.conversation_id as string };
}

describe.skipIf(noBrowser)("the admin console in Chromium", () => {
  let browser: Browser;
  let s: TestServer;
  let dir: string;
  let page: Page;
  let errors: string[];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "kefu-admin-console-"));
    s = await startTestServer({ log: { level: "warn" } }, dir);
    await makeAdmin(s);
    browser = await launchBrowser();
    ({ page, errors } = await openAdmin(browser, s.url));
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("an agent account is refused with a clear message", async () => {
    await makeAgent(s, { name: "lin" });
    const context = await browser.newContext({ locale: "en-US" });
    const p = await context.newPage();
    await p.goto(`${s.url}/admin`);
    await p.locator("input[name=name]").fill("lin");
    await p.locator("input[name=password]").fill("correct horse battery");
    await p.locator("button[type=submit]").click();
    await p.locator(".login .error", { hasText: "agent console" }).waitFor({ timeout: 10_000 });
    expect(await p.locator(".admin").count()).toBe(0);
    await context.close();
  }, 30_000);

  test("replace-mode CSV import: the dry run lists the demo entries it deletes, apply, the hit test finds the entry, a visitor gets its answer", async () => {
    await nav(page, "kb");
    await page.locator(".summary", { hasText: /^32 entries/ }).waitFor({ timeout: 10_000 });

    await nav(page, "import");
    await page.locator("input[type=file]").setInputFiles({ name: "shop.csv", mimeType: "text/csv", buffer: Buffer.from(SHOP_CSV) });
    await page.locator("input[name=mode][value=replace]").check();
    await page.locator("button.preview").click();
    const report = page.locator(".import-report.dry-run");
    await report.waitFor({ timeout: 10_000 });
    expect(await report.locator(".count-added strong").textContent()).toBe("3");
    expect(await report.locator(".count-deleted strong").textContent()).toBe("32");
    // The preview names what replace mode deletes: the demo's entries, by id and question.
    const deleted = await report.locator(".report-deleted li").allTextContents();
    expect(deleted).toHaveLength(32);
    expect(deleted.some((d) => d.includes("demo-returns-zh"))).toBe(true);
    expect(await report.locator(".report-added li").allTextContents()).toContainEqual(expect.stringContaining("Do you deliver to Hangzhou?"));
    await screenshot(page, "admin-import-preview");
    // Nothing is written by the preview.
    const before = await fetchJson(s, "/api/admin/kb/entries?limit=1");
    expect(before.total).toBe(32);

    await report.locator("button.apply").click();
    await page.locator(".import-report.applied .applied-note").waitFor({ timeout: 10_000 });
    await nav(page, "kb");
    await page.locator(".summary", { hasText: /^3 entries/ }).waitFor({ timeout: 10_000 });
    expect(await page.locator(".entries tbody tr[data-id=hz-delivery] .entry-question").textContent()).toBe("Do you deliver to Hangzhou?");
    await screenshot(page, "admin-kb");

    await nav(page, "hit");
    await page.locator("input.hit-q").fill("Can you ship to Hangzhou?");
    await page.locator(".hit-form button[type=submit]").click();
    const hit = page.locator(".hit-result");
    await hit.waitFor({ timeout: 10_000 });
    expect(await hit.locator("tbody tr").first().getAttribute("data-id")).toBe("hz-delivery");
    await hit.locator(".decision-direct").waitFor({ timeout: 5000 });
    await screenshot(page, "admin-hit-test");

    const { c, reply } = await ask(s, "Can you ship to Hangzhou?");
    expect(reply.text).toBe("Yes: orders to Hangzhou arrive in 2 days by SF Express, free above 199 yuan.");
    expect(lastAnswer(s)).toEqual({ question: "Can you ship to Hangzhou?", path: "direct" });
    c.close();
    expect(errors).toEqual([]);
  }, 90_000);

  test("three questions the bot cannot answer (one answered by an agent) appear in Unanswered; one click makes an entry; the question is then answered directly", async () => {
    const questions = ["Can I pay with seashells?", "Is the warehouse open on the moon?", "Do you sell replacement lids for the 1998 teapot?"];
    const conversations: string[] = [];
    for (const q of questions) {
      const { c, conversationId } = await ask(s, q);
      conversations.push(conversationId);
      c.close();
    }
    // An agent answers the teapot question through the agent API.
    const lin = (await s.kefu.ctx.auth.users.list()).find((u) => u.name === "lin") ? await login(s, "lin") : (await makeAgent(s, { name: "lin" })).token;
    const teapot = conversations[2]!;
    await agentCall(s, lin, `/api/agent/conversations/${teapot}/claim`, {});
    await agentCall(s, lin, `/api/agent/conversations/${teapot}/messages`, { text: "Yes, lids for the 1998 teapot are 35 yuan; order them under Spare parts." });

    await nav(page, "unanswered");
    const group = page.locator(".group", { hasText: "1998 teapot" });
    await group.waitFor({ timeout: 10_000 });
    for (const q of questions) await page.locator(".group .group-question", { hasText: q }).waitFor({ timeout: 5000 });
    await group.locator(".agent-reply", { hasText: "35 yuan" }).waitFor({ timeout: 5000 });
    await screenshot(page, "admin-unanswered");
    // The group links to its conversation: the transcript opens with the agent's reply.
    await group.locator("button.open-conversation").first().click();
    await page.locator(".transcript-panel .msg.from-agent .bubble", { hasText: "35 yuan" }).waitFor({ timeout: 10_000 });
    await nav(page, "unanswered");

    // One click: the editor opens prefilled with the question and the agent's reply as the draft answer.
    await group.locator("button.create-entry").click();
    const editor = page.locator(".entry-editor");
    await editor.waitFor({ timeout: 5000 });
    expect(await editor.locator("input[name=question]").inputValue()).toBe(questions[2]!);
    expect(await editor.locator("textarea[name=answer]").inputValue()).toBe("Yes, lids for the 1998 teapot are 35 yuan; order them under Spare parts.");
    await screenshot(page, "admin-unanswered-create");
    await editor.locator("button[type=submit]").click();
    await editor.waitFor({ state: "detached", timeout: 10_000 });
    await page.locator(".group", { hasText: "1998 teapot" }).waitFor({ state: "detached", timeout: 10_000 });

    const { c, reply } = await ask(s, questions[2]!);
    expect(reply.text).toBe("Yes, lids for the 1998 teapot are 35 yuan; order them under Spare parts.");
    expect(lastAnswer(s)).toEqual({ question: questions[2]!, path: "direct" });
    c.close();
    expect(errors).toEqual([]);
  }, 90_000);

  test("the dashboard shows the API's figures as SVG charts; visitor and entry text with markup is shown as text", async () => {
    const xss = `<img src=x onerror="window.__xss=1">`;
    const { c } = await ask(s, `Hello ${xss}`);
    c.close();
    await fetchJson(s, "/api/admin/kb/entries", { question: `Why ${xss}?`, answer: `Because ${xss}`, alt_questions: [] });

    await nav(page, "dashboard");
    const stats = page.locator(".dashboard-stats");
    await stats.waitFor({ timeout: 10_000 });
    const d = await fetchJson(s, "/api/admin/dashboard?days=14");
    const conversations = d.days.reduce((n: number, x: { conversations: number }) => n + x.conversations, 0);
    expect(await stats.locator(".fig-conversations").textContent()).toBe(String(conversations));
    expect(conversations).toBeGreaterThanOrEqual(5);
    expect(await page.locator(".dash-grid svg").count()).toBeGreaterThanOrEqual(3);
    await page.locator(".top-unanswered li", { hasText: "<img" }).waitFor({ timeout: 5000 });
    await screenshot(page, "admin-dashboard");

    await nav(page, "kb");
    await page.locator(".entries .entry-question", { hasText: "<img" }).waitFor({ timeout: 10_000 });
    await nav(page, "unanswered");
    await page.locator(".group-question", { hasText: "<img" }).waitFor({ timeout: 10_000 });
    await nav(page, "conversations");
    const row = page.locator(".conversations tbody tr", { hasText: "<img" });
    await row.first().click();
    await page.locator(".transcript-panel .bubble", { hasText: "<img" }).waitFor({ timeout: 10_000 });
    await screenshot(page, "admin-conversation");
    expect(await page.evaluate("window.__xss")).toBeUndefined();
    expect(await page.locator(".admin-main img").count()).toBe(0);

    // Filters: the agent's conversation is the only one with an agent; text search finds one.
    await page.locator(".filters select[name=agent_id]").selectOption({ label: "lin" });
    await page.locator(".filters button[type=submit]").click();
    const rows = page.locator(".conversations tbody tr");
    expect(await eventually(async () => (await rows.count()) === 1, 10_000)).toBe(true);
    expect(await rows.textContent()).toContain("1998 teapot");
    await page.locator(".filters select[name=agent_id]").selectOption("");
    await page.locator(".filters input[name=q]").fill("seashells");
    await page.locator(".filters button[type=submit]").click();
    expect(await eventually(async () => (await rows.count()) === 1 && (await rows.textContent())!.includes("seashells"), 10_000)).toBe(true);
    expect(errors).toEqual([]);
  }, 90_000);
});

/** The answer log's newest row: how the last visitor question was answered. */
const lastAnswer = (s: TestServer) => s.kefu.ctx.db.query("SELECT question, path FROM insights_answers ORDER BY id DESC LIMIT 1").get();

async function fetchJson(s: TestServer, path: string, body?: unknown) {
  const token = await adminToken(s);
  const res = await fetch(`${s.url}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as any;
}

let adminBearer: string | null = null;
const adminToken = async (s: TestServer) => (adminBearer ??= await login(s, "boss"));

async function login(s: TestServer, name: string): Promise<string> {
  const res = await fetch(`${s.url}/api/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name, password: "correct horse battery" }) });
  return ((await res.json()) as { token: string }).token;
}

async function agentCall(s: TestServer, token: string, path: string, body: unknown) {
  const res = await fetch(`${s.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return res.json();
}
