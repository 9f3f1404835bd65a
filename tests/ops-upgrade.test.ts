import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SCHEMA_VERSION } from "../src/ops/schema";
import { DB_FILE, openDatabase } from "../src/storage/database";
import { allMigrations } from "../src/storage/migrations";
import { cliEntry, startTestServer } from "./helpers/server";

const root = mkdtempSync(join(tmpdir(), "kefu-upgrade-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("upgrades", () => {
  test("a schema change on start takes a backup of the database as it was first", async () => {
    const dir = join(root, "old");
    const older = await openDatabase({ dir, migrations: allMigrations.slice(0, -1) });
    older.run("INSERT INTO users (name, role, password_hash, created_at) VALUES ('before', 'admin', 'x', 0)");
    older.close();
    const db = await openDatabase({ dir });
    db.close();
    const files = readdirSync(join(dir, "backups"));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(new RegExp(`^kefu-before-schema-${SCHEMA_VERSION}-from-${SCHEMA_VERSION - 1}-\\d{8}-\\d{6}\\.db$`));
    const copy = new Database(join(dir, "backups", files[0]!), { readonly: true });
    expect(copy.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
    expect(copy.query("SELECT count(*) AS n FROM schema_migrations").get()).toEqual({ n: SCHEMA_VERSION - 1 });
    expect(copy.query("SELECT name FROM users").all()).toEqual([{ name: "before" }]);
    copy.close();
    // Started again with nothing to migrate: no new copy.
    (await openDatabase({ dir })).close();
    expect(readdirSync(join(dir, "backups"))).toHaveLength(1);
  });

  test("a new database takes no upgrade backup", async () => {
    const dir = join(root, "new");
    (await openDatabase({ dir })).close();
    expect(existsSync(join(dir, "backups"))).toBe(false);
  });

  test("a database written by a newer kefu is refused with a clear message, and left as it was", async () => {
    const dir = join(root, "newer");
    const db = await openDatabase({ dir });
    db.run("INSERT INTO schema_migrations (id, applied_at) VALUES ('zz-999', 0)");
    db.close();
    await expect(openDatabase({ dir })).rejects.toThrow(/written by a newer version; upgrade kefu or restore a backup/);
    const after = new Database(join(dir, DB_FILE), { readonly: true });
    expect(after.query("SELECT count(*) AS n FROM schema_migrations").get()).toEqual({ n: SCHEMA_VERSION + 1 });
    after.close();
    expect(existsSync(join(dir, "backups"))).toBe(false);
  });

  test("kefu --version and /healthz show the schema version", async () => {
    const proc = Bun.spawn([process.execPath, cliEntry, "--version"], { stdout: "pipe" });
    expect((await new Response(proc.stdout).text()).trim()).toMatch(new RegExp(`^\\d+\\.\\d+\\.\\d+ \\(schema ${SCHEMA_VERSION}\\)$`));
    const s = await startTestServer({ log: { level: "warn" } });
    try {
      const health = (await (await fetch(`${s.url}/healthz`)).json()) as { schema_version: number };
      expect(health.schema_version).toBe(SCHEMA_VERSION);
      expect(s.kefu.ctx.db.query("SELECT value FROM meta WHERE key = 'schema_version'").get()).toEqual({ value: String(SCHEMA_VERSION) });
    } finally {
      await s.stop();
    }
  });
});
