import { expect, test } from "bun:test";
import { buildWeb, gzipSize, WEB_URLS, WIDGET_BUDGET_BYTES } from "../src/server/web-build";

test("every front end builds, and widget.js stays under its gzipped budget (30 KB)", async () => {
  const web = await buildWeb();
  for (const url of ["/widget.js", "/", "/chat", "/agent", "/agent/app.js", "/agent/app.css", "/admin", "/admin/app.js", "/admin/app.css"]) expect(web.has(url)).toBe(true);
  for (const url of web.keys()) expect(WEB_URLS).toContain(url);
  const size = gzipSize(web.get("/widget.js")!.body);
  console.log(`widget.js: ${(size / 1024).toFixed(1)} KB gzipped (budget ${WIDGET_BUDGET_BYTES / 1024} KB)`);
  expect(size).toBeLessThan(WIDGET_BUDGET_BYTES);
});

test("no front end loads anything from another host", async () => {
  const web = await buildWeb();
  for (const [url, f] of web) {
    const text = new TextDecoder().decode(f.body);
    // A tag loading an absolute URL, a CSS url() or @import of one would be a CDN dependency.
    const remote = text.match(/<(?:script|link|img|iframe|source)\b[^>]*\s(?:src|href)=["']?(?:https?:)?\/\/[^"' >]+|url\(["']?(?:https?:)?\/\/[^)]+\)|@import\s+(?:url\()?["']?(?:https?:)?\/\//g);
    expect({ url, remote }).toEqual({ url, remote: null });
  }
});
