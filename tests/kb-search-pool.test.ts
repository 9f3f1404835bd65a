import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import en from "../src/kb/background/en.txt" with { type: "text" };
import zh from "../src/kb/background/zh.txt" with { type: "text" };
import { demoShopFaq } from "../src/demo/shop-faq";
import { embedQuery, HashEmbedder } from "../src/kb/embedder";
import { type BriefMatch, KnowledgeBase, type SearchResult } from "../src/kb/engine";
import { SearchPool, searchWorkerCount } from "../src/kb/search-pool";
import { loadConfig } from "../src/config/load";
import { openDatabase } from "../src/storage/database";
import { moreOffTopic, moreParaphrases, offTopic, paraphrases } from "./kb-demo-questions";

/**
 * The knowledge-base search pool (src/kb/search-pool.ts): a worker answers exactly what the main thread would,
 * never from an older knowledge base than the main thread committed, and a worker that dies or hangs costs
 * a visitor nothing but an in-thread search.
 */

const lines = (t: string) => t.split("\n").map((l) => l.trim()).filter(Boolean);
const warnings: { msg: string; fields?: Record<string, unknown> }[] = [];
const log = { info() {}, warn: (msg: string, fields?: Record<string, unknown>) => void warnings.push({ msg, fields }) };

let dir: string;
let db: Database;
let kb: KnowledgeBase;
let pool: SearchPool;

/** The search as the main thread runs it, no pool involved. */
async function inThread(q: string, k = 5): Promise<SearchResult> {
  return kb.searchEmbedded(q, await embedQuery(() => kb.embedder, q), { k });
}

/** A search that must have been answered by a worker (not handed back to the main thread). */
async function viaWorker(q: string, k = 5, chat?: { floor: number; brief: true }): Promise<SearchResult<BriefMatch>> {
  const before = pool.status().completed;
  const r = chat ? await kb.search(q, { k, ...chat }) : await kb.search(q, { k });
  expect(pool.status().completed).toBe(before + 1);
  return r;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kefu-search-pool-"));
  db = await openDatabase({ dir });
  kb = await KnowledgeBase.open(db);
  await kb.upsert(demoShopFaq);
  await kb.calibrate();
  pool = (await SearchPool.start(kb, { size: 1, log, requestTimeoutMs: 1500 }))!;
  expect(await pool.ready()).toBe(true);
}, 30_000); // the import, calibration and worker start take 1.5 s here, over 5 s (the default) on a busy machine

afterAll(async () => {
  await pool?.close();
  kb?.close();
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("search pool", () => {
  test("search_workers: auto is one per core beyond the first, at most 4; 0 is off", () => {
    expect(searchWorkerCount("auto", 1)).toBe(0);
    expect(searchWorkerCount("auto", 2)).toBe(1);
    expect(searchWorkerCount("auto", 16)).toBe(4);
    expect(searchWorkerCount(0, 8)).toBe(0);
    expect(searchWorkerCount(3, 2)).toBe(3);
  });

  test("[kb] search_workers: default auto, 0, or a number from the file or KEFU_KB_SEARCH_WORKERS", () => {
    const missing = join(dir, "missing.toml");
    expect(loadConfig({ fallbackPath: missing, env: {} }).config.kb.search_workers).toBe("auto");
    expect(loadConfig({ fallbackPath: missing, env: { KEFU_KB_SEARCH_WORKERS: "0" } }).config.kb.search_workers).toBe(0);
    expect(loadConfig({ fallbackPath: missing, env: { KEFU_KB_SEARCH_WORKERS: "auto" } }).config.kb.search_workers).toBe("auto");
    const file = join(dir, "pool.toml");
    writeFileSync(file, "[kb]\nsearch_workers = 2\n");
    expect(loadConfig({ path: file, env: {} }).config.kb.search_workers).toBe(2);
    expect(() => loadConfig({ fallbackPath: missing, env: { KEFU_KB_SEARCH_WORKERS: "many" } })).toThrow();
  });

  test(
    "workers that cannot start: the pool gives up after a few tries (one line), every search answered in-thread",
    async () => {
      const broken = join(dir, "broken-worker.ts");
      writeFileSync(broken, 'throw new Error("cannot start");\n');
      const lines: string[] = [];
      const other = await KnowledgeBase.open(db);
      const p = (await SearchPool.start(other, { size: 1, workerUrl: broken, log: { info() {}, warn: (m) => void lines.push(m) } }))!;
      const q = demoShopFaq[0]!.question;
      const until = Date.now() + 10_000;
      while (!lines.some((l) => l.includes("cannot start")) && Date.now() < until) {
        expect((await other.search(q)).matches[0]?.id).toBe(demoShopFaq[0]!.id);
        await Bun.sleep(20);
      }
      expect(lines.filter((l) => l.includes("cannot start")).length).toBe(1);
      expect(lines.filter((l) => l.includes("worker lost")).length).toBe(5);
      expect(p.status().workers).toBe(0);
      expect(p.status().completed).toBe(0);
      await p.close();
      other.close();
    },
    20_000,
  );

  test(
    "the worker ranks with the main thread's options (sign-bit pre-filter, vectors read from sqlite-vec)",
    async () => {
      const otherDir = mkdtempSync(join(tmpdir(), "kefu-search-pool-opts-"));
      const otherDb = await openDatabase({ dir: otherDir });
      const other = await KnowledgeBase.open(otherDb, { exactVectorLimit: 4, memoryVectorLimit: 0, vectorCandidates: 3, ftsCandidates: 2 });
      await other.upsert(demoShopFaq);
      const p = (await SearchPool.start(other, { size: 1 }))!;
      expect(await p.ready()).toBe(true);
      const qs = [...paraphrases.map(([q]) => q), ...lines(en).slice(300, 360), ...lines(zh).slice(300, 360)];
      const differ: string[] = [];
      for (const q of qs) {
        const a = await other.search(q);
        const b = other.searchEmbedded(q, await embedQuery(() => other.embedder, q), { k: 5 });
        if (!Bun.deepEquals(a, b, true)) differ.push(q);
      }
      expect(p.status().completed).toBe(qs.length);
      expect(differ).toEqual([]);
      await p.close();
      other.close();
      otherDb.close();
      rmSync(otherDir, { recursive: true, force: true });
    },
    30_000,
  );

  test(
    "a re-index with another embedder: the workers restart on the new vector tables, results the same again",
    async () => {
      const otherDir = mkdtempSync(join(tmpdir(), "kefu-search-pool-reindex-"));
      const otherDb = await openDatabase({ dir: otherDir });
      const other = await KnowledgeBase.open(otherDb);
      await other.upsert(demoShopFaq);
      const p = (await SearchPool.start(other, { size: 1 }))!;
      expect(await p.ready()).toBe(true);
      const q = paraphrases[1]![0];
      await other.search(q);
      expect(p.status().completed).toBe(1);
      await other.reindex(new HashEmbedder({ dim: 128 }));
      expect(other.embedder.dim).toBe(128);
      // Handed back while the workers restart: the answer is the new embedder's.
      const during = await other.search(q);
      expect(during).toEqual(other.searchEmbedded(q, await embedQuery(() => other.embedder, q), { k: 5 }));
      expect(p.status().completed).toBe(1);
      expect(await p.ready()).toBe(true);
      const after = await other.search(q);
      expect(p.status().completed).toBe(2);
      expect(after).toEqual(other.searchEmbedded(q, await embedQuery(() => other.embedder, q), { k: 5 }));
      await p.close();
      other.close();
      otherDb.close();
      rmSync(otherDir, { recursive: true, force: true });
    },
    30_000,
  );

  test("in-memory databases get no pool", async () => {
    const mem = await openDatabase({ dir: ":memory:" });
    const memKb = await KnowledgeBase.open(mem);
    expect(await SearchPool.start(memKb, { size: 2 })).toBeNull();
    memKb.close();
    mem.close();
  });

  test(
    "a worker returns exactly the in-thread result for every demo question, paraphrase and hundreds of others",
    async () => {
      const questions = [
        ...demoShopFaq.flatMap((e) => [e.question, ...(e.alts ?? [])]),
        ...paraphrases.map(([q]) => q),
        ...moreParaphrases.map(([q]) => q),
        ...offTopic,
        ...moreOffTopic,
        ...lines(en).slice(0, 200),
        ...lines(zh).slice(0, 200),
      ];
      expect(questions.length).toBeGreaterThan(450);
      const differ: string[] = [];
      for (const q of questions) {
        for (const k of [3, 5]) {
          const a = await viaWorker(q, k);
          const b = await inThread(q, k);
          if (!Bun.deepEquals(a, b, true)) differ.push(`${q} (k ${k})`);
        }
        // The chat's search (a floor at suggest, brief matches) reaches the worker as it would run here.
        const chat = { floor: kb.thresholds.suggest, brief: true } as const;
        const a = await viaWorker(q, 4, chat);
        const b = kb.searchEmbedded(q, await embedQuery(() => kb.embedder, q), { k: 4, ...chat });
        if (!Bun.deepEquals(a, b, true)) differ.push(`${q} (chat)`);
      }
      expect(differ).toEqual([]);
      // The decision rests on it: ask (through the pool) decides as before.
      const r = await kb.ask(demoShopFaq[0]!.question);
      expect(r.path).toBe("direct");
      expect(r.entryId).toBe(demoShopFaq[0]!.id);
    },
    60_000,
  );

  test(
    "a burst beyond the workers' queue: the overflow is searched in-thread, every result the same",
    async () => {
      const questions = [...paraphrases, ...moreParaphrases].map(([q]) => q).concat(offTopic);
      const before = pool.status();
      const results = await Promise.all(questions.map((q) => kb.search(q)));
      const after = pool.status();
      expect(after.completed).toBeGreaterThan(before.completed);
      expect(after.in_thread.busy).toBeGreaterThan(before.in_thread.busy);
      for (let i = 0; i < questions.length; i++) expect(results[i]).toEqual(await inThread(questions[i]!));
    },
    30_000,
  );

  test(
    "an entry added, edited or deleted through the engine is seen by the very next search through the pool",
    async () => {
      const q = "Do you ship parcels to Antarctica by penguin?";
      const before = await viaWorker(q);
      expect(before.matches[0]?.id).not.toBe("penguin");
      await kb.upsert([{ id: "penguin", question: "Do you ship parcels to Antarctica by penguin?", answer: "Yes, by penguin." }]);
      const added = await viaWorker(q);
      expect(added.matches[0]?.id).toBe("penguin");
      expect(added.matches[0]?.answer).toBe("Yes, by penguin.");
      expect(added.version).toBe(kb.version());
      await kb.upsert([{ id: "penguin", question: "Do you ship parcels to Antarctica by penguin?", answer: "No longer: the penguins retired." }]);
      const edited = await viaWorker(q);
      expect(edited.matches[0]?.answer).toBe("No longer: the penguins retired.");
      expect(edited).toEqual(await inThread(q));
      await kb.delete(["penguin"]);
      const deleted = await viaWorker(q);
      expect(deleted.matches.map((m) => m.id)).not.toContain("penguin");
      expect(deleted).toEqual(await inThread(q));
    },
    30_000,
  );

  test(
    "a worker left on an older snapshot answers nothing: the search runs in-thread and sees the write",
    async () => {
      const q = "Can I pay with seashells?";
      pool.debug("pin"); // the worker now reads an old snapshot for good
      // The worker handles its messages in order: once this search is answered, the pin is in place (a fixed
      // pause could end before a busy machine ran the worker, which would then see the write below).
      await viaWorker(q);
      await kb.upsert([{ id: "seashells", question: "Can I pay with seashells?", answer: "Only cowries." }]);
      const stale = pool.status().in_thread.stale;
      const r = await kb.search(q);
      expect(pool.status().in_thread.stale).toBe(stale + 1);
      expect(r.matches[0]?.id).toBe("seashells");
      expect(r.version).toBe(kb.version());
      await kb.delete(["seashells"]);
      // Replace the pinned worker for the tests after this one.
      pool.debug("exit");
      while (pool.status().replaced === 0 || pool.status().ready_workers === 0) await Bun.sleep(10);
    },
    30_000,
  );

  test(
    "a worker that dies mid-search: the answer still comes (in-thread), the worker is replaced, one log line",
    async () => {
      expect(await pool.ready()).toBe(true);
      const replaced = pool.status().replaced;
      const lost = pool.status().in_thread.lost;
      warnings.length = 0;
      const q = demoShopFaq[1]!.question;
      const pending = kb.search(q);
      pool.debug("exit");
      const r = await pending;
      expect(r).toEqual(await inThread(q));
      expect(pool.status().in_thread.lost).toBe(lost + 1);
      while (pool.status().replaced === replaced || pool.status().ready_workers === 0) await Bun.sleep(10);
      expect(warnings.length).toBe(1);
      expect(warnings[0]!.fields?.reason).toBe("crashed");
      // The replacement answers again.
      expect(await viaWorker(q)).toEqual(await inThread(q));
    },
    30_000,
  );

  test(
    "a worker that hangs: the answer comes in-thread after the request timeout, the worker is replaced",
    async () => {
      const replaced = pool.status().replaced;
      warnings.length = 0;
      pool.debug("hang", 0, 10_000);
      const q = demoShopFaq[2]!.question;
      const t0 = performance.now();
      const r = await kb.search(q);
      const took = performance.now() - t0;
      expect(r).toEqual(await inThread(q));
      expect(took).toBeGreaterThan(1000);
      expect(took).toBeLessThan(5000);
      expect(warnings.length).toBe(1);
      expect(warnings[0]?.fields?.reason).toBe("hung");
      // The third loss within a minute: replaced after a short delay (a worker that keeps dying never spins).
      expect(warnings[0]?.fields?.replace_in_ms).toBe(500);
      while (pool.status().replaced === replaced) await Bun.sleep(10);
      expect(await pool.ready()).toBe(true);
      expect(await viaWorker(q)).toEqual(await inThread(q));
    },
    30_000,
  );

  test(
    "a recalibrated knowledge base: the worker confidences follow the main thread's new calibrator",
    async () => {
      const q = paraphrases[0]![0];
      const old = kb.calibrator;
      await kb.upsert([{ id: "extra-1", question: "Do you sell gift cards?", answer: "Yes, from 10 to 500 euros.", alts: ["can I buy a gift card", "gift vouchers"] }]);
      await kb.calibrate();
      expect(kb.calibrator).not.toBe(old);
      expect(await viaWorker(q)).toEqual(await inThread(q));
      await kb.delete(["extra-1"]);
    },
    30_000,
  );
});
