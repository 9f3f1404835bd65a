import { resolve } from "node:path";
import { loadConfig } from "../config/load";
import { openDatabase } from "../storage/database";

/** Config + migrated database for offline commands (user, import, ask ...). */
export async function openFromConfig(configPath: string | undefined) {
  const loaded = loadConfig({ path: configPath });
  const db = await openDatabase({ dir: resolve(loaded.baseDir, loaded.config.storage.dir), busyTimeoutMs: loaded.config.storage.busy_timeout_ms });
  return { ...loaded, db };
}
