/**
 * Review 18 (R2): a populated single-node install and the same data copied to PostgreSQL by migrate-storage give
 * the same answers from every shared read the admin and agent consoles use — conversation search (mixed case,
 * CJK, emoji, % _ \\ and quotes in the text), filters, queue and open lists, previous conversations, offered
 * choices, the dashboard in five time zones (half-hour and 45-minute offsets included) over 1/7/30 days, the
 * unanswered groups, canned replies, the audit log, plugin kv listings, off-hours questions, users, notes — on
 * a C-collated database and, when the server has ICU, on an en-US collated one.
 */
import type { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPendingStore } from "../src/answer/pending-store";
import { createUserStore } from "../src/auth/user-store";
import { createCannedStore } from "../src/canned/store";
import { createConversationStore } from "../src/chat/conversation-store";
import { createNoteStore } from "../src/chat/note-store";
import { createVisitorStore } from "../src/chat/visitor-store";
import { createAnswerLog } from "../src/insights/answer-log";
import { dashboard } from "../src/insights/dashboard";
import { unansweredGroups } from "../src/insights/unanswered";
import { createAuditStore } from "../src/ops/audit/store";
import { createKvStore } from "../src/plugins/kv-store";
import { openDatabase } from "../src/storage/database";
import { copySqliteToPostgres } from "../src/storage/postgres/copy";
import { createPostgresSql } from "../src/storage/postgres/driver";
import { migratePostgres } from "../src/storage/postgres/migrations";
import type { Sql } from "../src/storage/sql";
import { createSqliteSql } from "../src/storage/sqlite-driver";
import { PG_URL, skipUnless } from "./helpers/services";

const pgSkip = await skipUnless({ pg: true }, "review-18 SQLite/PostgreSQL parity test");
const NOW = Date.UTC(2026, 10, 30, 23, 30);

async function populate(db: Database, lite: Sql) {
  const users = createUserStore(lite);
  const ag = await users.add({ name: "Agent", role: "agent", passwordHash: "x" });
  const ag2 = await users.add({ name: "bob", role: "agent", passwordHash: "x" });
  const visitors = createVisitorStore(lite);
  const convs = createConversationStore(lite);
  const alog = createAnswerLog(lite);
  const names = ["Ann", "ann", "Zoë", "张三", "😀 Emoji", "x_y%z\\w", "O'Brien", null];
  const ids: string[] = [];
  for (let i = 0; i < 24; i++) {
    const { visitor } = await visitors.create(i % 2 ? "en" : "zh");
    const n = names[i % names.length];
    if (n) await visitors.describe(visitor.id, { name: n, email: `${n.replace(/\W/g, "")}${i}@Example.com` });
    const conv = (await convs.create(visitor.id, "en"))!;
    ids.push(conv.id);
    const texts = ["How do I RETURN an item?", "退货怎么办", "100% off_sale \\ path", "what's 'this'?", "emoji 😀 ok", "Refund please"];
    for (let k = 0; k < 3; k++) {
      const m = await convs.appendText(conv.id, { sender: "visitor", text: texts[(i + k) % texts.length]!, clientId: `c${k}` });
      await alog.record({ source: "chat", conversationId: conv.id, visitorSeq: m.message.seq, replySeq: null, question: texts[(i + k) % texts.length]!, path: (["fallback", "direct", "llm", "choices", "human"] as const)[(i + k) % 5], confidence: 0.1 * k, latencyMs: 100 * i + k }, NOW - (i * 3 + k) * 3_600_000 * 5);
      await convs.appendText(conv.id, { sender: "bot", text: "answer", meta: k === 1 ? ({ choices: [{ id: "e1", question: "Q1" }] } as never) : undefined });
    }
    if (i % 3 === 0) await convs.setTags(conv.id, i % 2 ? ["VIP", "退款"] : ["vip"]);
    if (i % 4 === 0) await convs.rate(conv.id, visitor.id, { score: (i % 5) + 1, comment: "ok" } as never);
    if (i % 5 === 1) await convs.changeState(conv.id, "bot", "queued", null, { sender: "system", text: "queued" });
    if (i % 5 === 2) {
      await convs.changeState(conv.id, "bot", "queued", null, { sender: "system", text: "queued" });
      await convs.changeState(conv.id, "queued", "agent", ag.id, { sender: "system", text: "assigned" });
      await convs.appendText(conv.id, { sender: "agent", agentId: ag.id, text: "Hi from agent", clientId: "a1" });
    }
    await createNoteStore(lite).add(conv.id, ag.id, `n${i}`, `note ${i}`);
  }
  // spread times
  db.run(`UPDATE chat_conversations SET created_at = ${NOW} - (rowid * 7 * 3600000), updated_at = ${NOW} - (rowid * 5 * 3600000)`);
  db.run("UPDATE chat_messages SET created_at = (SELECT created_at FROM chat_conversations c WHERE c.id = conversation_id) + seq * 60000");
  const canned = createCannedStore(lite);
  for (const s of ["Hello", "apple", "Banana", "_x", "中文", "zeta", "Émile"]) await canned.add(ag.id, { shortcut: s, title: s, text: s, shared: s.length % 2 === 0 });
  const audit = createAuditStore(lite);
  for (let i = 0; i < 10; i++) await audit.record({ actor: i % 2 ? "Admin" : "admin", action: "user.create" as never, target: `u${i}`, at: NOW - i * 1000, detail: { n: i, s: "中\u2028" } });
  const kv = createKvStore(lite, () => NOW);
  for (const k of ["a", "B", "b", "a/1", "a/2", "A/1", "é", "中"]) await kv.set("p", k, { k }, null);
  const pend = createPendingStore(lite);
  for (let i = 0; i < 5; i++) await pend.add({ conversationId: ids[i]!, question: `q${i}`, lang: "en", now: NOW - i });

  return { ag, ag2, ids };
}

async function readAll(sql: Sql, { ag, ag2, ids }: { ag: { id: number }; ag2: { id: number }; ids: string[] }) {
  const c = createConversationStore(sql);
  const out: Record<string, unknown> = {};
  for (const q of ["ann", "ANN", "return", "100%", "off_", "\\", "'this'", "😀", "退", "example.com", "o'b", "_", "%"]) {
    out[`search ${q}`] = (await c.search({ q, limit: 50 })).map((s: any) => s.id);
    out[`total ${q}`] = await c.searchTotal({ q, limit: 50 });
  }
  for (const v of ["ann", "zo", "x_y", "%"]) out[`visitor ${v}`] = (await c.search({ visitor: v, limit: 50 })).map((s: any) => s.id);
  out["tag vip"] = (await c.search({ tag: "vip", limit: 50 })).map((s: any) => s.id);
  out["tag VIP"] = (await c.search({ tag: "VIP", limit: 50 })).map((s: any) => s.id);
  out["rating"] = (await c.search({ rating: 1, limit: 50 })).map((s: any) => s.id);
  out["agent"] = (await c.search({ agentId: ag.id, limit: 50 })).map((s: any) => s.id);
  out["all"] = await c.search({ limit: 100 });
  out["queued"] = await c.queued();
  out["open"] = await c.open();
  out["owned"] = await c.ownedBy(ag.id);
  out["loads"] = [...(await c.loads())];
  out["prev"] = await c.previous(ids[5]!);
  out["summary"] = await c.summary(ids[2]!);
  out["msgs"] = await c.messagesAfter(ids[2]!, 0);
  out["choices"] = await c.latestChoices(ids[3]!);
  for (const tz of ["UTC", "Asia/Shanghai", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"]) for (const days of [1, 7, 30]) out[`dash ${tz} ${days}`] = await dashboard(sql, { days, timezone: tz, now: NOW });
  out["unanswered"] = await unansweredGroups(sql, { since: 0 });
  out["canned"] = await createCannedStore(sql).visibleTo(ag.id, 50);
  out["canned2"] = await createCannedStore(sql).visibleTo(ag2.id, 50);
  out["audit"] = await createAuditStore(sql).list({ actor: "admin" });
  out["auditall"] = await createAuditStore(sql).list({ limit: 3 });
  out["kv"] = await createKvStore(sql, () => NOW).list("p", "", 50);
  out["kva"] = await createKvStore(sql, () => NOW).list("p", "a", 50);
  out["pending"] = await createPendingStore(sql).list({});
  out["users"] = await createUserStore(sql).list();
  out["notes"] = await createNoteStore(sql).list(ids[4]!);
  return out;
}

/** A database on the test server (ICU en-US collation when `icu`), dropped by the returned function. */
async function database(icu: boolean): Promise<{ url: string; drop: () => Promise<void> } | null> {
  const name = `kefu_test_parity_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`;
  const admin = new SQL({ url: PG_URL, max: 1 });
  try {
    await admin.unsafe(icu ? `CREATE DATABASE "${name}" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'` : `CREATE DATABASE "${name}"`);
  } catch (e) {
    console.warn(`review-18 parity (${icu ? "ICU en-US" : "default"} collation) skipped: ${(e as Error).message}`);
    return null;
  } finally {
    await admin.close();
  }
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const a = new SQL({ url: PG_URL, max: 1 });
      await a.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => {});
      await a.close();
    },
  };
}

describe.skipIf(pgSkip)("review 18: the same install answers the same on SQLite and, copied, on PostgreSQL", () => {
  for (const icu of [false, true]) {
    test(`every shared read (${icu ? "en-US collation" : "the server's default collation"})`, async () => {
      const target = await database(icu);
      if (!target) return;
      const dir = mkdtempSync(join(tmpdir(), "kefu-r18-parity-"));
      const db = await openDatabase({ dir });
      const lite = createSqliteSql(db);
      const pg = await createPostgresSql({ url: target.url, max: 3 });
      try {
        const made = await populate(db, lite);
        await migratePostgres(pg);
        await copySqliteToPostgres(db, pg);
        const a = await readAll(lite, made);
        const b = await readAll(pg, made);
        expect(Object.keys(a).length).toBeGreaterThan(60);
        expect(a["total return"]).toBeGreaterThan(0);
        const diffs = Object.keys(a).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
        expect(diffs.map((k) => ({ k, sqlite: a[k], pg: b[k] }))).toEqual([]);
      } finally {
        await pg.close();
        await lite.close();
        db.close();
        await target.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    }, 60_000);
  }
});
