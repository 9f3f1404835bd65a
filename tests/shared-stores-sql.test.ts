import { expect, test } from "bun:test";
/**
 * Smoke test of the shared stores converted to `Sql` (settings, audit, off-hours questions, answer log, unanswered,
 * dashboard, plugin kv, retention, erase/export) on both backends: every statement runs on SQLite and on
 * PostgreSQL (skipped without a server). The behaviour is tested in each store's own tests on SQLite.
 */
import { backends } from "./store-contract-backends";
import { createSettings } from "../src/settings/settings";
import { defaultConfig } from "../src/config/load";
import { createAuditStore } from "../src/ops/audit/store";
import { createPendingStore } from "../src/answer/pending-store";
import { createAnswerLog } from "../src/insights/answer-log";
import { unansweredGroups, agentReplyOf } from "../src/insights/unanswered";
import { dashboard } from "../src/insights/dashboard";
import { createKvStore } from "../src/plugins/kv-store";
import { runRetention } from "../src/ops/retention";
import { eraseVisitor, exportVisitor, findVisitors } from "../src/ops/erase";

for (const be of backends) {
  test.skipIf(be.skip)(`the shared stores run their SQL on ${be.name}`, async () => {
    const o = await be.open();
    const sql = o.a;
    try {
      const s = await createSettings({ sql, config: defaultConfig(), apply: () => {} });
      await s.set({ "kb.direct": 0.9 }, "x");
      expect(s.effective.kb.direct).toBe(0.9);
      await s.reset(["kb.direct"]);
      const audit = createAuditStore(sql);
      const id = await audit.record({ actor: "a", action: "user.add", detail: { k: 1 } });
      expect(typeof id).toBe("number");
      expect((await audit.list({ action: "user.add", since: 0, limit: 5 })).entries).toHaveLength(1);
      const p = createPendingStore(sql);
      const q = await p.add({ conversationId: "c1", question: "q", lang: "en", now: 1 });
      expect(await p.countPending()).toBe(1);
      expect(await p.lastPendingId()).toBe(q.id);
      expect(await p.claim(q.id, "n", 5, 0)).toMatchObject({ id: q.id });
      expect(await p.resolve(q.id, "answered", { now: 6, answer: "a", by: "n" })).toBe(true);
      expect(await p.list({ status: "answered" })).toHaveLength(1);
      expect(await p.purgeResolved(100)).toBe(1);
      const log = createAnswerLog(sql);
      await log.record({ source: "api", conversationId: null, visitorSeq: null, replySeq: null, question: "how?", path: "fallback", confidence: 0.1, latencyMs: 3 }, 10);
      expect(log.failures).toBe(0);
      const groups = await unansweredGroups(sql, { since: 0 });
      expect(groups).toHaveLength(1);
      expect(await log.byIds(groups[0]!.log_ids)).toHaveLength(1);
      expect(await agentReplyOf(sql, groups[0]!.log_ids)).toBeNull();
      expect(await log.resolve(groups[0]!.log_ids, "dismissed")).toBe(1);
      const d = await dashboard(sql, { days: 7, timezone: "Asia/Shanghai" });
      expect(d.auto_resolution.total).toBe(0);
      const kv = createKvStore(sql);
      await kv.set("p", "a:1", { x: 1 }, null);
      await kv.set("p", "a:2", 2, null);
      await kv.set("p", "b", 3, null);
      expect(await kv.get("p", "a:1")).toEqual({ x: 1 });
      expect((await kv.list("p", "a:", 10)).map((r) => r.key)).toEqual(["a:1", "a:2"]);
      expect(await kv.delete("p", "b")).toBe(true);
      const r = await runRetention(sql, { messages_days: 30, tickets_days: 90, visitors_days: 1, audit_days: 365 }, { pause: async () => {} });
      expect(r.audit_rows).toBe(0);
      expect(await findVisitors(sql, "nobody")).toEqual([]);
      expect(await exportVisitor(sql, "nobody")).toBeNull();
      expect(await eraseVisitor(sql, "nobody")).toBeNull();
    } finally {
      await o.close();
    }
  }, 30_000);
}
