/**
 * `kefu migrate-storage --to postgres://…`: a populated SQLite data dir (accounts, visitors, conversations with
 * messages, notes, canned replies, settings, audit, answer log, off-hours questions, plugin data, batch runs,
 * knowledge-base entries and documents) lands in a fresh PostgreSQL database with every row, the same ids and
 * the same seqs; a non-empty target is refused without --force; new rows continue after the copied ids.
 * Skips when the test PostgreSQL server cannot be reached.
 */
import type { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { migrateStorageCommand } from "../src/cli/commands/migrate-storage";
import { createKbSync } from "../src/cluster/kb-sync";
import { createInProcessBus } from "../src/events/bus";
import { KnowledgeBase } from "../src/kb/engine";
import { createLogger } from "../src/log/logger";
import { KefuError } from "../src/errors/kefu-error";
import { openDatabase } from "../src/storage/database";
import { createPostgresSql, type PostgresSql } from "../src/storage/postgres/driver";
import { SHARED_TABLES } from "../src/storage/postgres/migrations";
import { createTestDatabase, skipUnless, type TestDatabase } from "./helpers/services";

const skip = await skipUnless({ pg: true }, "migrate-storage tests");

const T0 = 1_796_000_000_000;

/** Fills every shared table (and the knowledge base) with rows that exercise the types: big ms, nulls, JSON, CJK. */
function populate(db: Database) {
  const run = (sql: string, ...p: (string | number | null)[]) => db.query(sql).run(...p);
  db.transaction(() => {
    run("INSERT INTO users (id, name, role, password_hash, display_name, max_concurrent, disabled, created_at) VALUES (1, 'Admin', 'admin', 'h1', NULL, 5, 0, ?)", T0);
    run("INSERT INTO users (id, name, role, password_hash, display_name, max_concurrent, disabled, created_at) VALUES (7, 'agent-小王', 'agent', 'h2', '小王', 3, 0, ?)", T0 + 1);
    run("INSERT INTO users (id, name, role, password_hash, display_name, max_concurrent, disabled, created_at) VALUES (9, 'gone', 'agent', 'h3', NULL, 5, 1, ?)", T0 + 2);
    run("INSERT INTO auth_tokens (token_hash, user_id, created_at, expires_at, last_used_at) VALUES ('t1', 7, ?, ?, ?)", T0, T0 + 86_400_000, T0 + 5);
    run("INSERT INTO ask_tokens (id, label, token_hash, created_at, created_by, last_used_at) VALUES (3, 'shop', 'ah', ?, 'Admin', NULL)", T0);
    run("INSERT INTO chat_agent_status (user_id, status, updated_at) VALUES (7, 'away', ?)", T0);
    for (let v = 0; v < 6; v++) {
      const vid = `v${v}`;
      run(
        "INSERT INTO chat_visitors (id, token_hash, lang, created_at, last_seen_at, name, email, external_id, verified) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        vid, `th${v}`, v % 2 ? "en" : "zh", T0 + v, T0 + 1000 + v, v === 1 ? "Ann" : null, v === 1 ? "ann@example.com" : null, v === 1 ? "shop-1" : null, v === 1 ? 1 : 0,
      );
      run("INSERT INTO chat_visitor_tokens (token_hash, visitor_id, created_at) VALUES (?, ?, ?)", `th${v}`, vid, T0 + v);
      for (let c = 0; c < 3; c++) {
        const cid = `c${v}-${c}`;
        const n = 5 + ((v * 3 + c) % 11);
        run(
          `INSERT INTO chat_conversations (id, visitor_id, state, agent_id, lang, last_seq, bot_misses, visitor_read_seq, created_at, updated_at, queued_at, closed_at,
             queued_reason, context, tags, rating_score, rating_comment, rated_at, last_visitor_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          cid, vid, c === 0 ? "closed" : c === 1 ? "agent" : "queued", c === 1 ? 7 : null, "zh", n, c, n - 1, T0 + c, T0 + 9000 + c, c === 2 ? T0 + 50 : null, c === 0 ? T0 + 99 : null,
          c === 2 ? "asked for a human" : null, c === 0 ? '{"page":"/cart","title":"购物车"}' : null, c === 1 ? '["vip","退款"]' : "[]", c === 0 ? 5 : null, c === 0 ? "很好" : null, c === 0 ? T0 + 100 : null, n - 1,
        );
        for (let s = 1; s <= n; s++) {
          const sender = s % 3 === 1 ? "visitor" : s % 3 === 2 ? "bot" : c === 1 ? "agent" : "system";
          run(
            "INSERT INTO chat_messages (conversation_id, seq, kind, sender, text, client_id, agent_id, meta, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            cid, s, sender === "system" ? "state" : "text", sender, `消息 ${s} of ${cid} — 'quoted' "and" ?`, sender === "visitor" ? `cl-${cid}-${s}` : null,
            sender === "agent" ? 7 : null, sender === "bot" ? `{"choices":[{"id":"e${s}","q":"问题"}],"confidence":0.${s}}` : null, T0 + s * 1000,
          );
        }
        if (c === 1) run("INSERT INTO chat_notes (conversation_id, agent_id, client_id, text, created_at) VALUES (?, 7, ?, ?, ?)", cid, `n-${cid}`, `note on ${cid}`, T0);
        if (c === 0) {
          run(
            "INSERT INTO insights_answers (source, conversation_id, visitor_seq, reply_seq, question, path, step, entry_id, confidence, latency_ms, resolved, created_at) VALUES ('chat', ?, 1, 2, ?, 'direct', NULL, 'e1', 0.91, 12, NULL, ?)",
            cid, `问 ${cid}`, T0 + 5,
          );
          run("INSERT INTO answer_pending (conversation_id, question, lang, status, created_at, resolved_at, answer, error) VALUES (?, ?, 'zh', 'answered', ?, ?, 'ok', NULL)", cid, `q ${cid}`, T0, T0 + 10);
        }
      }
    }
    run("INSERT INTO insights_answers (source, conversation_id, question, path, confidence, latency_ms, resolved, created_at) VALUES ('api', NULL, 'api q', 'none', 0, 3, 'dismissed', ?)", T0);
    run("INSERT INTO answer_pending (conversation_id, question, lang, status, created_at) VALUES ('c1-2', 'still waiting', 'en', 'pending', ?)", T0);
    run("INSERT INTO canned_replies (owner_id, shortcut, title, text, shared, created_at, updated_at) VALUES (7, '/hi', NULL, '您好！', 1, ?, ?)", T0, T0);
    run("INSERT INTO canned_replies (owner_id, shortcut, title, text, shared, created_at, updated_at) VALUES (1, '/bye', 'Bye', 'bye', 0, ?, ?)", T0, T0);
    for (let i = 0; i < 25; i++) run("INSERT INTO audit_log (at, actor, actor_id, action, target, ip, detail) VALUES (?, 'Admin', 1, ?, ?, '127.0.0.1', ?)", T0 + i, `act.${i % 4}`, `t${i}`, i % 2 ? `{"i":${i}}` : null);
    run("INSERT INTO settings (key, value, updated_at, updated_by) VALUES ('kb.direct', '0.8', ?, 'Admin')", T0);
    run("INSERT INTO settings (key, value, updated_at, updated_by) VALUES ('chat.greeting', '\"欢迎\"', ?, NULL)", T0);
    run("INSERT INTO plugin_kv (plugin, key, value, expires_at, updated_at) VALUES ('invoice', 'req:1', '{\"n\":1}', NULL, ?)", T0);
    run("INSERT INTO plugin_kv (plugin, key, value, expires_at, updated_at) VALUES ('invoice', 'req:2', '{\"n\":2}', ?, ?)", T0 + 9_999_999, T0);
    run(
      "INSERT INTO kb_batch_runs (name, created_at, created_by, kb_version, direct, suggest, llm, cases, figures, outcomes) VALUES ('run 1', ?, 'Admin', 4, 0.82, 0.55, 0, 3, '{\"right\":2}', '[{\"q\":\"a\"}]')",
      T0,
    );
    for (let i = 1; i <= 4; i++) {
      run(
        "INSERT INTO kb_entries (id, question, alts, answer, tags, enabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        `e${i}`, `问题 ${i}`, JSON.stringify([`说法 ${i}a`, `phrasing ${i}b`]), `答案 ${i}`, JSON.stringify(i % 2 ? ["shipping"] : []), i === 4 ? 0 : 1, T0 + i, T0 + 10 * i,
      );
    }
    const doc = db.query<{ rowid: number }, []>("INSERT INTO kb_documents (id, title, source, text, created_at, updated_at) VALUES ('d1', 'Returns', 'returns.md', 'part one. part two.', 1, 2) RETURNING rowid").get()!;
    run("INSERT INTO kb_chunks (doc_rowid, ord, text) VALUES (?, 0, 'part one.')", doc.rowid);
    run("INSERT INTO kb_chunks (doc_rowid, ord, text) VALUES (?, 1, 'part two.')", doc.rowid);
  })();
}

const sortKeys = (r: Record<string, unknown>) => Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : 1)));

describe.skipIf(skip)("kefu migrate-storage --to postgres://", () => {
  let dir: string;
  let db: Database;
  let target: TestDatabase;
  let pg: PostgresSql;
  const out: string[] = [];
  const origLog = console.log;

  const runCommand = async (...args: string[]) => {
    out.length = 0;
    console.log = (...a: unknown[]) => void out.push(a.join(" "));
    try {
      return await migrateStorageCommand.run(["--to", target.url, "--dir", dir, ...args]);
    } finally {
      console.log = origLog;
    }
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "kefu-migrate-"));
    db = await openDatabase({ dir });
    populate(db);
    db.close();
    target = await createTestDatabase("kefu_migrate");
  }, 60_000);
  afterAll(async () => {
    console.log = origLog;
    await pg?.close();
    await target?.drop();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  test("copies every row of every shared table with the same ids and seqs, prints the counts and verifies them", async () => {
    expect(await runCommand()).toBe(0);
    const text = out.join("\n");
    expect(text).toMatch(/chat_messages\s+\d+/);
    expect(text).toContain("counts verified");
    expect(text).not.toContain(":kefu@"); // the password is not printed

    pg = await createPostgresSql({ url: target.url, max: 2 });
    db = await openDatabase({ dir });
    for (const { name, order } of SHARED_TABLES) {
      const lite = db.query<Record<string, unknown>, []>(`SELECT * FROM ${name} ORDER BY ${order}`).all().map(sortKeys);
      const copied = (await pg.all<Record<string, unknown>>(`SELECT * FROM ${name} ORDER BY ${order}`)).map(sortKeys);
      expect({ table: name, rows: copied }).toEqual({ table: name, rows: lite });
      expect(text).toMatch(new RegExp(`${name}\\s+${lite.length}\\b`));
    }
    // Nothing left empty by accident: the fixture fills every table.
    for (const { name } of SHARED_TABLES) expect({ name, n: (await pg.get<{ n: number }>(`SELECT count(*) AS n FROM ${name}`))!.n > 0 }).toEqual({ name, n: true });
    // Every conversation's seqs: 1..last_seq without a gap.
    const gaps = await pg.all("SELECT c.id FROM chat_conversations c WHERE c.last_seq <> (SELECT count(*) FROM chat_messages m WHERE m.conversation_id = c.id) OR c.last_seq <> (SELECT max(seq) FROM chat_messages m WHERE m.conversation_id = c.id)");
    expect(gaps).toEqual([]);
    // The knowledge base is in the shared kb_sync tables at version 1, chunks with their document.
    expect(await pg.get("SELECT version FROM kb_cluster WHERE id = 1")).toEqual({ version: 1 });
    const entries = await pg.all<Record<string, unknown>>("SELECT id, question, alts, answer, tags, enabled, deleted, created_at, updated_at FROM kb_sync_entries ORDER BY id");
    expect(entries).toEqual(db.query<Record<string, unknown>, []>("SELECT id, question, alts, answer, tags, enabled, 0 AS deleted, created_at, updated_at FROM kb_entries ORDER BY id").all());
    expect(await pg.get("SELECT id, title, source, text, chunks FROM kb_sync_documents")).toEqual({ id: "d1", title: "Returns", source: "returns.md", text: "part one. part two.", chunks: '["part one.","part two."]' });
    db.close();
  }, 60_000);

  test("new rows continue after the copied ids (sequences reset); a conversation's next seq follows its last", async () => {
    const u = await pg.get<{ id: number }>("INSERT INTO users (name, role, password_hash, created_at) VALUES ('new', 'agent', 'x', 1) RETURNING id");
    expect(u!.id).toBe(10);
    const a = await pg.get<{ id: number }>("INSERT INTO audit_log (at, actor, action) VALUES (1, 'x', 'y') RETURNING id");
    expect(a!.id).toBe(26);
    const next = await pg.get<{ last_seq: number }>("UPDATE chat_conversations SET last_seq = last_seq + 1 WHERE id = 'c0-0' RETURNING last_seq");
    expect(next!.last_seq).toBe(6);
  });

  test("a target that holds data is refused without --force (nothing changed); --force replaces it", async () => {
    const before = (await pg.get<{ n: number }>("SELECT count(*) AS n FROM users"))!.n;
    const err = await runCommand().catch((e) => e);
    expect(err).toBeInstanceOf(KefuError);
    expect(err.code).toBe("storage_target_not_empty");
    expect(err.message).toContain("--force");
    expect((await pg.get<{ n: number }>("SELECT count(*) AS n FROM users"))!.n).toBe(before);
    expect(await runCommand("--force")).toBe(0);
    expect((await pg.get<{ n: number }>("SELECT count(*) AS n FROM users"))!.n).toBe(3);
    expect(await pg.get("SELECT max(id) AS m FROM audit_log")).toEqual({ m: 25 });
  }, 60_000);

  test("a fresh node on the migrated database pulls the knowledge base into its own index (kb-sync)", async () => {
    const local = await openDatabase({ dir: ":memory:" });
    try {
      const kb = await KnowledgeBase.open(local);
      const sync = createKbSync({ kb, sql: pg, bus: createInProcessBus(), log: createLogger({ level: "silent" }), nodeId: "fresh-node", pollMs: 60_000, watchMs: 60_000 });
      const started = await sync.start();
      expect(started.version).toBe(1);
      await sync.stop();
      expect(kb.get("e2")).toMatchObject({ question: "问题 2", answer: "答案 2", enabled: true });
      expect(kb.get("e4")?.enabled).toBe(false);
      expect(kb.get("e1")?.alts).toEqual(["说法 1a", "phrasing 1b"]);
      expect(local.query("SELECT text FROM kb_chunks ORDER BY ord").all()).toEqual([{ text: "part one." }, { text: "part two." }]);
    } finally {
      local.close();
    }
  }, 60_000);

  test("-c config.toml: the data dir is the config's [storage] dir", async () => {
    const cfgDir = mkdtempSync(join(tmpdir(), "kefu-migrate-cfg-"));
    try {
      writeFileSync(join(cfgDir, "kefu.toml"), `[storage]\ndir = ${JSON.stringify(dir)}\n`);
      out.length = 0;
      console.log = (...x: unknown[]) => void out.push(x.join(" "));
      try {
        expect(await migrateStorageCommand.run(["--to", target.url, "-c", join(cfgDir, "kefu.toml"), "--force"])).toBe(0);
      } finally {
        console.log = origLog;
      }
      expect(out.join("\n")).toContain(join(dir, "kefu.db"));
      expect((await pg.get<{ n: number }>("SELECT count(*) AS n FROM chat_messages"))!.n).toBeGreaterThan(0);
    } finally {
      rmSync(cfgDir, { recursive: true, force: true });
    }
  }, 60_000);

  test("the command is registered: kefu migrate-storage --help, and a missing --to is a usage error", async () => {
    const proc = Bun.spawn([process.execPath, "src/cli/main.ts", "migrate-storage", "--help"], { stdout: "pipe", stderr: "pipe" });
    const [code, stdout] = await Promise.all([proc.exited, new Response(proc.stdout).text()]);
    expect(code).toBe(0);
    expect(stdout).toContain("kefu migrate-storage --to postgres://");
    const err = await migrateStorageCommand.run(["--dir", dir]).catch((e) => e);
    expect(err.code).toBe("usage");
  }, 30_000);
});
