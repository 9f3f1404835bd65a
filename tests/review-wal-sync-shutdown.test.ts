import { expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultConfig } from "../src/config/load";
import type { KefuConfig } from "../src/config/schema";
import { createLogger } from "../src/log/logger";
import { openNodeServices } from "../src/server/node-services";
import { openDatabase } from "../src/storage/database";
import { startTestServer } from "./helpers/server";

// Review of the WAL sync off the event loop (src/storage/wal-sync.ts, commit 46bbca8). The server never
// called the SQLite driver's close(): a group commit queued when stop() began ran after db.close() (and
// failed), and the driver's read-only FileHandle on <db>-wal was never closed (it is now opened per sync).

/** Read-only descriptors on `file` (SQLite opens its own read-write; the driver's fdatasync handle is "r"). */
const readOnlyOn = (file: string) =>
  readdirSync("/proc/self/fd").filter((fd) => {
    try {
      if (readlinkSync(join("/proc/self/fd", fd)) !== file) return false;
      const flags = Number.parseInt(/flags:\s*([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))![1]!, 8);
      return (flags & 3) === 0;
    } catch {
      return false;
    }
  }).length;

test("a group commit queued as the server stops is stored before the database closes, not failed by the close", async () => {
  const s = await startTestServer();
  const { sql } = s.kefu.ctx;
  await sql.run("CREATE TABLE review_wal (v TEXT)");
  const late = sql.batch(() => sql.run("INSERT INTO review_wal VALUES ('late')"));
  await s.kefu.stop("test");
  // Was: rejected with "Database has closed" (the batch ran on its setImmediate after db.close()).
  expect(await late).toEqual({ changes: 1 });
  await s.stop();
}, 20_000);

test.skipIf(process.platform !== "linux")("no handle on the WAL file is left open by the driver, while it runs or after the node services close", async () => {
  const dir = mkdtempSync(join(tmpdir(), "kefu-review-wal-"));
  try {
    const db = await openDatabase({ dir });
    const config = defaultConfig() as KefuConfig;
    const node = await openNodeServices(config, db, createLogger({ level: "error", write: () => {} }));
    const wal = join(dir, "kefu.db-wal");
    await node.sql.run("CREATE TABLE review_wal (v TEXT)");
    await node.sql.batch(() => node.sql.run("INSERT INTO review_wal VALUES ('a')"));
    // The fdatasync handle is opened for each sync and closed after it: none is left between syncs (nor for
    // Bun to close in the GC, which it reports as an error), whether or not the driver is ever closed.
    expect(readOnlyOn(wal)).toBe(0);
    await node.close();
    expect(readOnlyOn(wal)).toBe(0);
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 20_000);
