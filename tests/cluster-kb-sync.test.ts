/**
 * Cluster mode's knowledge base (src/cluster/kb-sync.ts): two nodes, each with its own local SQLite knowledge
 * base (FTS5 + sqlite-vec index), on one shared store — real PostgreSQL when reachable (a database of its own,
 * dropped after), and a second SQLite file standing in for it (always).
 */
import { Database } from "bun:sqlite";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createKbSync, type KbSync, KB_VERSION_TOPIC } from "../src/cluster/kb-sync.ts";
import { applyKbSyncSchema } from "../src/cluster/kb-sync-schema.ts";
import { createInProcessBus, type EventBus } from "../src/events/bus.ts";
import type { KnowledgeBase } from "../src/kb/engine.ts";
import { openKb, SHOP_FAQ } from "../src/kb/test/helpers.ts";
import { createLogger } from "../src/log/logger.ts";
import { createPostgresSql } from "../src/storage/postgres/driver.ts";
import { createSqliteSql } from "../src/storage/sqlite-driver.ts";
import type { Sql } from "../src/storage/sql.ts";
import { eventually } from "./helpers/eventually.ts";

const PG_URL = process.env.KEFU_TEST_PG_URL ?? "postgres://kefu:kefu@127.0.0.1:55432/postgres";

async function pgReachable(): Promise<boolean> {
  const pool = new SQL({ url: PG_URL, max: 1, connectionTimeout: 2 });
  try {
    await pool.unsafe("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await pool.close().catch(() => {});
  }
}

const pgUp = await pgReachable();
if (!pgUp) console.warn(`cluster-kb-sync: PostgreSQL at ${PG_URL} is unreachable; the PostgreSQL runs are skipped (set KEFU_TEST_PG_URL)`);

interface Store {
  sql: Sql;
  close(): Promise<void>;
}

/** A fresh shared store with the kbsync tables. */
type StoreFactory = () => Promise<Store>;

const sqliteStore: StoreFactory = async () => {
  const dir = mkdtempSync(join(tmpdir(), "kefu-kbsync-"));
  const db = new Database(join(dir, "shared.db"), { create: true, strict: true });
  db.run("PRAGMA journal_mode = WAL");
  const sql = createSqliteSql(db);
  await applyKbSyncSchema(sql);
  return {
    sql,
    async close() {
      await sql.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

const pgStore: StoreFactory = async () => {
  const name = `kefu_kbsync_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = new SQL({ url: PG_URL, max: 1 });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  const sql = await createPostgresSql({ url: u.toString(), max: 4 });
  await applyKbSyncSchema(sql);
  return {
    sql,
    async close() {
      await sql.close();
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.close();
    },
  };
};

const log = createLogger({ level: "silent" });

/** A bus that can stop delivering (a Redis outage). */
function flakyBus(inner: EventBus): EventBus & { down: boolean; published: string[] } {
  const b = {
    down: false,
    published: [] as string[],
    publish<T>(topic: string, event: T) {
      b.published.push(topic);
      if (!b.down) inner.publish(topic, event);
    },
    subscribe: inner.subscribe.bind(inner),
    subscribers: inner.subscribers.bind(inner),
  };
  return b;
}

interface Node {
  kb: KnowledgeBase;
  sync: KbSync;
}

for (const [backend, factory, skip] of [
  ["sqlite", sqliteStore, false],
  ["postgres", pgStore, !pgUp],
] as const) {
  describe.skipIf(skip)(`kb sync across nodes (${backend} shared store)`, () => {
    let store: Store;
    const nodes: Node[] = [];
    beforeAll(async () => {
      if (backend === "postgres") store = await factory();
    });
    afterAll(async () => {
      if (backend === "postgres") await store?.close();
    });
    const fresh = async () => {
      if (backend === "sqlite") {
        await store?.close();
        store = await factory();
      } else {
        for (const t of ["kb_sync_entries", "kb_sync_documents"]) await store.sql.run(`DELETE FROM ${t}`);
        await store.sql.run("UPDATE kb_cluster SET version = 0, cluster_id = '' WHERE id = 1");
      }
    };
    afterEach(async () => {
      for (const n of nodes.splice(0)) {
        await n.sync.stop();
        n.kb.close();
      }
    });
    if (backend === "sqlite") afterAll(async () => store?.close());

    const node = async (name: string, bus: EventBus, o: { pollMs?: number; kb?: KnowledgeBase } = {}): Promise<Node> => {
      const kb = o.kb ?? (await openKb());
      const sync = createKbSync({ kb, sql: store.sql, bus, log, pollMs: o.pollMs ?? 60_000, watchMs: 20, nodeId: name });
      const n = { kb, sync };
      nodes.push(n);
      return n;
    };
    const top = async (kb: KnowledgeBase, q: string) => (await kb.search(q)).matches[0]?.id;
    /** Lets the cycles that starting set off (a start moves the local version) run out. */
    const settle = async (...ns: Node[]) => {
      for (let i = 0; i < 3; i++) {
        await Bun.sleep(60);
        await Promise.all(ns.map((n) => n.sync.syncNow()));
      }
    };
    /** A fresh store; node A with the shop FAQ (and `prepare`) started first, then B. */
    const twoNodes = async (prepare?: (kb: KnowledgeBase) => Promise<unknown>, busB?: EventBus, pollB?: number) => {
      await fresh();
      const bus = createInProcessBus();
      const busA = flakyBus(bus);
      const a = await node("a", busA);
      const b = await node("b", busB ?? bus, { pollMs: pollB });
      await a.kb.upsert(SHOP_FAQ);
      await prepare?.(a.kb);
      const started = [await a.sync.start(), await b.sync.start()];
      await settle(a, b);
      return { bus, busA, a, b, started };
    };

    test(
      "an entry added on A is answered by B's search after the bus event (no poll)",
      async () => {
        const { a, b, started } = await twoNodes();
        expect(started.map((s) => s.mode)).toEqual(["pushed", "replaced"]);
        expect(await top(b.kb, "怎么退货")).toBe("returns");
        expect(await top(b.kb, "gift card balance")).not.toBe("giftcard");

        await a.kb.upsert([{ id: "giftcard", question: "How do I check my gift card balance?", answer: "Account → Gift cards.", alts: ["gift card balance"] }]);
        // The poll is a minute away: only A's push and its kb:version event can bring it over.
        expect(await eventually(async () => (await top(b.kb, "gift card balance")) === "giftcard", 4000)).toBe(true);
        expect(b.kb.get("giftcard")!.answer).toBe("Account → Gift cards.");
        // Applying it did not make B write it back (no echo).
        const v = b.sync.seen;
        await Bun.sleep(100);
        expect(b.sync.seen).toBe(v);
        expect((await b.sync.syncNow()).pushed).toBe(0);
      },
      15_000,
    );

    test(
      "with the bus event dropped, B catches up on the poll",
      async () => {
        const { a, b, busA } = await twoNodes(undefined, undefined, 150);
        busA.down = true;
        await a.kb.upsert([{ id: "giftcard", question: "How do I check my gift card balance?", answer: "Account → Gift cards.", alts: ["gift card balance"] }]);
        expect(await eventually(() => busA.published.includes(KB_VERSION_TOPIC), 2000)).toBe(true);
        expect(await eventually(async () => (await top(b.kb, "gift card balance")) === "giftcard", 4000)).toBe(true);
      },
      15_000,
    );

    test(
      "concurrent edits of different entries on both nodes both survive; the same entry converges to the last write",
      async () => {
        const { a, b } = await twoNodes();
        // Both nodes write at once, before either hears of the other.
        await Promise.all([
          a.kb.upsert([{ id: "shipping", question: "多久发货？", answer: "A: 24 小时内发货。", alts: ["什么时候发货"] }]),
          b.kb.upsert([{ id: "hours", question: "What are your opening hours?", answer: "B: 24/7.", alts: ["when are you open"] }]),
        ]);
        await Promise.all([a.sync.syncNow(), b.sync.syncNow()]);
        await Promise.all([a.sync.syncNow(), b.sync.syncNow()]);
        for (const n of [a, b]) {
          expect(n.kb.get("shipping")!.answer).toBe("A: 24 小时内发货。");
          expect(n.kb.get("hours")!.answer).toBe("B: 24/7.");
          expect(await top(n.kb, "when are you open")).toBe("hours");
        }
        const shared = await store.sql.all<{ id: string; answer: string }>("SELECT id, answer FROM kb_sync_entries WHERE id IN ('shipping', 'hours') ORDER BY id");
        expect(shared).toEqual([
          { id: "hours", answer: "B: 24/7." },
          { id: "shipping", answer: "A: 24 小时内发货。" },
        ]);

        // The same entry on both: whichever commit came last wins, everywhere.
        await a.kb.upsert([{ id: "invoice", question: "可以开发票吗？", answer: "A 的说法", alts: [] }]);
        await b.kb.upsert([{ id: "invoice", question: "可以开发票吗？", answer: "B 的说法", alts: [] }]);
        await Promise.all([a.sync.syncNow(), b.sync.syncNow()]);
        await Promise.all([a.sync.syncNow(), b.sync.syncNow()]);
        const last = (await store.sql.get<{ answer: string }>("SELECT answer FROM kb_sync_entries WHERE id = 'invoice'"))!.answer;
        expect(["A 的说法", "B 的说法"]).toContain(last);
        expect(a.kb.get("invoice")!.answer).toBe(last);
        expect(b.kb.get("invoice")!.answer).toBe(last);
      },
      15_000,
    );

    test(
      "a deleted entry (and a deleted document) disappears on the other node",
      async () => {
        const { a, b } = await twoNodes((kb) => kb.documents.upsert({ id: "returns-policy", title: "Returns policy", text: "Returns are accepted within 30 days of delivery." }));
        expect(b.kb.get("warranty")).not.toBeNull();
        expect(b.kb.documents.get("returns-policy")).not.toBeNull();
        expect((await b.kb.documents.search("within 30 days", b.kb.termStats()))[0]?.documentId).toBe("returns-policy");

        await a.kb.delete(["warranty"]);
        await a.kb.documents.delete("returns-policy");
        expect(await eventually(() => b.kb.get("warranty") === null && b.kb.documents.get("returns-policy") === null, 4000)).toBe(true);
        expect(await top(b.kb, "手机保修多久")).not.toBe("warranty");
        expect(await b.kb.documents.search("within 30 days", b.kb.termStats())).toEqual([]);
        expect((await store.sql.get<{ deleted: number }>("SELECT deleted FROM kb_sync_entries WHERE id = 'warranty'"))!.deleted).toBe(1);
      },
      15_000,
    );

    test(
      "a node started later pulls the full KB, replacing its own entries",
      async () => {
        await fresh();
        const bus = createInProcessBus();
        const a = await node("a", bus);
        await a.kb.upsert(SHOP_FAQ);
        await a.kb.documents.upsert({ id: "manual", title: "Manual", text: "Hold the power button for ten seconds to reset the device." }, { size: 50, overlap: 0 });
        await a.sync.start();
        await a.kb.upsert([{ id: "giftcard", question: "How do I check my gift card balance?", answer: "Account → Gift cards.", alts: ["gift card balance"] }]);
        await a.sync.syncNow();

        // C has a KB of its own (say, the demo) and joins later.
        const c = await node("c", bus);
        await c.kb.upsert([{ id: "demo-only", question: "Is this the demo?", answer: "Yes." }]);
        expect((await c.sync.start()).mode).toBe("replaced");
        expect([...c.kb.all()].map((e) => e.id).sort()).toEqual([...SHOP_FAQ.map((e) => e.id), "giftcard"].sort());
        expect(await top(c.kb, "gift card balance")).toBe("giftcard");
        expect(await top(c.kb, "我想退货")).toBe("returns");
        // The document arrives with the chunks A made (size 50), not re-chunked with the defaults.
        const chunks = (db: Database) => (db.query("SELECT c.text FROM kb_chunks c JOIN kb_documents d ON d.rowid = c.doc_rowid WHERE d.id = 'manual' ORDER BY c.ord").all() as { text: string }[]).map((r) => r.text);
        expect(chunks(c.kb.db).length).toBeGreaterThan(1);
        expect(chunks(c.kb.db)).toEqual(chunks(a.kb.db));
        // Its own entry was not pushed into the cluster.
        await c.sync.syncNow();
        expect(await store.sql.get("SELECT id FROM kb_sync_entries WHERE id = 'demo-only'")).toBeNull();
      },
      15_000,
    );

    test(
      "a restarted node pushes what it changed while it was cut off, then catches up",
      async () => {
        const { a, b, bus } = await twoNodes();
        await b.sync.stop();
        // B edits while its sync is down; A edits something else.
        await b.kb.upsert([{ id: "hours", question: "What are your opening hours?", answer: "B offline edit.", alts: [] }]);
        await a.kb.upsert([{ id: "shipping", question: "多久发货？", answer: "A edit.", alts: [] }]);
        await a.sync.syncNow();
        const b2 = await node("b", bus, { kb: b.kb });
        expect((await b2.sync.start()).mode).toBe("incremental");
        expect(b.kb.get("shipping")!.answer).toBe("A edit.");
        expect(await eventually(() => a.kb.get("hours")?.answer === "B offline edit.", 4000)).toBe(true);
      },
      15_000,
    );
  });
}
