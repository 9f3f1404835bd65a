/**
 * Browser tests drive Debian's Chromium (`apt-get install chromium fonts-wqy-zenhei`, done by .ci/run)
 * with playwright-core. Without a Chromium the tests are skipped with a message saying how to get one.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

const CANDIDATES = [process.env.KEFU_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].filter(Boolean) as string[];
export const chromiumPath = CANDIDATES.find((p) => existsSync(p)) ?? null;
if (!chromiumPath) console.warn("browser tests skipped: no Chromium found (apt-get install -y chromium fonts-wqy-zenhei, or set KEFU_CHROMIUM)");

/** `describe.skipIf(noBrowser)` */
export const noBrowser = !chromiumPath;

export const artifactsDir = resolve(import.meta.dir, "../artifacts");

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath!,
    // --no-sandbox: CI runs as root. The next four keep Chromium from calling hosts this closed network refuses.
    // The last: a test's shop page (another origin, served by page.route) loads the widget from 127.0.0.1,
    // which Chromium's local-network-access checks would otherwise refuse; a real kefu is not on loopback.
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", "--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests"],
  });
}

/** Saves a screenshot as a test artifact (tests/artifacts/<name>.png). */
export async function screenshot(page: Page, name: string) {
  mkdirSync(artifactsDir, { recursive: true });
  await page.screenshot({ path: join(artifactsDir, `${name}.png`) });
}

/** Collects page errors and console errors, so a test can assert the page ran cleanly. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  return errors;
}

export type { Browser, BrowserContext, Page };
