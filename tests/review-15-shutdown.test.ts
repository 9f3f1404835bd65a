import { expect, test } from "bun:test";
import { join, resolve } from "node:path";
import { FAQ_TEXTS, tempDir, writeEncoder } from "./fixtures/models";

// Review of issue #15: stopping while a model call runs (SIGTERM mid-request closes the pools). The
// worker disposed its ONNX session while the session was running: onnxruntime threw a Napi::Error in
// its callback and the process aborted (exit 134) about every other time.
const root = tempDir();
writeEncoder(join(root, "tiny-bert"), { corpus: FAQ_TEXTS });
const script = resolve(import.meta.dir, "fixtures/models/close-mid-request.ts");

test("closing the pool mid-embedding never crashes the process (6 runs)", async () => {
  const runs = [];
  for (const delay of [5, 20, 5, 20, 5, 20]) {
    const p = Bun.spawn([process.execPath, script, root, String(delay)], { stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    runs.push({ code, crashed: /Napi|panic/i.test(err), out: out.trim() });
  }
  expect(runs).toEqual(new Array(6).fill({ code: 0, crashed: false, out: JSON.stringify({ request: "model_unavailable" }) }));
}, 30_000);
