import type { Database } from "bun:sqlite";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { embedded } from "./embedded";

let loadablePath: string | null = null;

/**
 * Path SQLite can dlopen. In the compiled binary the extension lives in the binary's
 * virtual file system, which SQLite cannot open, so its bytes are copied once per
 * process to a private temp dir that is removed at exit.
 */
export async function resolveLoadablePath(): Promise<string> {
  if (loadablePath) return loadablePath;
  if (!embedded.vecExtension) {
    const { getLoadablePath } = await import("sqlite-vec");
    loadablePath = getLoadablePath();
    return loadablePath;
  }
  const dir = mkdtempSync(join(tmpdir(), "kefu-vec-"));
  const ext = process.platform === "win32" ? "dll" : process.platform === "darwin" ? "dylib" : "so";
  const path = join(dir, `vec0.${ext}`);
  writeFileSync(path, new Uint8Array(await Bun.file(embedded.vecExtension).arrayBuffer()));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  loadablePath = path;
  return path;
}

export async function loadSqliteVec(db: Database): Promise<void> {
  db.loadExtension(await resolveLoadablePath());
}
