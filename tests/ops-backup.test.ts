import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { scheduledBackup } from "../src/ops/jobs";
import { DB_FILE } from "../src/storage/database";
import { cliEntry, type TestServer } from "./helpers/server";
import { cid, startChatServer, visitor } from "./helpers/ws-client";

/** Done-when 2 of issue 17: an online backup under writing visitors restores to a sound database holding every acknowledged message. */

const root = mkdtempSync(join(tmpdir(), "kefu-backup-"));
let s: TestServer;
let liveConfig: string;

function configFor(storageDir: string): string {
  const file = join(root, `config-${Math.random().toString(36).slice(2)}.toml`);
  writeFileSync(file, `[storage]\ndir = ${JSON.stringify(storageDir)}\n[log]\nlevel = "warn"\n`);
  return file;
}

async function kefu(args: string[], timeoutMs = 60_000) {
  const proc = Bun.spawn([process.execPath, cliEntry, ...args], { cwd: root, env: { ...process.env, KEFU_LOG_LEVEL: "warn" }, stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  s = await startChatServer({ chat: { rate_burst: 10_000, rate_per_second: 10_000, new_visitors_per_ip_per_minute: 10_000, frame_burst: 10_000, frames_per_second: 10_000 } as never });
  liveConfig = configFor(join(s.dir, "data"));
  // Some bulk, so the copy takes long enough for writes to land while it runs.
  const db = s.kefu.ctx.db;
  db.run("CREATE TABLE test_bulk (b BLOB)");
  const blob = new Uint8Array(16 * 1024).fill(7);
  db.transaction(() => {
    for (let i = 0; i < 1500; i++) db.run("INSERT INTO test_bulk VALUES (?)", [blob]);
  })();
});
afterAll(async () => {
  await s.stop();
  rmSync(root, { recursive: true, force: true });
});

type Acked = { conversation: string; clientId: string; text: string; seq: number };

describe("kefu backup / kefu restore", () => {
  test("a backup taken while 20 visitors write restores to a database that passes integrity_check and holds every message acked before it started", async () => {
    const acked: Acked[] = [];
    let writing = true;
    const writers = Array.from({ length: 20 }, async (_, n) => {
      const { c, welcome } = await visitor(s.wsUrl);
      for (let i = 0; writing; i++) {
        const clientId = cid(`w${n}`);
        const text = `visitor ${n} message ${i}`;
        c.send({ type: "send", client_id: clientId, text });
        const ack = await c.nextType("ack", (f) => f.client_id === clientId);
        acked.push({ conversation: welcome.conversation_id, clientId, text, seq: ack.seq });
      }
      await c.close();
    });
    while (acked.length < 200) await Bun.sleep(10);
    const before = [...acked]; // acknowledged before the backup starts
    const out = join(root, "live.db.gz");
    const backup = await kefu(["backup", out, "--gzip", "-c", liveConfig]);
    const during = acked.length - before.length;
    writing = false;
    await Promise.all(writers);
    expect(backup.stderr).toContain("backup: 100%");
    expect(backup.code).toBe(0);
    expect(backup.stdout).toContain("backup written");
    expect(during).toBeGreaterThan(0); // the visitors kept being acknowledged while the copy ran
    expect(s.kefu.ctx.db.query("SELECT action, target FROM audit_log WHERE action = 'backup.create'").all()).toEqual([{ action: "backup.create", target: out }]);
    expect(s.logs.filter((l) => l.includes('"level":"error"'))).toEqual([]); // no write failed meanwhile

    const target = join(root, "restored-data");
    const restore = await kefu(["restore", out, "-c", configFor(target)]);
    expect(restore.stderr).toBe("");
    expect(restore.code).toBe(0);
    expect(restore.stdout).toContain("integrity_check ok");

    const db = new Database(join(target, DB_FILE), { readonly: true });
    try {
      expect(db.query("PRAGMA integrity_check").all()).toEqual([{ integrity_check: "ok" }]);
      const find = db.query<{ seq: number; text: string }, [string, string]>("SELECT seq, text FROM chat_messages WHERE conversation_id = ? AND client_id = ?");
      const missing = before.filter((m) => {
        const row = find.get(m.conversation, m.clientId);
        return !row || row.seq !== m.seq || row.text !== m.text;
      });
      expect(missing).toEqual([]);
      expect(db.query("SELECT count(*) AS n FROM test_bulk").get()).toEqual({ n: 1500 });
      // The restore is in the restored database's audit log, the backup in the live one's.
      expect(db.query("SELECT action, target FROM audit_log WHERE action LIKE 'backup.%'").all()).toEqual([{ action: "backup.restore", target: out }]);
    } finally {
      db.close();
    }
  }, 120_000);

  test("restore is refused while the server has the database open, and changes nothing", async () => {
    const out = join(root, "plain.db");
    expect((await kefu(["backup", out, "-c", liveConfig])).code).toBe(0);
    const live = join(s.dir, "data", DB_FILE);
    const inode = statSync(live).ino;
    const r = await kefu(["restore", out, "-c", liveConfig]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is open in another process");
    expect(r.stderr).toContain("stop the server first");
    expect(statSync(live).ino).toBe(inode);
    expect(readdirSync(join(s.dir, "data")).filter((f) => f.includes("restor"))).toEqual([]);
    expect(s.kefu.ctx.db.query("SELECT 1 AS ok").get()).toEqual({ ok: 1 });
  }, 60_000);

  test("a damaged or foreign file is refused before anything is replaced; the replaced database is kept", async () => {
    const target = join(root, "second");
    const good = join(root, "plain.db");
    const cfg = configFor(target);
    expect((await kefu(["restore", good, "-c", cfg])).code).toBe(0);
    const kept = statSync(join(target, DB_FILE)).size;

    const cut = join(root, "cut.db");
    copyFileSync(good, cut);
    truncateSync(cut, Math.floor(statSync(cut).size / 2));
    const damaged = await kefu(["restore", cut, "-c", cfg]);
    expect(damaged.code).toBe(1);
    expect(damaged.stderr).toMatch(/integrity_check|not a SQLite database|malformed/);
    expect(damaged.stderr).toContain("nothing was restored");

    const foreign = join(root, "foreign.db");
    const f = new Database(foreign, { create: true });
    f.run("CREATE TABLE t (x)");
    f.close();
    const other = await kefu(["restore", foreign, "-c", cfg]);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain("not a kefu one");

    const newer = join(root, "newer.db");
    copyFileSync(good, newer);
    const n = new Database(newer);
    n.run("INSERT INTO schema_migrations (id, applied_at) VALUES ('zz-999', 0)");
    n.close();
    const future = await kefu(["restore", newer, "-c", cfg]);
    expect(future.code).toBe(1);
    expect(future.stderr).toContain("newer kefu");

    expect(statSync(join(target, DB_FILE)).size).toBe(kept);
    // A second good restore replaces the database and keeps the replaced one beside it.
    const again = await kefu(["restore", good, "-c", cfg]);
    expect(again.code).toBe(0);
    expect(readdirSync(target).some((f) => f.startsWith(`${DB_FILE}.before-restore-`))).toBe(true);
  }, 60_000);

  test("scheduled backups: named by time, gzip, only the newest `keep` stay, other files untouched", async () => {
    const dir = join(root, "scheduled");
    const live = join(s.dir, "data", DB_FILE);
    const cfg = { dir, every: "1h", keep: 2, gzip: true };
    const t0 = Date.UTC(2030, 0, 1);
    for (let i = 0; i < 4; i++) await scheduledBackup(live, dir, cfg, new Date(t0 + i * 3600_000));
    writeFileSync(join(dir, "notes.txt"), "mine");
    await scheduledBackup(live, dir, cfg, new Date(t0 + 4 * 3600_000));
    expect(readdirSync(dir).sort()).toEqual(["kefu-20300101-030000.db.gz", "kefu-20300101-040000.db.gz", "notes.txt"]);
    expect(existsSync(join(dir, "kefu-20300101-040000.db.gz.partial"))).toBe(false);
  }, 60_000);

  test("backup refuses to overwrite a file", async () => {
    const r = await kefu(["backup", join(root, "plain.db"), "-c", liveConfig]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("already exists");
  });
});
