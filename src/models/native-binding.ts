import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * onnxruntime-node's native addon inside the compiled binary (scripts/build.ts swaps the package's
 * binding.js for a module that calls this). The addon and libonnxruntime.so.1 are embedded files; the
 * addon finds the library beside itself, so both are copied into one directory (once per version:
 * later starts and the other workers reuse it; written under a temporary name and renamed, so two
 * workers starting at once never load a half-written file) and the addon is loaded with process.dlopen.
 */
export function loadEmbeddedBinding(addon: string, lib: string, version: string): unknown {
  const dir = join(process.env.KEFU_ORT_DIR || tmpdir(), `kefu-onnxruntime-${version}-${process.getuid?.() ?? "u"}`);
  mkdirSync(dir, { recursive: true });
  const place = (embedded: string, name: string) => {
    const target = join(dir, name);
    const size = Bun.file(embedded).size;
    if (existsSync(target) && statSync(target).size === size) return target;
    const tmp = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    writeFileSync(tmp, readFileSync(embedded));
    renameSync(tmp, target);
    return target;
  };
  place(lib, "libonnxruntime.so.1");
  const addonPath = place(addon, "onnxruntime_binding.node");
  const m = { exports: {} as unknown };
  process.dlopen(m as { exports: unknown }, addonPath);
  return m.exports;
}
