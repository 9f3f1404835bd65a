import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultConfig } from "../src/config/load";
import { createInProcessBus } from "../src/events/bus";
import { createSettings } from "../src/settings/settings";
import { createSqliteSql } from "../src/storage/sqlite-driver";
import { settingsMigrations } from "../src/settings/migrations";
import { apiClient } from "./helpers/admin-api";
import { eventually } from "./helpers/eventually";
import { startTestServer, type TestServer } from "./helpers/server";

/**
 * Thresholds saved from the admin API outlive a restart (the settings table is laid over the config file at
 * start-up); after it, the threshold curves' samples are asked again in the background and the view says so.
 */

const dir = mkdtempSync(join(tmpdir(), "kefu-settings-"));
let s: TestServer;
let admin: string;
const api = apiClient(() => s, () => admin);
afterAll(async () => {
  await s?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("settings table", () => {
  test("a PUT survives a restart; the samples of the curves are recomputed in the background, and said so", async () => {
    s = await startTestServer({ log: { level: "error" } }, dir);
    admin = await s.login("admin", "owner");
    await s.kefu.ctx.kb.calibrate();
    expect((await api("/api/admin/kb/thresholds", { method: "PUT", body: { direct: 0.9, suggest: 0.4 } })).status).toBe(200);
    await s.stop();

    s = await startTestServer({ log: { level: "error" } }, dir);
    const res = await fetch(`${s.url}/api/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "owner", password: "correct horse battery" }) });
    admin = ((await res.json()) as { token: string }).token;
    expect(s.kefu.ctx.kb.thresholds).toEqual({ direct: 0.9, suggest: 0.4 });
    const first = (await (await api("/api/admin/kb/thresholds")).json()) as any;
    expect(first).toMatchObject({ direct: 0.9, suggest: 0.4, source: "settings", updated_by: "owner" });
    // The calibrator was fitted before the restart: its samples are not kept, so they are asked again.
    expect(first.calibration.status).toBe("computing");
    expect(first.curve).toEqual([]);
    const ready = await eventually(async () => ((await (await api("/api/admin/kb/thresholds")).json()) as any).calibration.status === "ready", 20_000);
    expect(ready).toBe(true);
    const after = (await (await api("/api/admin/kb/thresholds")).json()) as any;
    expect(after.curve).toHaveLength(95);
    expect(after.calibration.samples.in_scope).toBeGreaterThan(0);
  }, 40_000);
});

describe("createSettings", () => {
  const open = () => {
    const db = new Database(":memory:");
    for (const m of settingsMigrations) db.run(m.sql);
    return db;
  };

  test("overrides that no longer fit the config file are not applied (and said why); a new write replaces them", async () => {
    const db = open();
    db.run("INSERT INTO settings (key, value, updated_at) VALUES ('kb.suggest', '0.6', 1)");
    const config = defaultConfig();
    config.kb.direct = 0.5; // the file was edited since: suggest 0.6 would exceed it
    const applied: number[][] = [];
    const settings = await createSettings({ sql: createSqliteSql(db), config, apply: (c) => applied.push([c.kb.direct, c.kb.suggest]) });
    expect(applied).toEqual([[0.5, 0.3]]);
    expect(settings.source("kb.suggest")).toBe("config");
    expect(settings.ignored).toContain("kb.suggest");
    await settings.set({ "kb.direct": 0.8 }, "admin");
    expect(applied.at(-1)).toEqual([0.8, 0.3]);
    expect(db.query("SELECT key FROM settings").all()).toEqual([{ key: "kb.direct" }]);
    expect(settings.ignored).toBeNull();
  });

  test("values are checked like the config file's", async () => {
    const settings = await createSettings({ sql: createSqliteSql(open()), config: defaultConfig(), apply: () => {} });
    await expect(settings.set({ "kb.direct": "high" }, null)).rejects.toThrow(/kb.direct = "high" is invalid: expected/);
    await expect(settings.set({ "kb.suggest": 0.9 }, null)).rejects.toThrow(/kb.suggest = 0.9 is invalid: it must not exceed kb.direct \(0.85\)/);
    await expect(settings.set({ "server.port": 1 } as never, null)).rejects.toThrow(/cannot be changed here/);
    expect(settings.effective.kb).toMatchObject({ direct: 0.85, suggest: 0.3 });
    await settings.set({ "kb.direct": 0.95 }, null);
    expect(settings.effective.kb.direct).toBe(0.95);
    await settings.reset(["kb.direct"]);
    expect(settings.effective.kb.direct).toBe(0.85);
    expect(settings.source("kb.direct")).toBe("config");
  });

  test("a change on one node reaches the others' snapshots through the settings bus topic", async () => {
    const db = open();
    const bus = createInProcessBus();
    // Two nodes: each its own snapshot, one database, one bus (Redis in a cluster).
    const seen: number[] = [];
    const a = await createSettings({ sql: createSqliteSql(db), bus, config: defaultConfig(), apply: () => {} });
    const b = await createSettings({ sql: createSqliteSql(db), bus, config: defaultConfig(), apply: (c) => seen.push(c.kb.direct) });
    await a.set({ "kb.direct": 0.9 }, "admin");
    await eventually(() => b.effective.kb.direct === 0.9, 2000);
    expect(b.source("kb.direct")).toBe("settings");
    expect(b.override("kb.direct")).toMatchObject({ value: 0.9, updatedBy: "admin" });
    await a.reset(["kb.direct"]);
    await eventually(() => b.effective.kb.direct === 0.85, 2000);
    expect(seen).toEqual([0.85, 0.9, 0.85]);
    a.close();
    b.close();
  });
});
