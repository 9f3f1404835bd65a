import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { defaultConfig } from "../config/load";
import { createInProcessBus } from "../events/bus";
import { createSqliteSql } from "../storage/sqlite-driver";
import { settingsMigrations } from "./migrations";
import { createSettings } from "./settings";

const open = () => {
  const db = new Database(":memory:");
  for (const m of settingsMigrations) db.run(m.sql);
  return db;
};

const until = async (check: () => boolean, ms: number) => {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await Bun.sleep(10);
  return check();
};

/**
 * Two nodes, one shared table, and a bus that lost the `settings` event (Redis was down when node A published:
 * pub/sub keeps nothing). Node B must not keep the old thresholds until a restart.
 */
describe("settings missed on the bus", () => {
  test("a node reloads on bus:resync (the bus is back and may have lost events)", async () => {
    const db = open();
    const busA = createInProcessBus();
    const busB = createInProcessBus(); // not connected: node A's event never reaches B
    const a = await createSettings({ sql: createSqliteSql(db), bus: busA, config: defaultConfig(), apply: () => {}, pollMs: 0 });
    const b = await createSettings({ sql: createSqliteSql(db), bus: busB, config: defaultConfig(), apply: () => {}, pollMs: 0 });
    await a.set({ "kb.direct": 0.93 }, "admin");
    await Bun.sleep(50);
    expect(b.effective.kb.direct).toBe(0.85);
    busB.publish("bus:resync", {});
    expect(await until(() => b.effective.kb.direct === 0.93, 2000)).toBe(true);
    a.close();
    b.close();
  });

  test("a node polls the table, so an event lost without any outage noticed is caught up within pollMs", async () => {
    const db = open();
    const a = await createSettings({ sql: createSqliteSql(db), bus: createInProcessBus(), config: defaultConfig(), apply: () => {}, pollMs: 0 });
    const applied: number[] = [];
    const b = await createSettings({ sql: createSqliteSql(db), bus: createInProcessBus(), config: defaultConfig(), apply: (c) => applied.push(c.kb.direct), pollMs: 50 });
    await a.set({ "kb.direct": 0.91, "kb.suggest": 0.35 }, "admin");
    expect(await until(() => b.effective.kb.direct === 0.91 && b.effective.kb.suggest === 0.35, 3000)).toBe(true);
    await Bun.sleep(200);
    // Polls that find nothing new apply nothing.
    expect(applied).toEqual([0.85, 0.91]);
    a.close();
    b.close();
  });
});
