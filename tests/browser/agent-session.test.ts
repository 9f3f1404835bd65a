/**
 * The agent console's session: where the token goes (localStorage, the bearer header, `?access_token=` on
 * the WebSocket and nowhere else; never into a console message) and the console signing itself out when
 * the server ends the session: a revoked token (close 1008) and a token gone while the server was down
 * (the upgrade is refused with 401, which a browser cannot see: the console asks REST).
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeAgent, visitor } from "../helpers/ws-client";
import { startTestServer, type TestServer } from "../helpers/server";
import { type Browser, launchBrowser, noBrowser, type Page, screenshot, watchErrors } from "./helpers";

const PASSWORD = "correct horse battery";
const storedToken = (page: Page) => page.evaluate(`(JSON.parse(localStorage.getItem("kefu.agent.session") || "null") || {}).token || null`) as Promise<string | null>;

async function signIn(page: Page, name: string) {
  await page.locator("input[name=name]").fill(name);
  await page.locator("input[name=password]").fill(PASSWORD);
  await page.locator("button[type=submit]").click();
  await page.locator(".presence-online.active").waitFor({ timeout: 10_000 });
  await page.locator(".conn-warning").waitFor({ state: "detached", timeout: 10_000 });
}

describe.skipIf(noBrowser)("the agent console's session", () => {
  let browser: Browser;
  let s: TestServer;
  let dir: string;
  const start = (port = 0) => startTestServer({ log: { level: "warn" }, server: { port } as never }, dir);
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "kefu-agent-session-"));
    s = await start();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the token: in localStorage, as a bearer header, on the WebSocket URL only; a revoked token signs the console out", async () => {
    await makeAgent(s, { name: "tia" });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-US" });
    const page = await context.newPage();
    const errors = watchErrors(page);
    const consoleText: string[] = [];
    page.on("console", (m) => consoleText.push(m.text()));
    const requests: { url: string; auth: string | undefined }[] = [];
    page.on("request", (r) => requests.push({ url: r.url(), auth: r.headers().authorization }));
    const sockets: string[] = [];
    page.on("websocket", (ws) => sockets.push(ws.url()));
    await page.goto(`${s.url}/agent`);
    await signIn(page, "tia");
    const token = (await storedToken(page))!;
    expect(token).toMatch(/.{20,}/);
    // Wait for the console's REST calls (canned replies) to have gone out.
    await page.locator(".top-bar button", { hasText: "Canned replies" }).click();
    await page.locator(".modal").waitFor({ timeout: 5000 });

    expect(sockets).toEqual([`${s.wsUrl}/agent?access_token=${encodeURIComponent(token)}`.replace("/agent?", "/ws/agent?")]);
    const withToken = requests.filter((r) => r.url.includes(token) || r.url.includes(encodeURIComponent(token)));
    expect(withToken).toEqual([]);
    const api = requests.filter((r) => new URL(r.url).pathname.startsWith("/api/agent/"));
    expect(api.length).toBeGreaterThan(0);
    for (const r of api) expect(r.auth).toBe(`Bearer ${token}`);
    expect(consoleText.filter((t) => t.includes(token))).toEqual([]);

    // Signed out elsewhere (the same token revoked): the socket is closed with 1008 and the console shows the login.
    const res = await fetch(`${s.url}/api/auth/logout`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    await page.locator("input[name=password]").waitFor({ timeout: 10_000 });
    expect(await storedToken(page)).toBeNull();
    await page.reload();
    await page.locator("input[name=password]").waitFor({ timeout: 5000 });
    expect(errors.filter((e) => !/401|Unauthorized/i.test(e))).toEqual([]);
    await context.close();
  }, 60_000);

  test("a token gone while the server was down: the refused reconnects end in the login, not in 'retrying' for ever", async () => {
    const { id } = await makeAgent(s, { name: "uma" });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-US" });
    const page = await context.newPage();
    await page.goto(`${s.url}/agent`);
    await signIn(page, "uma");
    const file = s.kefu.ctx.db.filename;
    const port = s.kefu.port;
    await s.stop();
    await page.locator(".conn-warning").waitFor({ timeout: 10_000 });
    // Down long enough for several failed reconnects (the console checks its session after a few).
    await Bun.sleep(4500);
    const db = new Database(file);
    db.run("DELETE FROM auth_tokens WHERE user_id = ?", [id]);
    db.close();
    s = await start(port);
    await screenshot(page, "agent-session-retrying");
    await page.locator("input[name=password]").waitFor({ timeout: 20_000 });
    expect(await storedToken(page)).toBeNull();
    await context.close();
  }, 60_000);
  test("a shared computer: what one agent read is still unread for the next one signing in there", async () => {
    await makeAgent(s, { name: "vic" });
    await makeAgent(s, { name: "wen", maxConcurrent: 0 });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-US" });
    const page = await context.newPage();
    await page.goto(`${s.url}/agent`);
    await signIn(page, "vic");
    const { c: v, welcome } = await visitor(s.wsUrl, { lang: "en" });
    v.send({ type: "send", client_id: "s1", text: "human please" });
    await v.nextType("state", (f) => f.state === "agent");
    const item = page.locator(`.conv-item[data-id="${welcome.conversation_id}"]`);
    await item.locator(".badge").waitFor({ timeout: 5000 });
    await item.click();
    await item.locator(".badge").waitFor({ state: "detached", timeout: 5000 });
    await page.locator(".top-bar button", { hasText: "Sign out" }).click();
    await signIn(page, "wen");
    await page.locator(".tab-open").click();
    await item.locator(".badge", { hasText: /^1$/ }).waitFor({ timeout: 5000 });
    v.close();
    await context.close();
  }, 60_000);
});
