/**
 * Builds kefu's browser front ends (src/web) with Bun.build. Used twice: by the server when it runs
 * from source (lazily, on the first request for a front-end file) and by scripts/build.ts, which
 * embeds the output in the compiled binary. Nothing is loaded from a CDN: every byte a page needs is here.
 */
import { resolve } from "node:path";

const webDir = resolve(import.meta.dir, "../web");

/** One file a front end serves, by URL path. */
export type WebFile = { body: Uint8Array; type: string };

/** JavaScript apps: entry (relative to src/web) → URL of the bundle. */
export const APPS: Array<{ entry: string; url: string }> = [
  { entry: "widget/index.ts", url: "/widget.js" },
  { entry: "agent/index.ts", url: "/agent/app.js" },
  { entry: "admin/index.ts", url: "/admin/app.js" },
  { entry: "pages/demo.ts", url: "/demo.js" },
];
/** Plain files: path (relative to src/web) → URL. */
export const FILES: Array<{ path: string; url: string; type: string }> = [
  { path: "pages/demo.html", url: "/", type: "text/html; charset=utf-8" },
  { path: "pages/demo.css", url: "/demo.css", type: "text/css; charset=utf-8" },
  { path: "pages/chat.html", url: "/chat", type: "text/html; charset=utf-8" },
  { path: "pages/about.html", url: "/about", type: "text/html; charset=utf-8" },
  { path: "pages/about.css", url: "/about.css", type: "text/css; charset=utf-8" },
  { path: "pages/favicon.svg", url: "/favicon.svg", type: "image/svg+xml" },
  { path: "agent/index.html", url: "/agent", type: "text/html; charset=utf-8" },
  { path: "agent/style.css", url: "/agent/app.css", type: "text/css; charset=utf-8" },
  { path: "admin/index.html", url: "/admin", type: "text/html; charset=utf-8" },
  { path: "admin/style.css", url: "/admin/app.css", type: "text/css; charset=utf-8" },
];

/** Every URL the front ends serve (routes are registered before anything is built). */
export const WEB_URLS = [...APPS.map((a) => a.url), ...FILES.map((f) => f.url)];

export class WebBuildError extends Error {}

/** Builds every front end; throws WebBuildError with the bundler's messages when one fails. */
export async function buildWeb(): Promise<Map<string, WebFile>> {
  const out = new Map<string, WebFile>();
  for (const app of APPS) {
    const entry = resolve(webDir, app.entry);
    if (!(await Bun.file(entry).exists())) continue; // an app still being written is simply not served
    const result = await Bun.build({ entrypoints: [entry], target: "browser", format: "iife", minify: true, sourcemap: "none" });
    if (!result.success) throw new WebBuildError(`building ${app.entry} failed:\n${result.logs.map(String).join("\n")}`);
    out.set(app.url, { body: new Uint8Array(await result.outputs[0]!.arrayBuffer()), type: "text/javascript; charset=utf-8" });
  }
  for (const f of FILES) {
    const file = Bun.file(resolve(webDir, f.path));
    if (await file.exists()) out.set(f.url, { body: new Uint8Array(await file.arrayBuffer()), type: f.type });
  }
  return out;
}

/** Gzipped size of a file, as browsers download it. */
export function gzipSize(body: Uint8Array): number {
  return Bun.gzipSync(body as Uint8Array<ArrayBuffer>, { level: 9 }).length;
}

/** The size budget of the embeddable widget (gzipped): shop pages load it on every visit. */
export const WIDGET_BUDGET_BYTES = 30 * 1024;
