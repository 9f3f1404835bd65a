import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureIncrementalVacuum, autoVacuumMode, runRetention } from "../src/ops/retention";
import { DB_FILE, openDatabase } from "../src/storage/database";
import { createSqliteSql } from "../src/storage/sqlite-driver";
import { eventually } from "./helpers/eventually";
import { startTestServer } from "./helpers/server";
import { visitor } from "./helpers/ws-client";

const root = mkdtempSync(join(tmpdir(), "kefu-retention-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const freshDb = () => openDatabase({ dir: join(root, `db${++dirs}`) });

const DAY = 86_400_000;
const NOW = Date.UTC(2030, 0, 15, 12);
const ago = (days: number) => NOW - days * DAY;
const cfg = { messages_days: 30, tickets_days: 90, visitors_days: 1, audit_days: 365 };
const noPause = async () => {};

function seedVisitor(db: Database, id: string, lastSeenDaysAgo: number, extra: { email?: string; verified?: boolean } = {}) {
  db.run("INSERT INTO chat_visitors (id, token_hash, lang, created_at, last_seen_at, email, external_id, verified) VALUES (?, ?, 'en', ?, ?, ?, ?, ?)", [
    id,
    `hash-${id}`,
    ago(400),
    ago(lastSeenDaysAgo),
    extra.email ?? null,
    extra.verified ? `user-${id}` : null,
    extra.verified ? 1 : 0,
  ]);
  db.run("INSERT INTO chat_visitor_tokens (token_hash, visitor_id, created_at) VALUES (?, ?, ?)", [`hash-${id}`, id, ago(400)]);
}

/** A conversation whose last activity was `days` ago; a ticket has a state row (it was queued for a human). */
function seedConv(db: Database, id: string, visitorId: string, state: string, days: number, opts: { ticket?: boolean; texts?: number; textBytes?: number } = {}) {
  const at = ago(days);
  db.run("INSERT INTO chat_conversations (id, visitor_id, state, lang, last_seq, created_at, updated_at) VALUES (?, ?, ?, 'en', 0, ?, ?)", [id, visitorId, state, at - DAY, at]);
  let seq = 0;
  const text = "x".repeat(opts.textBytes ?? 20);
  for (let i = 0; i < (opts.texts ?? 2); i++) {
    db.run("INSERT INTO chat_messages (conversation_id, seq, kind, sender, text, created_at) VALUES (?, ?, 'text', ?, ?, ?)", [id, ++seq, i % 2 ? "bot" : "visitor", text, at]);
  }
  if (opts.ticket) db.run("INSERT INTO chat_messages (conversation_id, seq, kind, sender, text, meta, created_at) VALUES (?, ?, 'state', 'system', 'queued', '{\"state\":\"queued\"}', ?)", [id, ++seq, at]);
  db.run("UPDATE chat_conversations SET last_seq = ? WHERE id = ?", [seq, id]);
}

const ids = (db: Database, sql: string) => db.query<{ id: string }, []>(sql).all().map((r) => r.id).sort();

describe("retention", () => {
  test("with a fake clock it deletes exactly what is older than the settings, and nothing else", async () => {
    const db = await freshDb();
    seedVisitor(db, "v_anon_old", 2); // anonymous, no conversation, seen 2 days ago: deleted
    seedVisitor(db, "v_anon_new", 0.5); // seen 12 hours ago: kept
    seedVisitor(db, "v_anon_edge", 1); // exactly visitors_days: kept (only older goes)
    seedVisitor(db, "v_mail_2d", 2, { email: "a@example.com" }); // left an e-mail: follows messages_days, kept
    seedVisitor(db, "v_mail_40d", 40, { email: "b@example.com" }); // deleted
    seedVisitor(db, "v_verified_40d", 40, { verified: true }); // deleted
    seedVisitor(db, "v_chats", 0); // keeps its recent conversations
    seedVisitor(db, "v_gone", 40); // its only conversation is old: both go in one run
    seedConv(db, "c_bot_31", "v_chats", "bot", 31); // bot-only, older than messages_days: deleted
    seedConv(db, "c_bot_29", "v_chats", "bot", 29); // kept
    seedConv(db, "c_bot_30", "v_chats", "closed", 30); // exactly 30 days: kept
    seedConv(db, "c_ticket_31", "v_chats", "closed", 31, { ticket: true }); // ticket: tickets_days (90) applies, kept
    seedConv(db, "c_ticket_91", "v_chats", "closed", 91, { ticket: true }); // deleted, with its note
    seedConv(db, "c_queued_200", "v_chats", "queued", 200, { ticket: true }); // open ticket: never deleted
    seedConv(db, "c_agent_200", "v_chats", "agent", 200, { ticket: true }); // open: never deleted
    seedConv(db, "c_pending_31", "v_chats", "bot", 31); // deleted with its off-hours question
    seedConv(db, "c_gone", "v_gone", "bot", 40);
    db.run("INSERT INTO chat_notes (conversation_id, agent_id, client_id, text, created_at) VALUES ('c_ticket_91', 1, 'n1', 'old note', ?), ('c_ticket_31', 1, 'n2', 'kept note', ?)", [ago(91), ago(31)]);
    db.run("INSERT INTO answer_pending (conversation_id, question, lang, created_at) VALUES ('c_pending_31', 'old question', 'en', ?), ('c_bot_29', 'recent question', 'en', ?)", [ago(31), ago(29)]);
    db.run("INSERT INTO users (id, name, role, password_hash, created_at) VALUES (1, 'lin', 'agent', 'x', 0)");
    db.run("INSERT INTO auth_tokens (token_hash, user_id, created_at, expires_at, last_used_at) VALUES ('t_expired', 1, 0, ?, 0), ('t_valid', 1, 0, ?, 0)", [NOW - 1, NOW + DAY]);
    db.run("INSERT INTO audit_log (at, actor, action) VALUES (?, 'old', 'auth.login'), (?, 'edge', 'auth.login'), (?, 'new', 'auth.login')", [ago(366), ago(365), ago(10)]);
    const otherMessages = db.query<{ n: number }, []>("SELECT count(*) AS n FROM chat_messages WHERE conversation_id IN ('c_bot_29', 'c_bot_30', 'c_ticket_31', 'c_queued_200', 'c_agent_200')").get()!.n;

    const report = await runRetention(createSqliteSql(db), cfg, { now: () => NOW, pause: noPause, batchRows: 3 });

    expect(ids(db, "SELECT id FROM chat_conversations")).toEqual(["c_agent_200", "c_bot_29", "c_bot_30", "c_queued_200", "c_ticket_31"]);
    expect(ids(db, "SELECT id FROM chat_visitors")).toEqual(["v_anon_edge", "v_anon_new", "v_chats", "v_mail_2d"]);
    expect(ids(db, "SELECT visitor_id AS id FROM chat_visitor_tokens")).toEqual(["v_anon_edge", "v_anon_new", "v_chats", "v_mail_2d"]);
    expect(db.query("SELECT count(*) AS n FROM chat_messages").get()).toEqual({ n: otherMessages });
    expect(db.query("SELECT count(*) AS n FROM chat_messages WHERE conversation_id NOT IN (SELECT id FROM chat_conversations)").get()).toEqual({ n: 0 });
    expect(db.query("SELECT text FROM chat_notes").all()).toEqual([{ text: "kept note" }]);
    expect(db.query("SELECT question FROM answer_pending").all()).toEqual([{ question: "recent question" }]);
    expect(ids(db, "SELECT token_hash AS id FROM auth_tokens")).toEqual(["t_valid"]);
    expect(ids(db, "SELECT actor AS id FROM audit_log")).toEqual(["edge", "new"]);
    expect(report).toMatchObject({ conversations: 3, tickets: 1, visitors: 4, auth_tokens: 1, audit_rows: 1 });

    // A second run finds nothing more: it deleted only what was due.
    expect(await runRetention(createSqliteSql(db), cfg, { now: () => NOW, pause: noPause })).toMatchObject({ conversations: 0, tickets: 0, messages: 0, visitors: 0, auth_tokens: 0, audit_rows: 0 });
    // 0 keeps for ever.
    const keepAll = await runRetention(createSqliteSql(db), { messages_days: 0, tickets_days: 0, visitors_days: 0, audit_days: 0 }, { now: () => NOW + 10_000 * DAY, pause: noPause });
    expect(keepAll).toMatchObject({ conversations: 0, tickets: 0, visitors: 0, audit_rows: 0 });
    expect(ids(db, "SELECT id FROM chat_conversations")).toHaveLength(5);
    db.close();
  });

  test("the file shrinks after the incremental vacuum; the event loop is never held for long", async () => {
    const db = await freshDb();
    expect(autoVacuumMode(db)).toBe(2); // new databases are created with auto_vacuum = INCREMENTAL
    seedVisitor(db, "v1", 0);
    db.transaction(() => {
      for (let i = 0; i < 400; i++) seedConv(db, `c_old_${i}`, "v1", "closed", 100, { texts: 20, textBytes: 2000 });
      for (let i = 0; i < 20; i++) seedConv(db, `c_new_${i}`, "v1", "closed", 1, { texts: 20, textBytes: 2000 });
    })();
    db.run("PRAGMA wal_checkpoint(TRUNCATE)");
    const file = join(db.filename);
    const before = statSync(file).size;
    expect(before).toBeGreaterThan(15 * 1024 * 1024);

    let longest = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const t = performance.now();
      longest = Math.max(longest, t - last);
      last = t;
    }, 1);
    const report = await runRetention(createSqliteSql(db), cfg, { now: () => NOW, batchRows: 50 });
    clearInterval(ticker);
    db.run("PRAGMA wal_checkpoint(TRUNCATE)");
    const after = statSync(file).size;

    expect(report.conversations).toBe(400);
    expect(report.pages_freed).toBeGreaterThan(0);
    expect(after).toBeLessThan(before / 5);
    expect(db.query("SELECT count(*) AS n FROM chat_messages").get()).toEqual({ n: 20 * 20 });
    expect(db.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
    // Batches of 50 conversations (1,000 messages) at a time: no single stretch without yielding is long.
    expect(longest).toBeLessThan(250);
    db.close();
  }, 60_000);

  test("a database created without auto_vacuum is switched to incremental vacuum once (a full VACUUM at start-up)", async () => {
    const dir = join(root, "legacy");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(dir, { recursive: true });
    const legacy = new Database(join(dir, DB_FILE), { create: true });
    legacy.run("PRAGMA journal_mode = WAL");
    legacy.run("CREATE TABLE before_kefu_set_the_mode (x)");
    legacy.close();
    const db = await openDatabase({ dir });
    expect(autoVacuumMode(db)).toBe(0);
    expect(ensureIncrementalVacuum(db)).toBe(true);
    expect(autoVacuumMode(db)).toBe(2);
    expect(ensureIncrementalVacuum(db)).toBe(false);
    expect(db.query("SELECT count(*) AS n FROM schema_migrations").get()).not.toEqual({ n: 0 });
    db.close();
  });

  test("the server runs the job on its own (first run delay and clock injected)", async () => {
    const s = await startTestServer({ log: { level: "warn" } }, undefined, { ops: { firstRetentionMs: 300, now: () => Date.now() + 2 * DAY } });
    try {
      const { c, welcome } = await visitor(s.wsUrl); // a hello stores a visitor and nothing else
      await c.close();
      const has = () => s.kefu.ctx.db.query("SELECT 1 FROM chat_visitors WHERE id = ?").get(welcome.visitor_id) !== null;
      expect(has()).toBe(true);
      expect(await eventually(() => !has(), 10_000)).toBe(true);
      expect(s.logs.some((l) => l.includes('"msg":"retention run"'))).toBe(false); // info is below the test's warn level
    } finally {
      await s.stop();
    }
  }, 30_000);
});
