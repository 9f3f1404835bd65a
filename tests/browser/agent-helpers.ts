/** Shared by the agent console's browser tests (tests/browser/agent-*.test.ts). */
import type { Browser, BrowserContext, Page } from "./helpers";
import { watchErrors } from "./helpers";

export const AGENT_PASSWORD = "correct horse battery";

/**
 * A new browser context signed in to /agent as `name` (password AGENT_PASSWORD), online and connected.
 * `init` runs in every page before the console's script (stubs for Notification, document.hidden…);
 * `prepare` gets the context before the page opens (routes).
 */
export async function openConsole(
  browser: Browser,
  baseUrl: string,
  name: string,
  opts: { viewport?: { width: number; height: number }; init?: string; locale?: string; prepare?: (context: BrowserContext) => Promise<void> } = {},
): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1360, height: 820 }, locale: opts.locale ?? "en-US" });
  if (opts.init) await context.addInitScript(opts.init);
  await opts.prepare?.(context);
  const page = await context.newPage();
  const errors = watchErrors(page);
  await page.goto(`${baseUrl}/agent`);
  await page.locator("input[name=name]").fill(name);
  await page.locator("input[name=password]").fill(AGENT_PASSWORD);
  await page.locator("button[type=submit]").click();
  await page.locator(".top-bar").waitFor({ timeout: 10_000 });
  await page.locator(".presence-online.active").waitFor({ timeout: 10_000 });
  await page.locator(".conn-warning").waitFor({ state: "detached", timeout: 10_000 });
  return { context, page, errors };
}
