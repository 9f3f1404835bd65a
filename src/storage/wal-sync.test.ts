import { Database } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSqliteSql } from "./sqlite-driver";
import { createWalSync } from "./wal-sync";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fileDb() {
  const dir = mkdtempSync(join(tmpdir(), "kefu-wal-sync-"));
  dirs.push(dir);
  const file = join(dir, "kefu.db");
  const db = new Database(file, { create: true, strict: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = FULL");
  db.run("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)");
  return { db, file };
}

/** A sync whose completion the test controls; records what another connection could read when it started. */
function gatedSync(file: string) {
  const reader = new Database(file, { readonly: true });
  const calls: { visible: number; release: (err?: Error) => void }[] = [];
  const sync = (_fh: FileHandle) =>
    new Promise<void>((resolve, reject) => {
      const visible = reader.query<{ n: number }, []>("SELECT count(*) AS n FROM t").get()!.n;
      calls.push({ visible, release: (err) => (err ? reject(err) : resolve()) });
    });
  return { sync, calls };
}

const settled = async (p: Promise<unknown>) => {
  let done = false;
  void p.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 2));
  return done;
};
const until = async (cond: () => boolean) => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 2));
  expect(cond()).toBe(true);
};

describe("WAL sync off the event loop", () => {
  test("a batch resolves only once the WAL was synced after its COMMIT", async () => {
    const { db, file } = fileDb();
    const { sync, calls } = gatedSync(file);
    const sql = createSqliteSql(db, { walSync: createWalSync(db, sync) });
    const stored = sql.batch(() => sql.run("INSERT INTO t (v) VALUES ('a')"));
    await until(() => calls.length === 1);
    // The sync started after the commit (another connection sees the row), and nobody was told "stored" yet.
    expect(calls[0]!.visible).toBe(1);
    expect(db.inTransaction).toBe(false);
    expect(await settled(stored)).toBe(false);
    calls[0]!.release();
    expect(await stored).toEqual({ changes: 1 });
    // The connection is back at FULL: a lone statement is synced by SQLite itself, without waiting for us.
    expect(db.query<{ synchronous: number }, []>("PRAGMA synchronous").get()!.synchronous).toBe(2);
    expect(await sql.run("INSERT INTO t (v) VALUES ('lone')")).toEqual({ changes: 1 });
    expect(calls.length).toBe(1);
  });

  test("a transaction waits for the sync too, and the connection serves the next one meanwhile", async () => {
    const { db, file } = fileDb();
    const { sync, calls } = gatedSync(file);
    const sql = createSqliteSql(db, { walSync: createWalSync(db, sync) });
    const first = sql.transaction(() => sql.run("INSERT INTO t (v) VALUES ('a')"));
    await until(() => calls.length === 1);
    // While the first waits for the disk, a second transaction commits; it needs a sync that starts after it.
    const second = sql.transaction(() => sql.run("INSERT INTO t (v) VALUES ('b')"));
    const third = sql.batch(() => sql.run("INSERT INTO t (v) VALUES ('c')"));
    await new Promise((r) => setTimeout(r, 10));
    expect(db.query<{ n: number }, []>("SELECT count(*) AS n FROM t").get()!.n).toBe(3);
    expect(calls.length).toBe(1); // one sync at a time
    calls[0]!.release();
    await first;
    expect(await settled(second)).toBe(false);
    // The second and the third share the next sync.
    await until(() => calls.length === 2);
    expect(calls[1]!.visible).toBe(3);
    calls[1]!.release();
    await Promise.all([second, third]);
    expect(calls.length).toBe(2);
  });

  test("a failed sync fails the writes waiting for it (not acknowledged); the next sync works", async () => {
    const { db, file } = fileDb();
    const { sync, calls } = gatedSync(file);
    const sql = createSqliteSql(db, { walSync: createWalSync(db, sync) });
    const jobs = [sql.batch(() => sql.run("INSERT INTO t (v) VALUES ('a')")), sql.batch(() => sql.run("INSERT INTO t (v) VALUES ('b')"))];
    await until(() => calls.length === 1);
    calls[0]!.release(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }));
    for (const j of jobs) expect(((await j.catch((e) => e)) as Error).message).toContain("EIO");
    const next = sql.batch(() => sql.run("INSERT INTO t (v) VALUES ('c')"));
    await until(() => calls.length === 2);
    calls[1]!.release();
    expect(await next).toEqual({ changes: 1 });
  });

  test("the real sync: an fdatasync of the WAL file per group of commits, and close waits for it", async () => {
    const { db } = fileDb();
    let syncs = 0;
    const sql = createSqliteSql(db, {
      walSync: createWalSync(db, async (fh) => {
        syncs++;
        await fh.datasync();
      }),
    });
    await Promise.all(Array.from({ length: 50 }, (_, i) => sql.batch(() => sql.run("INSERT INTO t (v) VALUES (?)", [`m${i}`]))));
    expect(syncs).toBeGreaterThanOrEqual(1);
    expect(syncs).toBeLessThan(50);
    await sql.close();
    expect(db.query<{ n: number }, []>("SELECT count(*) AS n FROM t").get()!.n).toBe(50);
  });

  test("nothing to sync for an in-memory database or one not in WAL mode: SQLite's own FULL commit stays", () => {
    expect(createWalSync(new Database(":memory:"))).toBeNull();
    const dir = mkdtempSync(join(tmpdir(), "kefu-wal-sync-"));
    dirs.push(dir);
    const rollbackJournal = new Database(join(dir, "j.db"), { create: true });
    expect(createWalSync(rollbackJournal)).toBeNull();
  });
});
