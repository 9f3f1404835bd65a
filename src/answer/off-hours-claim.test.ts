import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Value } from "@sinclair/typebox/value";
import { BusinessHours } from "../schedule/business-hours";
import { type HoursConfig, hoursSection } from "../schedule/config";
import { openDatabase } from "../storage/database";
import { createSqliteSql } from "../storage/sqlite-driver";
import { OffHours, type ConversationSink } from "./off-hours";
import { createPendingStore } from "./pending-store";
import { fakeClock } from "./test-fixtures";

/**
 * Issue 18, done-when 3 (second half): two batch runners — two nodes, each with its own connection to the one
 * database — running the off-hours batch at the same moment answer each pending question exactly once, and a
 * claim left by a runner that died is taken over once it is older than the claim timeout.
 */

const dir = mkdtempSync(join(tmpdir(), "kefu-offhours-claim-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TUE_0900 = new Date("2026-12-01T01:00:00Z");
const hoursConfig: HoursConfig = { ...(Value.Create(hoursSection) as HoursConfig), enabled: true, timezone: "Asia/Shanghai" };

async function node(name: string, posted: { runner: string; conversationId: string; text: string }[]) {
  const db = await openDatabase({ dir });
  const sql = createSqliteSql(db);
  const store = createPendingStore(sql);
  const clock = fakeClock(TUE_0900);
  const sink: ConversationSink = {
    async postBotMessage(conversationId, text) {
      posted.push({ runner: name, conversationId, text });
    },
    async requestHandoff() {},
  };
  const offHours = new OffHours({
    hours: new BusinessHours(hoursConfig, { now: clock.now }),
    store,
    sink,
    // A model answer takes a few ms, at random: the two runners interleave.
    answer: async (q) => {
      await Bun.sleep(Math.random() * 4);
      return { text: `answer to ${q.question}`, sources: [] };
    },
    concurrency: 3,
    retentionDays: 30,
    now: clock.now,
    timers: clock.timers,
    runnerId: name,
    isLeader: () => true,
  });
  return { db, store, offHours };
}

test("two nodes running the batch at once answer each pending question exactly once", async () => {
  const posted: { runner: string; conversationId: string; text: string }[] = [];
  const a = await node("node-a", posted);
  const b = await node("node-b", posted);
  const N = 60;
  for (let i = 0; i < N; i++) await (i % 2 ? a : b).store.add({ conversationId: `conv-${i}`, question: `question ${i}`, lang: "en", now: TUE_0900.getTime() - 1000 });

  const [ra, rb] = await Promise.all([a.offHours.run(), b.offHours.run()]);

  expect(posted).toHaveLength(N);
  expect(new Set(posted.map((p) => p.conversationId)).size).toBe(N);
  expect(ra.answered + rb.answered).toBe(N);
  expect(ra.processed + rb.processed).toBe(N);
  // Both did some of the work (they ran side by side, not one after the other).
  expect(ra.processed).toBeGreaterThan(0);
  expect(rb.processed).toBeGreaterThan(0);
  expect(await a.store.countPending()).toBe(0);
  const rows = await a.store.list({ limit: 1000 });
  expect(rows.map((q) => q.status)).toEqual(Array(N).fill("answered"));
  expect(rows.every((q) => q.answer === `answer to ${q.question}`)).toBe(true);
  a.db.close();
  b.db.close();
}, 20_000);

test("a claim is exclusive until it is older than the claim timeout, then another runner takes it over", async () => {
  const db = await openDatabase({ dir: mkdtempSync(join(dir, "stale-")) });
  const store = createPendingStore(createSqliteSql(db));
  const q = await store.add({ conversationId: "c", question: "q", lang: "en", now: 0 });
  expect(await store.claim(q.id, "dead-node", 1_000, 0)).toMatchObject({ id: q.id });
  // Held: another runner cannot take it, nor can the holder's claim be resolved by someone else.
  expect(await store.claim(q.id, "live-node", 2_000, 500)).toBeNull();
  expect(await store.resolve(q.id, "answered", { now: 2_000, answer: "x", by: "live-node" })).toBe(false);
  // Older than the timeout: taken over; the dead runner's late resolve changes nothing.
  expect(await store.claim(q.id, "live-node", 3_000, 1_500)).toMatchObject({ id: q.id });
  expect(await store.resolve(q.id, "answered", { now: 3_100, answer: "late", by: "dead-node" })).toBe(false);
  expect(await store.resolve(q.id, "answered", { now: 3_200, answer: "yes", by: "live-node" })).toBe(true);
  expect(await store.claim(q.id, "other", 4_000, 4_000)).toBeNull();
  expect(await store.list()).toMatchObject([{ status: "answered", answer: "yes", resolvedAt: 3_200 }]);
  expect(await store.countPending()).toBe(0);
  db.close();
});
