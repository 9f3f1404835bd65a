/**
 * The store contract, store by store: every shared store run on both backends (tests/store-contract-backends.ts:
 * SQLite, and PostgreSQL with two connections `a`/`b` standing for two nodes). What is pinned here is what the
 * cluster relies on: the same results on both, and the cross-node races (claims, upserts) ending the same way.
 * The driver contract is tests/store-contract.test.ts.
 */
import { beforeEach, describe, expect, test } from "bun:test";
import { createPendingStore } from "../src/answer/pending-store";
import { defaultConfig } from "../src/config/load";
import { createAnswerLog } from "../src/insights/answer-log";
import { createAuditStore } from "../src/ops/audit/store";
import { createKvStore } from "../src/plugins/kv-store";
import { KnowledgeBase } from "../src/kb/engine";
import { createBatchRuns } from "../src/kb/tuning/batch-runs";
import { createSettings } from "../src/settings/settings";
import { openDatabase } from "../src/storage/database";
import type { Sql } from "../src/storage/sql";
import { backends, useBackend, type Backend } from "./store-contract-backends";

function storeContract(backend: Backend) {
  const opened = useBackend(backend);
  let a: Sql;
  let b: Sql;
  beforeEach(() => {
    ({ a, b } = opened());
  });

  describe("settings", () => {
    test("an override written on one node is read by another; reset removes it; an invalid value writes nothing", async () => {
      const one = await createSettings({ sql: a, config: defaultConfig(), apply: () => {} });
      await one.set({ "kb.direct": 0.91, "kb.suggest": 0.4 }, "admin");
      const two = await createSettings({ sql: b, config: defaultConfig(), apply: () => {} });
      expect(two.effective.kb.direct).toBe(0.91);
      expect(two.source("kb.direct")).toBe("settings");
      expect(two.override("kb.suggest")).toMatchObject({ value: 0.4, updatedBy: "admin" });
      expect(typeof two.override("kb.suggest")!.updatedAt).toBe("number");
      const err = await two.set({ "kb.direct": "high" }, "admin").catch((e) => e);
      expect(err.code).toBe("invalid_setting");
      await one.reload();
      expect(one.effective.kb.direct).toBe(0.91);
      await one.reset(["kb.direct", "kb.suggest"]);
      await two.reload();
      expect(two.source("kb.direct")).toBe("config");
      expect(two.effective.kb.direct).toBe(defaultConfig().kb.direct);
      one.close();
      two.close();
    });
  });

  describe("audit log", () => {
    test("records from two nodes at once get distinct increasing ids; filters, paging and detail JSON", async () => {
      const audit = [createAuditStore(a), createAuditStore(b)];
      const ids = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          audit[i % 2]!.record({ actor: i % 3 ? "alice" : "cli:root", action: i % 2 ? "user.add" : "kb.thresholds.update", target: `t${i}`, detail: i === 4 ? { keys: ["kb.direct"], n: 1 } : null, at: 1_796_000_000_000 + i }),
        ),
      );
      expect(new Set(ids).size).toBe(30);
      ids.forEach((id) => expect(Number.isInteger(id)).toBe(true));
      const page1 = await audit[0]!.list({ limit: 12 });
      expect(page1.entries).toHaveLength(12);
      expect(page1.entries.map((e) => e.id)).toEqual([...page1.entries.map((e) => e.id)].sort((x, y) => y - x));
      let seen = page1.entries.length;
      let before = page1.next_before_id;
      while (before !== null) {
        const p = await audit[1]!.list({ limit: 12, beforeId: before });
        seen += p.entries.length;
        before = p.next_before_id;
      }
      expect(seen).toBe(30);
      const adds = await audit[1]!.list({ action: "user.add", actor: "alice", limit: 100 });
      expect(adds.entries.every((e) => e.action === "user.add" && e.actor === "alice")).toBe(true);
      expect(adds.entries.length).toBe(Array.from({ length: 30 }, (_, i) => i).filter((i) => i % 2 && i % 3).length);
      const windowed = await audit[0]!.list({ since: 1_796_000_000_010, until: 1_796_000_000_015, limit: 100 });
      expect(windowed.entries.map((e) => e.target).sort()).toEqual(["t10", "t11", "t12", "t13", "t14"]);
      const four = (await audit[0]!.list({ target: "t4" })).entries[0]!;
      expect(four.detail).toEqual({ keys: ["kb.direct"], n: 1 });
      expect(four.at).toBe(new Date(1_796_000_000_004).toISOString());
    });

    test("rows are never edited", async () => {
      const err = await a.run("UPDATE audit_log SET actor = 'mallory'").catch((e) => e);
      expect(err).toBeInstanceOf(Error);
      expect(String(err.message)).toContain("audit log rows are never edited");
    });
  });

  describe("off-hours questions", () => {
    test("add, list, counts; two runners claiming every question at once: each question goes to exactly one", async () => {
      const one = createPendingStore(a);
      const two = createPendingStore(b);
      const qs = [];
      for (let i = 0; i < 20; i++) qs.push(await (i % 2 ? one : two).add({ conversationId: `c${i}`, question: `问题 ${i}?`, lang: i % 2 ? "en" : "zh", now: 1000 + i }));
      expect(await one.countPending()).toBe(20);
      expect(await two.lastPendingId()).toBe(qs[19]!.id);
      expect((await one.list({ afterId: qs[9]!.id, limit: 5 })).map((q) => q.question)).toEqual(["问题 10?", "问题 11?", "问题 12?", "问题 13?", "问题 14?"]);
      const claims = await Promise.all(qs.flatMap((q) => [one.claim(q.id, "node-1", 2000, 0), two.claim(q.id, "node-2", 2000, 0)]));
      for (let i = 0; i < qs.length; i++) {
        const won = [claims[2 * i], claims[2 * i + 1]].filter((c) => c !== null);
        expect(won).toHaveLength(1);
      }
      // The winner resolves; the loser's resolve under its name changes nothing.
      for (let i = 0; i < qs.length; i++) {
        const winner = claims[2 * i] ? "node-1" : "node-2";
        const loser = winner === "node-1" ? "node-2" : "node-1";
        expect(await one.resolve(qs[i]!.id, "answered", { now: 3000, answer: "a", by: loser })).toBe(false);
        expect(await two.resolve(qs[i]!.id, "answered", { now: 3000, answer: "a", by: winner })).toBe(true);
      }
      expect(await one.countPending()).toBe(0);
      expect(await one.lastPendingId()).toBe(0);
      expect(await one.purgeResolved(3001)).toBe(20);
    });

    test("a stale claim is taken over; the old runner cannot resolve it any more; release gives it back", async () => {
      const one = createPendingStore(a);
      const two = createPendingStore(b);
      const q = await one.add({ conversationId: "c", question: "q", lang: "en", now: 1 });
      expect(await one.claim(q.id, "node-1", 100, 0)).toMatchObject({ id: q.id, status: "pending" });
      expect(await two.claim(q.id, "node-2", 150, 90)).toBeNull(); // claimed at 100, not older than 90
      expect(await two.claim(q.id, "node-2", 200, 101)).toMatchObject({ id: q.id });
      expect(await one.resolve(q.id, "answered", { now: 210, answer: "late", by: "node-1" })).toBe(false);
      await two.release(q.id, "node-2");
      expect(await one.claim(q.id, "node-1", 220, 0)).toMatchObject({ id: q.id });
      expect(await one.resolve(q.id, "failed", { now: 230, error: "no answer", by: "node-1" })).toBe(true);
      expect((await two.list({ status: "failed" })).find((x) => x.id === q.id)).toMatchObject({ error: "no answer", resolvedAt: 230 });
      expect(await two.resolve(q.id, "answered", { now: 240 })).toBe(false);
    });
  });

  describe("answer log", () => {
    test("record, byIds and resolve across nodes", async () => {
      const one = createAnswerLog(a);
      const two = createAnswerLog(b);
      await one.record({ source: "api", conversationId: null, visitorSeq: null, replySeq: null, question: "运费多少？", path: "direct", entryId: "e1", confidence: 0.93, latencyMs: 12 }, 1_796_000_000_000);
      await two.record({ source: "api", conversationId: null, visitorSeq: null, replySeq: null, question: "refund?", path: "fallback", confidence: 0.1, latencyMs: 40 }, 1_796_000_000_001);
      expect(one.failures + two.failures).toBe(0);
      const ids = (await a.all<{ id: number }>("SELECT id FROM insights_answers ORDER BY id")).map((r) => r.id);
      expect(ids).toHaveLength(2);
      const rows = await two.byIds(ids);
      expect(rows).toHaveLength(2);
      expect(rows.map((r) => r.question).sort()).toEqual(["refund?", "运费多少？"]);
      expect(rows[0]).toMatchObject({ source: "api", conversation_id: null, path: "direct", entry_id: "e1", confidence: 0.93, latency_ms: 12, resolved: null, created_at: 1_796_000_000_000 });
      expect(await one.resolve([ids[1]!, ids[1]!], "dismissed")).toBe(1);
      expect((await two.byIds([ids[1]!]))[0]!.resolved).toBe("dismissed");
    });
  });

  describe("plugin kv", () => {
    test("JSON values, prefix listing in code point order, expiry, deletes", async () => {
      let now = 1_000_000;
      const kv = createKvStore(a, () => now);
      const other = createKvStore(b, () => now);
      for (const k of ["a:2", "a:😀", "a:10", "b:1", "a:中", "a:1", "a:é"]) await kv.set("p", k, { k, n: [1, 2] }, null);
      expect((await other.list("p", "a:", 100)).map((r) => r.key)).toEqual(["a:1", "a:10", "a:2", "a:é", "a:中", "a:😀"]);
      expect(await other.get("p", "a:中")).toEqual({ k: "a:中", n: [1, 2] });
      expect(await other.get("q", "a:中")).toBeNull();
      await other.set("p", "tmp", "x", 10);
      expect(await kv.get("p", "tmp")).toBe("x");
      now += 10_001;
      expect(await kv.get("p", "tmp")).toBeNull();
      expect(await kv.delete("p", "b:1")).toBe(true);
      expect(await other.delete("p", "b:1")).toBe(false);
      expect((await kv.list("p", "", 3)).map((r) => r.key)).toEqual(["a:1", "a:10", "a:2"]);
    });

    test("the same key written from two nodes at once: no error, one of the values wins", async () => {
      const one = createKvStore(a);
      const two = createKvStore(b);
      await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? one : two).set("race", "k", i, null)));
      const v = (await one.get("race", "k")) as number;
      expect(v >= 0 && v < 40).toBe(true);
      expect(await a.get("SELECT count(*) AS n FROM plugin_kv WHERE plugin = 'race'")).toEqual({ n: 1 });
    });
  });

  describe("saved batch runs", () => {
    test("a run saved on one node is listed, read, compared and deleted on another", async () => {
      // The knowledge base is node-local (its own SQLite); the runs are shared.
      const local = await openDatabase({ dir: ":memory:" });
      try {
        const kb = await KnowledgeBase.open(local);
        await kb.upsert([
          { id: "ship", question: "运费多少", answer: "满99包邮", alts: ["邮费怎么算"] },
          { id: "refund", question: "how do I get a refund", answer: "within 7 days" },
        ]);
        const one = createBatchRuns(a, kb, { now: () => 1_796_000_000_000 });
        const two = createBatchRuns(b, kb);
        const cases = [
          { question: "运费多少", expected: "ship" },
          { question: "refund please", expected: "refund" },
          { question: "天气怎么样", expected: null },
        ];
        const first = await one.run({ name: "baseline", cases, llm: false, by: "admin" });
        const second = await two.run({ cases, llm: true, by: null });
        expect(second.id).toBeGreaterThan(first.id);
        expect((await two.list()).map((r) => r.id)).toEqual([second.id, first.id]);
        const read = await two.get(first.id);
        expect(read).toMatchObject({ name: "baseline", cases: 3, created_by: "admin", kb_version: kb.version() });
        expect(read.outcomes).toHaveLength(3);
        expect(read.thresholds).toEqual({ ...kb.thresholds });
        expect(read.created_at).toBe(new Date(1_796_000_000_000).toISOString());
        expect(read.llm).toBe(false);
        expect(read.figures.n).toBe(3);
        expect((await one.latest())!.id).toBe(second.id);
        const cmp = await one.compare(first.id, second.id);
        expect(cmp).toBeTruthy();
        await one.delete(second.id);
        expect((await two.list()).map((r) => r.id)).toEqual([first.id]);
        expect(await two.delete(second.id).catch((e) => e.status)).toBe(404);
      } finally {
        local.close();
      }
    }, 30_000);
  });
}

for (const backend of backends) {
  describe.skipIf(backend.skip)(`store contract — ${backend.name}`, () => storeContract(backend));
}
