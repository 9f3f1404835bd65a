import { expect, test } from "bun:test";
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { extractEmbedded } from "../src/models/native-binding";
import { tempDir } from "./fixtures/models";

// Review of issue #15: the binary copies onnxruntime's native addon into a fixed directory under TMPDIR
// (/tmp/kefu-onnxruntime-<version>-<uid>) and dlopen()s it. A directory someone else could write to
// was reused as it was, and a planted file of the same size was kept: another local user could put
// their own code into the kefu process.
test("a world-writable extraction directory holding a planted file of the right size is not used", () => {
  const base = tempDir();
  const real = join(base, "addon.node");
  writeFileSync(real, "the real addon bytes");
  const prev = process.env.KEFU_ORT_DIR;
  process.env.KEFU_ORT_DIR = base;
  try {
    const planted = join(base, `kefu-test-ort-${process.getuid?.() ?? "u"}`);
    mkdirSync(planted);
    chmodSync(planted, 0o777);
    writeFileSync(join(planted, "onnxruntime_binding.node"), "evil addon bytes!!!!");
    const dir = extractEmbedded({ "onnxruntime_binding.node": real }, "kefu-test-ort");
    expect(readFileSync(join(dir, "onnxruntime_binding.node"), "utf8")).toBe("the real addon bytes");
    expect(statSync(dir).mode & 0o022).toBe(0);
    // A private directory of ours is reused as before (no copy per start).
    const own = extractEmbedded({ "onnxruntime_binding.node": real }, "kefu-test-own");
    expect(statSync(own).mode & 0o077).toBe(0);
    expect(extractEmbedded({ "onnxruntime_binding.node": real }, "kefu-test-own")).toBe(own);
  } finally {
    if (prev === undefined) delete process.env.KEFU_ORT_DIR;
    else process.env.KEFU_ORT_DIR = prev;
  }
});
