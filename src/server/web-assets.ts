import { Elysia } from "elysia";
import type { accessPlugin } from "../auth/access";
import { KefuError } from "../errors/kefu-error";
import type { Logger } from "../log/logger";
import { embedded } from "../platform/embedded";
import { buildWeb, WEB_URLS, type WebFile } from "./web-build";

type Served = WebFile & { etag: string; gzip?: Uint8Array };

/** If-None-Match matches: `*`, or any tag of its list compared weakly (a proxy that gzips makes `"x"` into `W/"x"`). */
function etagMatches(header: string | null, etag: string): boolean {
  if (header === null) return false;
  if (header.trim() === "*") return true;
  return header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etag);
}

/** Whether Accept-Encoding allows gzip: named (or `*`) with a quality above 0. */
function acceptsGzip(header: string | null): boolean {
  let star = false;
  for (const part of (header ?? "").toLowerCase().split(",")) {
    const [coding = "", ...params] = part.split(";").map((p) => p.trim());
    const q = params.find((p) => p.startsWith("q="));
    const wanted = q === undefined || Number(q.slice(2)) > 0;
    if (coding === "gzip") return wanted;
    if (coding === "*") star = wanted;
  }
  return star;
}

/** Loads the front-end files: the ones embedded in the compiled binary, else a fresh build of src/web. */
async function loadFiles(): Promise<Map<string, WebFile>> {
  const files = Object.entries(embedded.webFiles);
  if (files.length === 0) return buildWeb();
  const out = new Map<string, WebFile>();
  for (const [url, f] of files) out.set(url, { body: new Uint8Array(await Bun.file(f.path).arrayBuffer()), type: f.type });
  return out;
}

/**
 * The browser front ends: the demo shop page (/), the widget (/widget.js), the full-page chat (/chat),
 * the agent console (/agent), the admin console (/admin) and /about. Built once, on the first request, then served from memory with
 * an ETag (browsers revalidate, so an upgraded server is picked up at once) and gzip when accepted.
 */
export function webAssets(log: Logger, access: ReturnType<typeof accessPlugin>) {
  let files: Promise<Map<string, Served>> | null = null;
  let retryTimer: ReturnType<typeof setTimeout> | null = null;
  const load = () =>
    (files ??= loadFiles().then((built) => {
      const served = new Map<string, Served>();
      for (const [url, f] of built) served.set(url, { ...f, etag: `"${Bun.hash(f.body).toString(36)}"` });
      return served;
    }));
  const serve = async (url: string, request: Request) => {
    let all: Map<string, Served>;
    try {
      all = await load();
    } catch (err) {
      // A source edit may fix it: build again, but not on every request of a page's burst.
      const failed = files;
      if (retryTimer === null) {
        log.error("front-end build failed", { error: String(err) });
        retryTimer = setTimeout(() => {
          retryTimer = null;
          if (files === failed) files = null;
        }, 2000);
        retryTimer.unref();
      }
      throw new KefuError("unavailable", 503, "the web front end could not be built; see the server log");
    }
    const file = all.get(url);
    if (!file) throw new KefuError("not_found", 404, "not found");
    const headers: Record<string, string> = { "content-type": file.type, etag: file.etag, "cache-control": "no-cache", vary: "accept-encoding" };
    if (etagMatches(request.headers.get("if-none-match"), file.etag)) return new Response(null, { status: 304, headers });
    if (acceptsGzip(request.headers.get("accept-encoding")) && file.body.length > 1024) {
      file.gzip ??= Bun.gzipSync(file.body as Uint8Array<ArrayBuffer>, { level: 9 });
      return new Response(file.gzip as Uint8Array<ArrayBuffer>, { headers: { ...headers, "content-encoding": "gzip" } });
    }
    return new Response(file.body as Uint8Array<ArrayBuffer>, { headers });
  };
  const app = new Elysia({ name: "web-assets" }).use(access);
  for (const url of WEB_URLS) {
    app.get(url, ({ request }) => serve(url, request), { access: "public" });
    // Pages are also reachable with a trailing slash (/agent/, /chat/).
    if (url !== "/" && !url.includes(".")) app.get(`${url}/`, ({ request }) => serve(url, request), { access: "public" });
  }
  return app;
}
