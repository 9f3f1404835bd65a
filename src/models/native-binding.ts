import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * onnxruntime-node's native addon inside the compiled binary (scripts/build.ts swaps the package's
 * binding.js for a module that calls this). The addon and libonnxruntime.so.1 are embedded files; the
 * addon finds the library beside itself, so both are copied into one directory (once per version:
 * later starts and the other workers reuse it; written under a temporary name and renamed, so two
 * workers starting at once never load a half-written file) and the addon is loaded with process.dlopen.
 * onnxruntime-web's WASM files (backend = "wasm") are placed the same way.
 */
export function loadEmbeddedBinding(addon: string, lib: string, version: string): unknown {
  const dir = extractEmbedded({ "libonnxruntime.so.1": lib, "onnxruntime_binding.node": addon }, `kefu-onnxruntime-${version}`);
  const m = { exports: {} as unknown };
  process.dlopen(m as { exports: unknown }, join(dir, "onnxruntime_binding.node"));
  return m.exports;
}

/**
 * Copies embedded files (name → path in the binary) into one directory under KEFU_ORT_DIR or TMPDIR; returns it.
 * The directory is reused only when it is ours and nobody else can write to it (TMPDIR is shared: a directory
 * another user made first, or a symlink, could hold their own addon); otherwise a fresh private one is made.
 */
export function extractEmbedded(files: Record<string, string>, name: string): string {
  const base = process.env.KEFU_ORT_DIR || tmpdir();
  const uid = process.getuid?.();
  let dir = join(base, `${name}-${uid ?? "u"}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0) dir = mkdtempSync(`${dir}-`);
  for (const [file, embedded] of Object.entries(files)) {
    const target = join(dir, file);
    if (existsSync(target) && statSync(target).size === Bun.file(embedded).size) continue;
    const tmp = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    writeFileSync(tmp, readFileSync(embedded));
    renameSync(tmp, target);
  }
  return dir;
}
