/** Shared by the admin console's browser tests (tests/browser/admin-*.test.ts). */
import type { TestServer } from "../helpers/server";
import type { Browser, BrowserContext, Page } from "./helpers";
import { watchErrors } from "./helpers";

export const ADMIN_PASSWORD = "correct horse battery";

/** Creates an admin account `name` (password ADMIN_PASSWORD) unless it exists. */
export async function makeAdmin(s: TestServer, name = "boss") {
  if (!(await s.kefu.ctx.auth.users.list()).some((u) => u.name === name)) await s.kefu.ctx.auth.addUser(name, "admin", ADMIN_PASSWORD, { displayName: "Boss" });
}

/** A new browser context on /admin, signed in as `name` (an admin made by makeAdmin). */
export async function openAdmin(
  browser: Browser,
  baseUrl: string,
  name = "boss",
  opts: { viewport?: { width: number; height: number }; locale?: string } = {},
): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1360, height: 860 }, locale: opts.locale ?? "en-US" });
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${baseUrl}/admin`);
  await page.locator("input[name=name]").fill(name);
  await page.locator("input[name=password]").fill(ADMIN_PASSWORD);
  await page.locator("button[type=submit]").click();
  await page.locator(".admin .top-bar").waitFor({ timeout: 10_000 });
  return { context, page, errors };
}

/** Opens a view from the left navigation (dashboard, kb, import, hit, batch, thresholds, unanswered, …). */
export async function nav(page: Page, view: string) {
  await page.locator(`.admin-nav .nav-${view}`).click();
  await page.locator(`.admin-nav .nav-${view}[aria-current=page]`).waitFor({ timeout: 5000 });
}
