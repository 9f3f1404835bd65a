/**
 * The admin console's Team, System and language in Chromium: accounts (add, display name, role, max concurrent,
 * disable, reset password; the last admin stays), canned replies, API tokens (shown once, used, revoked),
 * the system report, and the Chinese UI. Screenshots: tests/artifacts/admin-team*.png, admin-system.png.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../helpers/server";
import { makeAdmin, nav, openAdmin } from "./admin-helpers";
import { type Browser, launchBrowser, noBrowser, screenshot } from "./helpers";

const login = (s: TestServer, name: string, password: string) =>
  fetch(`${s.url}/api/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name, password }) });

describe.skipIf(noBrowser)("admin console: team, system, language", () => {
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

  test("accounts: add an agent, edit it in place, reset its password, disable it; the last admin cannot be demoted", async () => {
    const { page, context, errors } = await openAdmin(browser, s.url);
    await nav(page, "team");
    await page.locator("button.add-user").click();
    const form = page.locator("form.user-form");
    await form.locator("input[name=name]").fill("mei");
    await form.locator("input[name=display_name]").fill("小美");
    await form.locator("input[name=max_concurrent]").fill("3");
    await form.locator("input[name=password]").fill("first password 123");
    await form.locator("button[type=submit]").click();
    const row = page.locator("table.users tr[data-name=mei]");
    await row.waitFor({ timeout: 10_000 });
    expect(await row.locator("input[aria-label='Display name']").inputValue()).toBe("小美");
    expect((await login(s, "mei", "first password 123")).status).toBe(200);

    // Display name and max concurrent change when the field is left; the server has them at once.
    await row.locator("input[aria-label='Display name']").fill("Mei");
    await row.locator("input[aria-label='Max concurrent']").fill("7");
    await row.locator("input[aria-label='Max concurrent']").press("Tab");
    const mei = async () => (await s.kefu.ctx.auth.users.list()).find((u) => u.name === "mei")!;
    await waitFor(async () => { const m = await mei(); return m.displayName === "Mei" && m.maxConcurrent === 7; });

    await row.locator("button", { hasText: "Reset password" }).click();
    await row.locator("input[type=password]").fill("second password 456");
    await row.locator("button[type=submit]").click();
    await waitFor(async () => (await login(s, "mei", "second password 456")).status === 200);
    expect((await login(s, "mei", "first password 123")).status).toBe(401);

    await row.locator("button.toggle").click();
    await row.locator("button.toggle", { hasText: "Disabled" }).waitFor({ timeout: 10_000 });
    expect((await login(s, "mei", "second password 456")).status).not.toBe(200);
    await screenshot(page, "admin-team");

    // Your own status and role are off limits (the server also refuses to remove the last admin).
    const me = page.locator("table.users tr[data-name=boss]");
    expect(await me.locator("button.toggle").isDisabled()).toBe(true);
    expect(await me.locator("select[aria-label=Role]").isDisabled()).toBe(true);
    expect((await s.kefu.ctx.auth.users.list()).find((u) => u.name === "boss")!.role).toBe("admin");
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  test("canned replies and API tokens: a token is shown once, works on /api/ask, and stops working once revoked", async () => {
    const { page, context, errors } = await openAdmin(browser, s.url);
    await nav(page, "team");
    const canned = page.locator("form.canned-add");
    await canned.locator("input[name=shortcut]").fill("hi");
    await canned.locator("input[name=text]").fill("您好，请问有什么可以帮您？");
    await canned.locator("button[type=submit]").click();
    await page.locator(".team-canned td", { hasText: "/hi" }).waitFor({ timeout: 10_000 });

    await page.locator("form.token-form input[name=label]").fill("shop app");
    await page.locator("form.token-form button[type=submit]").click();
    const shown = page.locator(".token-once .token-value");
    await shown.waitFor({ timeout: 10_000 });
    const token = (await shown.textContent())!;
    expect(token.length).toBeGreaterThan(20);
    await page.locator(".team-tokens td", { hasText: "shop app" }).waitFor({ timeout: 5000 });
    await screenshot(page, "admin-team-token");
    const ask = () => fetch(`${s.url}/api/ask`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ text: "运费怎么算" }) });
    expect((await ask()).status).toBe(200);

    // Once dismissed, the token is nowhere on the page (the list shows labels only).
    await page.locator(".token-once button", { hasText: "Done" }).click();
    expect(await page.locator(".admin-main").textContent()).not.toContain(token);
    await page.locator(".team-tokens tr", { hasText: "shop app" }).locator("button", { hasText: "Revoke" }).click();
    await page.locator(".team-tokens .confirm-yes").click();
    await page.locator(".team-tokens td", { hasText: "shop app" }).waitFor({ state: "detached", timeout: 10_000 });
    expect((await ask()).status).toBe(401);
    expect(errors).toEqual([]);
    await context.close();
  }, 60_000);

  test("system report and the Chinese console", async () => {
    const { page, context, errors } = await openAdmin(browser, s.url, "boss", { locale: "zh-CN" });
    expect(await page.locator(".admin-nav .nav-kb").textContent()).toBe("知识库");
    await nav(page, "system");
    await page.locator(".sys-version").waitFor({ timeout: 10_000 });
    const version = (await (await fetch(`${s.url}/healthz`)).json()) as { version?: string };
    if (version.version) expect(await page.locator(".sys-version").textContent()).toBe(version.version);
    await screenshot(page, "admin-system");
    // The choice is kept: English after a switch and a reload.
    await page.locator(".lang-switch").click();
    await page.reload();
    await page.locator(".admin-nav .nav-kb", { hasText: "Knowledge base" }).waitFor({ timeout: 10_000 });

    // A session ended elsewhere (here: signed out with the same token): the next call asks to sign in again
    // (over the console, which keeps what is on screen); signing out from there clears the session.
    const session = JSON.parse((await page.evaluate(`localStorage.getItem("kefu.admin.session")`)) as string) as { token: string };
    expect((await fetch(`${s.url}/api/auth/logout`, { method: "POST", headers: { authorization: `Bearer ${session.token}` } })).status).toBe(200);
    await page.locator(".admin-nav .nav-kb").click();
    await page.locator(".relogin button.link", { hasText: "Sign out" }).click();
    await page.locator(".login input[name=name]").waitFor({ timeout: 10_000 });
    expect(await page.evaluate(`localStorage.getItem("kefu.admin.session")`)).toBeNull();
    expect(errors.filter((e) => !e.includes("401"))).toEqual([]);
    await context.close();
  }, 60_000);
});

async function waitFor(cond: () => boolean | Promise<boolean>, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await Bun.sleep(50);
  }
}

