import { afterAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pullModel } from "../src/models/hub";
import { tempDir } from "./fixtures/models";

// Review of issue #15: `kefu models pull` against a hostile or broken hub. Each server here lists one
// small config.json plus an onnx file and misbehaves on the onnx download.
const config = new TextEncoder().encode('{"model_type":"bert"}');
const onnx = new Uint8Array(1000).fill(7);
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const gitSha = (b: Uint8Array) => createHash("sha1").update(`blob ${b.length}\0`).update(b).digest("hex");

type Mode = "slow" | "endless" | "always416" | "traversal" | "not-json" | "stall";
let mode: Mode = "endless";
let endlessSent = 0;
const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  idleTimeout: 0,
  fetch(req) {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (path.startsWith("/api/models/")) {
      if (mode === "not-json") return new Response("<html>mirror maintenance</html>", { headers: { "content-type": "text/html" } });
      const rows = [
        { type: "file", path: "config.json", size: config.length, oid: gitSha(config) },
        { type: "file", path: "onnx/model_quantized.onnx", size: 134, oid: "x", lfs: { oid: sha256(onnx), size: onnx.length } },
      ];
      if (mode === "traversal") rows.push({ type: "file", path: "sub/../../../escaped.json", size: config.length, oid: gitSha(config) });
      return Response.json(rows);
    }
    if (path.endsWith("/config.json")) return new Response(config);
    if (mode === "traversal") return new Response(onnx);
    if (mode === "slow") {
      let i = 0;
      return new Response(
        new ReadableStream({
          async pull(c) {
            await Bun.sleep(20);
            c.enqueue(onnx.subarray(i * 100, ++i * 100));
            if (i === 10) c.close();
          },
        }),
        { headers: { "content-length": String(onnx.length) } },
      );
    }
    if (mode === "always416") return new Response(null, { status: 416 });
    if (mode === "stall") return new Response(new ReadableStream({ pull: () => new Promise(() => {}) }), { headers: { "content-length": String(onnx.length) } });
    // "endless": a server that sends more than the listing announced and never ends.
    endlessSent = 0;
    return new Response(
      new ReadableStream({
        async pull(c) {
          endlessSent += 65536;
          c.enqueue(new Uint8Array(65536).fill(7));
          await Bun.sleep(1);
        },
      }),
    );
  },
});
afterAll(() => server.stop(true));
const endpoint = `http://127.0.0.1:${server.port}`;

describe("kefu models pull against a hostile hub", () => {
  test("a file that grows past the listed size is cut at once (not written until the disk is full)", async () => {
    mode = "endless";
    const dir = tempDir();
    const err = await pullModel({ endpoint, repo: "evil/endless", dtype: "q8", dir }).catch((e) => e);
    expect(err).toMatchObject({ code: "hub_size" });
    expect(endlessSent).toBeLessThan(10 * 65536);
    const part = join(dir, "evil", "endless", "onnx", "model_quantized.onnx.part");
    expect(existsSync(part) ? statSync(part).size : 0).toBeLessThanOrEqual(onnx.length);
  }, 4000);

  test("a server that answers 416 even without a Range header fails the pull (no endless retry)", async () => {
    mode = "always416";
    const err = await pullModel({ endpoint, repo: "evil/range", dtype: "q8", dir: tempDir() }).catch((e) => e);
    expect(err).toMatchObject({ code: "hub_error" });
    expect(String(err.message)).toContain("416");
  }, 4000);

  test("a listing naming a file outside the model directory is refused before anything is downloaded", async () => {
    mode = "traversal";
    const root = tempDir();
    const dir = join(root, "a", "b");
    const err = await pullModel({ endpoint, repo: "evil/paths", dtype: "q8", dir }).catch((e) => e);
    expect(err).toMatchObject({ code: "hub_error" });
    expect(String(err.message)).toContain("sub/../../../escaped.json");
    expect(readdirSync(root, { recursive: true }).map(String).filter((p) => p.includes("escaped"))).toEqual([]);
    expect(existsSync(join(dir, "evil", "paths", "config.json"))).toBe(false);
  }, 4000);

  test("a mirror answering HTML instead of the listing is a clear hub_error, not a JSON parse crash", async () => {
    mode = "not-json";
    const err = await pullModel({ endpoint, repo: "evil/html", dtype: "q8", dir: tempDir() }).catch((e) => e);
    expect(err).toMatchObject({ code: "hub_error" });
    expect(String(err.message)).toContain("not a file listing");
  }, 4000);

  test("a download that stops sending is given up after the idle timeout, resumable", async () => {
    mode = "stall";
    const err = await pullModel({ endpoint, repo: "evil/stall", dtype: "q8", dir: tempDir(), idleTimeoutMs: 300 }).catch((e) => e);
    expect(["hub_interrupted", "hub_unreachable"]).toContain(err.code);
    expect(String(err.message)).toContain("no data for 300 ms");
  }, 4000);

  test("two pulls into the same directory at once: the second is refused (hub_busy), the first completes intact", async () => {
    mode = "slow";
    const dir = tempDir();
    const opts = { endpoint, repo: "evil/twice", dtype: "q8" as const, dir };
    const [a, b] = await Promise.allSettled([pullModel(opts), pullModel(opts)]);
    expect(a.status).toBe("fulfilled");
    expect(b).toMatchObject({ status: "rejected", reason: { code: "hub_busy" } });
    expect(new Uint8Array(await Bun.file(join(dir, "evil", "twice", "onnx", "model_quantized.onnx")).arrayBuffer())).toEqual(onnx);
    // The lock goes with the pull: the next one runs.
    expect((await pullModel(opts)).files.every((f) => f.skipped)).toBe(true);
  }, 4000);

  test("a models dir that cannot be written (a file in its place) is one clear error naming it", async () => {
    mode = "slow";
    const blocker = join(tempDir(), "models");
    writeFileSync(blocker, "not a directory");
    const err = await pullModel({ endpoint, repo: "evil/nodir", dtype: "q8", dir: blocker }).catch((e) => e);
    expect(err).toMatchObject({ code: "models_dir_unwritable" });
    expect(String(err.message)).toContain(blocker);
  }, 4000);
});
