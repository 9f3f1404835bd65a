/**
 * Takes the screenshots in docs/images (needs Chromium, see tests/browser/helpers.ts):
 * `bun scripts/docs-screenshots.ts`.
 */
import { join, resolve } from "node:path";
import { launchBrowser } from "../tests/browser/helpers";
import { startTestServer } from "../tests/helpers/server";

const out = resolve(import.meta.dir, "../docs/images");
const s = await startTestServer({ log: { level: "warn" } });
const browser = await launchBrowser();
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 720 }, deviceScaleFactor: 1 });
  await page.goto(`${s.url}/`);
  await page.locator("#kefu-widget >> .launcher").click();
  for (const q of ["运费怎么算？", "How do I return an item?"]) {
    await page.locator("#kefu-widget >> textarea.input").fill(q);
    await page.locator("#kefu-widget >> textarea.input").press("Enter");
    await page.locator("#kefu-widget >> .msg.from-bot").nth(q.startsWith("How") ? 1 : 0).waitFor({ timeout: 10_000 });
  }
  await page.screenshot({ path: join(out, "widget.png") });
  console.log(`wrote ${join(out, "widget.png")}`);
} finally {
  await browser.close();
  await s.stop();
}
