/**
 * Review 18 (R2): the knowledge-base list's hit counts in a cluster. Hits come from the answer log, which in a
 * cluster is in the shared PostgreSQL; the entries are each node's SQLite copy. The list read the hits from the
 * node's own SQLite insights_answers — empty on a new node (every entry 0 hits, sorting by hits did nothing)
 * and frozen at the migration on a node that kept a single-node data dir. Now the hits, and the hits / last-hit
 * order, come from the shared store; this test pins that the result is what a single node answers for the same
 * rows, for every sort, direction and page.
 */
import type { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAnswerLog } from "../src/insights/answer-log";
import { entryHits, entryHitsShared, listEntries, listEntriesShared } from "../src/kb/entry-list";
import { openDatabase } from "../src/storage/database";
import type { Sql } from "../src/storage/sql";
import { createSqliteSql } from "../src/storage/sqlite-driver";
import { createTestDatabase, REDIS_URL, skipUnless } from "./helpers/services";
import { startCluster } from "./cluster/harness";
import { useMigratedPg } from "./review-18-pg-helpers";

const pgSkip = await skipUnless({ pg: true }, "review-18 knowledge-base hits test");
const nodeSkip = await skipUnless({ pg: true, redis: true }, "review-18 knowledge-base hits on a cluster node");
const T0 = 1_796_000_000_000;

function entries(db: Database) {
  for (let i = 0; i < 12; i++) {
    db.query("INSERT INTO kb_entries (id, question, answer, tags, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)").run(
      `e${i}`, `Question ${String.fromCharCode(75 - i)} ${i}`, `answer ${i}`, i % 2 ? '["even"]' : "[]", T0 + i, T0 + 100 - (i % 5),
    );
  }
}

/** Hits for some entries (ties in count, one tie in last hit too), a few rows that are no hits. */
async function answers(sql: Sql) {
  const log = createAnswerLog(sql);
  const hit = (entryId: string, at: number, path: "direct" | "choice" | "llm" = "direct") =>
    log.record({ source: "api", conversationId: null, visitorSeq: null, replySeq: null, question: "q", path, entryId, confidence: 0.9, latencyMs: 5 }, at);
  for (const [id, times] of [["e1", [1, 2, 3]], ["e4", [5, 9]], ["e7", [9, 4]], ["e9", [7]], ["e10", [2, 2, 2]]] as const) for (const t of times) await hit(id, T0 + t * 1000);
  await hit("e2", T0 + 99_000, "llm"); // not a hit
}

describe.skipIf(pgSkip)("review 18: knowledge-base hits in a cluster come from the shared answer log", () => {
  const pgOf = useMigratedPg();
  const dirs: string[] = [];
  let single: Database; // a single node: entries and answer log in one file
  let node: Database; // a cluster node: its copy of the entries; answers in PostgreSQL
  beforeAll(async () => {
    for (let i = 0; i < 2; i++) dirs.push(mkdtempSync(join(tmpdir(), "kefu-r18-hits-")));
    single = await openDatabase({ dir: dirs[0]! });
    node = await openDatabase({ dir: dirs[1]! });
    entries(single);
    entries(node);
    await answers(createSqliteSql(single));
    await answers(pgOf());
  });
  afterAll(() => {
    single?.close();
    node?.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("every sort, direction, filter and page lists what a single node lists", async () => {
    const pg = pgOf();
    for (const sort of ["hits", "last_hit", "updated", "question"] as const) {
      for (const order of [undefined, "asc", "desc"] as const) {
        for (const page of [{}, { offset: 3, limit: 4 }, { offset: 10, limit: 5 }, { tag: "even" }]) {
          const o = { sort, order, ...page };
          expect({ o, r: await listEntriesShared(node, pg, o) }).toEqual({ o, r: listEntries(single, o) });
        }
      }
    }
    const top = await listEntriesShared(node, pg, { sort: "hits", limit: 2 });
    expect(top.entries.map((e) => [e.id, e.hits])).toEqual([["e1", 3], ["e10", 3]]); // the same count: the later last hit first
  });

  test("one entry's hits", async () => {
    const ids = ["e1", "e2", "e4", "e11"];
    expect([...(await entryHitsShared(node, pgOf(), ids))]).toEqual([...entryHits(single, ids)]);
    expect((await entryHitsShared(node, pgOf(), ["e4"])).get("e4")).toEqual({ hits: 2, last_hit_at: T0 + 9000 });
  });
});

describe.skipIf(nodeSkip)("review 18: a cluster node's knowledge-base list counts the hits of the shared answer log", () => {
  test("GET /api/admin/kb/entries after direct answers through /api/ask", async () => {
    const db = await createTestDatabase();
    const cluster = await startCluster({ nodes: 1, pgUrl: db.url, redisUrl: REDIS_URL });
    try {
      const admin = await cluster.user("admin");
      const made = await fetch(`${cluster.nodes[0]!.url}/api/admin/tokens`, { method: "POST", headers: { authorization: `Bearer ${admin.token}`, "content-type": "application/json" }, body: JSON.stringify({ label: "shop" }) });
      const ask = ((await made.json()) as { token: string }).token;
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`${cluster.nodes[0]!.url}/api/ask`, {
          method: "POST",
          headers: { authorization: `Bearer ${ask}`, "content-type": "application/json" },
          body: JSON.stringify({ text: "How do I cancel my order?", lang: "en" }),
        });
        expect(res.status).toBe(200);
      }
      const get = async (path: string) => (await fetch(`${cluster.nodes[0]!.url}${path}`, { headers: { authorization: `Bearer ${admin.token}` } })).json() as Promise<any>;
      const list = await get("/api/admin/kb/entries?sort=hits&limit=1");
      expect(list.entries.map((e: { id: string; hits: number }) => [e.id, e.hits])).toEqual([["demo-cancel-order-en", 2]]);
      expect((await get("/api/admin/kb/entries/demo-cancel-order-en")).hits).toBe(2);
    } finally {
      await cluster.stop();
      await db.drop();
    }
  }, 90_000);
});
