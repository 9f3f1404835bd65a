import { afterAll, beforeAll, expect, test } from "bun:test";
import { rawRequest, requestText } from "./helpers/raw-http";
import { startTestServer, type TestServer } from "./helpers/server";

/** Review of issue 12: the front-end files route as caches, proxies and odd clients talk to it. */
let s: TestServer;
let etag: string;
beforeAll(async () => {
  s = await startTestServer({ log: { level: "warn" } });
  etag = (await get("/widget.js")).headers.etag!;
}, 60_000);
afterAll(() => s.stop());

const get = (target: string, headers: Record<string, string> = {}, method = "GET") =>
  rawRequest(s.kefu.port, requestText(method, target, "127.0.0.1", headers), { waitMs: 5000 });

test("If-None-Match is compared weakly and may list several tags or be *: all are 304 (a gzipping proxy makes the tag weak)", async () => {
  for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, `"a",W/${etag} , "b"`, "*"]) {
    const res = await get("/widget.js", { "If-None-Match": inm });
    expect({ inm, status: res.status, body: res.body }).toEqual({ inm, status: 304, body: "" });
    expect(res.headers.etag).toBe(etag);
  }
  for (const inm of ['"other"', `${etag.slice(0, -2)}"`, "W/*"]) expect((await get("/widget.js", { "If-None-Match": inm })).status).toBe(200);
}, 30_000);

test("gzip only when the client accepts it: gzip;q=0 (refused) gets the plain body", async () => {
  for (const ae of ["gzip;q=0", "gzip; q=0.0, identity", "x-gzip", "identity"]) {
    const res = await get("/widget.js", { "Accept-Encoding": ae });
    expect({ ae, status: res.status, encoding: res.headers["content-encoding"] ?? "none" }).toEqual({ ae, status: 200, encoding: "none" });
  }
  for (const ae of ["gzip", "deflate, gzip;q=0.5", "GZIP", "br;q=1.0, gzip;q=0.8, *;q=0.1"]) {
    expect((await get("/widget.js", { "Accept-Encoding": ae })).headers["content-encoding"]).toBe("gzip");
  }
}, 30_000);

test("HEAD answers like GET without a body; unknown files and path tricks are 404 or 400, never another file or a 500", async () => {
  const head = await get("/widget.js", {}, "HEAD");
  expect(head.status).toBe(200);
  expect(head.body).toBe("");
  for (const target of ["/%77idget.js", "/widget.js%00", "//widget.js", "/agent//", "/AGENT", "/widget.js.map", "/src/web/widget/index.ts", "/agent/index.html"]) {
    const res = await get(target);
    expect({ target, ok: [400, 404].includes(res.status) }).toEqual({ target, ok: true });
  }
}, 30_000);
