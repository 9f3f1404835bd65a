import { describe, expect, test } from "bun:test";
import { HashEmbedder } from "./embedder.ts";
import { features, TEXT_VERSION } from "../text/tokenize.ts";
import { KnowledgeBase } from "./engine.ts";
import { vectorize } from "./scorer.ts";
import { CALIBRATION_FEATURES, PRIOR_CALIBRATOR } from "./calibration.ts";
import { HookedEmbedder, memoryDb, openKb, SHOP_FAQ } from "./test/helpers.ts";

describe("KnowledgeBase", () => {
  test("Chinese keyword, unspaced question and mixed script find their entries", async () => {
    const kb = await openKb();
    await kb.upsert(SHOP_FAQ);
    expect((await kb.search("退货")).matches[0]!.id).toBe("returns");
    expect((await kb.search("我买的东西怎么退货")).matches[0]!.id).toBe("returns");
    expect((await kb.search("iPhone 怎么退货")).matches[0]!.id).toBe("returns");
    expect((await kb.search("iPhone怎么退货")).matches[0]!.id).toBe("returns");
    expect((await kb.search("什么时候能发货呢")).matches[0]!.id).toBe("shipping");
    expect((await kb.search("I forgot my password")).matches[0]!.id).toBe("password");
    expect((await kb.search("ＷＨＡＴ ａｒｅ your opening hours")).matches[0]!.id).toBe("hours");
  });

  test("results carry the matched phrasing, bounded confidences and an explanation", async () => {
    const kb = await openKb();
    await kb.upsert(SHOP_FAQ);
    const { matches } = await kb.search("怎么退货");
    const top = matches[0]!;
    expect(top.matched).toBe("怎么退货");
    expect(top.answer).toContain("申请售后");
    for (const m of matches) {
      expect(m.confidence).toBeGreaterThanOrEqual(0);
      expect(m.confidence).toBeLessThanOrEqual(1);
    }
    expect(top.confidence).toBeGreaterThan(matches[1]?.confidence ?? 0);
    expect(top.explanation).toContain("cosine");
    expect(top.signals.fts).toBe(true);
  });

  test("ask answers verbatim when confident and declines unrelated questions", async () => {
    const kb = await openKb();
    await kb.upsert(SHOP_FAQ);
    const yes = await kb.ask("怎么开发票");
    expect(yes.path).toBe("direct");
    expect(yes.answer).toBe("可以，在订单详情页申请电子发票。");
    const no = await kb.ask("what is the capital of mongolia");
    expect(no.path).not.toBe("direct");
    expect(no.answer).toBeUndefined();
  });

  test("version changes on every write and not on no-op writes", async () => {
    const kb = await openKb();
    const v0 = kb.version();
    await kb.upsert(SHOP_FAQ);
    const v1 = kb.version();
    expect(v1).toBeGreaterThan(v0);
    const again = await kb.upsert(SHOP_FAQ);
    expect(again.unchanged).toBe(SHOP_FAQ.length);
    expect(kb.version()).toBe(v1);
    await kb.upsert([{ ...SHOP_FAQ[0]!, answer: "新的答案" }]);
    expect(kb.version()).toBeGreaterThan(v1);
    expect(kb.get("returns")!.answer).toBe("新的答案");
  });

  test("disabled and deleted entries are not found; term statistics follow", async () => {
    const kb = await openKb();
    await kb.upsert(SHOP_FAQ);
    await kb.upsert([{ ...SHOP_FAQ[0]!, enabled: false }]);
    expect((await kb.search("怎么退货")).matches.map((m) => m.id)).not.toContain("returns");
    expect(kb.termStats().df("b退货")).toBe(0);
    await kb.upsert([{ ...SHOP_FAQ[0]!, enabled: true }]);
    expect(kb.termStats().df("b退货")).toBe(1);
    expect(await kb.delete(["returns", "nope"])).toBe(1);
    expect(kb.get("returns")).toBeNull();
    expect(kb.termStats().df("b退货")).toBe(0);
    expect((await kb.search("怎么退货")).matches.map((m) => m.id)).not.toContain("returns");
  });

  test("term weights follow writes (the per-version weight memo is not reused after a change)", async () => {
    const kb = await openKb();
    await kb.upsert(SHOP_FAQ);
    const before = vectorize("怎么退货", kb.termStats());
    expect(vectorize("怎么退货", kb.termStats())).toEqual(before); // memoized: same weights
    await kb.upsert(Array.from({ length: 8 }, (_, i) => ({ id: `r${i}`, question: `退货问题${i}`, answer: "a" })));
    const after = vectorize("怎么退货", kb.termStats());
    // 退货 is now in 9 entries, not 1: it weighs less against 怎么.
    expect(after.get("b退货")!).toBeLessThan(before.get("b退货")!);
  });

  test("rejects empty question or answer", async () => {
    const kb = await openKb();
    expect(kb.upsert([{ question: " ", answer: "x" }])).rejects.toThrow("question is empty");
    expect(kb.upsert([{ question: "q", answer: "" }])).rejects.toThrow("answer is empty");
  });

  test("switching embedder re-indexes with progress and records id and dimension", async () => {
    const db = memoryDb();
    const kb = await openKb({}, db);
    await kb.upsert(SHOP_FAQ);
    const progress: [number, number][] = [];
    const other = new HashEmbedder({ dim: 128 });
    const kb2 = await KnowledgeBase.open(db, { embedder: other, onReindexProgress: (d, t) => progress.push([d, t]) });
    expect(progress.at(-1)).toEqual([SHOP_FAQ.length, SHOP_FAQ.length]);
    expect((db.prepare("SELECT value FROM kb_meta WHERE key = 'embedder_dim'").get() as { value: string }).value).toBe("128");
    expect((await kb2.search("怎么退货")).matches[0]!.id).toBe("returns");
    // Same embedder again: no re-index.
    const again: number[] = [];
    await KnowledgeBase.open(db, { embedder: other, onReindexProgress: (d) => again.push(d) });
    expect(again).toEqual([]);
  });

  test("a re-index that fails leaves the instance on its previous embedder and vectors", async () => {
    for (const dim of [256, 128]) {
      const db = memoryDb();
      const opts = { exactVectorLimit: 2 };
      const kb = await openKb(opts, db);
      await kb.upsert(SHOP_FAQ);
      await kb.documents.upsert({ title: "保修说明", text: "整机保修一年，电池半年。" });
      db.run("CREATE TRIGGER no_switch BEFORE UPDATE ON kb_meta WHEN NEW.key = 'embedder_id' BEGIN SELECT RAISE(ABORT, 'refused'); END");
      await expect(kb.reindex(new HashEmbedder({ dim, spread: 2 }))).rejects.toThrow("refused");
      db.run("DROP TRIGGER no_switch");
      expect(kb.embedder.id).toBe(new HashEmbedder().id);
      const fresh = await KnowledgeBase.open(db, opts);
      expect((await kb.search("保修期多长时间")).matches).toEqual((await fresh.search("保修期多长时间")).matches);
      expect(await kb.documents.search("保修多久", kb.termStats())).toEqual(await fresh.documents.search("保修多久", fresh.termStats()));
    }
  });

  test("writes during a re-index are not lost: another process's make it start over, this instance's documents wait", async () => {
    const db = memoryDb();
    const kb = await openKb({}, db);
    await kb.upsert(SHOP_FAQ);
    await kb.documents.upsert({ title: "配送说明", text: "偏远地区的快递需要额外三到五天。" });
    const other = await KnowledgeBase.open(db);
    const count = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    const next = new HookedEmbedder();
    let calls = 0;
    let docWrite: Promise<unknown> | undefined;
    next.before = async () => {
      calls++;
      // First pass: entries are being embedded → another process writes an entry (the re-index must start over).
      if (calls === 1) await other.upsert([{ id: "points", question: "会员积分怎么兑换？", answer: "在会员中心兑换。" }]);
      // Chunks are being embedded → a document upload through this instance (must wait for the re-index).
      if (calls === 4) docWrite = kb.documents.upsert({ title: "保修说明", text: "整机保修一年，电池保修半年。" });
    };
    await kb.reindex(next);
    await docWrite;
    expect(calls).toBeGreaterThan(4); // two passes of entries + chunks, then the document's chunks
    expect(count("kb_entry_vec_rows")).toBe(count("kb_entries"));
    expect(count("kb_chunk_vec_rows")).toBe(count("kb_chunks"));
    expect(count("kb_chunks")).toBeGreaterThan(0);
    const fresh = await KnowledgeBase.open(db, { embedder: next });
    expect((await kb.search("积分兑换")).matches).toEqual((await fresh.search("积分兑换")).matches);
    expect(await kb.documents.search("电池保修多久", kb.termStats())).toEqual(await fresh.documents.search("电池保修多久", fresh.termStats()));
    // A writer that never stops: the re-index gives up with a clear error and keeps the previous embedder.
    const busy = new HookedEmbedder();
    busy.before = () => void db.run("UPDATE kb_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'");
    await expect(kb.reindex(new HashEmbedder({ dim: 128 }))).resolves.toBeUndefined(); // no interference: fine
    await expect(kb.reindex(busy)).rejects.toMatchObject({ code: "kb_busy" });
    expect(kb.embedder.dim).toBe(128);
  });

  test("a search waiting for its query embedding while a re-index commits embeds again for the new index", async () => {
    const db = memoryDb();
    const previous = new HookedEmbedder({ dim: 128 });
    const kb = await openKb({ embedder: previous }, db);
    await kb.upsert(SHOP_FAQ);
    await kb.documents.upsert({ title: "退货说明", text: "七天无理由退货，运费由买家承担。" });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    previous.before = () => gate;
    const entries = kb.search("怎么退货");
    const chunks = kb.documents.search("退货运费", kb.termStats());
    await kb.reindex(new HashEmbedder({ dim: 256 }));
    release();
    expect((await entries).matches[0]!.id).toBe("returns"); // a 128-dim query against the 256-dim index threw
    expect((await chunks)[0]!.text).toContain("运费");
  });

  test("our own write after an older release's write leaves its stale vector copies marked for rebuilding", async () => {
    const db = memoryDb();
    const kb = await openKb({}, db);
    await kb.upsert(SHOP_FAQ);
    await kb.search("怎么退货");
    // An older release (no row copies) rewrites the vector of "returns" and bumps the version.
    const rowid = (db.prepare("SELECT rowid FROM kb_entries WHERE id = 'returns'").get() as { rowid: number }).rowid;
    const v = (await new HashEmbedder().embed(["完全不同的文本 保修"]))[0]!;
    db.prepare("DELETE FROM kb_entry_vec WHERE rowid = ?").run(rowid);
    db.prepare("INSERT INTO kb_entry_vec(rowid, embedding, sketch) VALUES (?, ?, vec_quantize_binary(?))").run(rowid, v, v);
    db.run("UPDATE kb_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'");
    // This instance writes next, with no search in between; then a fresh open.
    await kb.upsert([{ id: "points", question: "会员积分怎么兑换？", answer: "在会员中心兑换。" }]);
    await KnowledgeBase.open(db);
    const stale = db.prepare("SELECT count(*) AS n FROM kb_entry_vec v JOIN kb_entry_vec_rows r USING(rowid) WHERE v.embedding != r.embedding").get();
    expect(stale).toEqual({ n: 0 });
  });

  test("an index built by another tokenizer version is rebuilt on open (terms, statistics and vectors)", async () => {
    const db = memoryDb();
    const kb = await openKb({}, db);
    await kb.upsert(SHOP_FAQ);
    // Simulate a database indexed by an older tokenizer: wrong terms, no statistics.
    db.run("DELETE FROM kb_entry_fts");
    db.run("INSERT INTO kb_entry_fts(rowid, terms) SELECT rowid, 'zzz' FROM kb_entries");
    db.run("DELETE FROM kb_df");
    db.run("UPDATE kb_meta SET value = '0' WHERE key = 'text_version'");
    const progress: number[] = [];
    const reopened = await KnowledgeBase.open(db, { onReindexProgress: (d) => progress.push(d) });
    expect(progress.at(-1)).toBe(SHOP_FAQ.length);
    expect((db.prepare("SELECT value FROM kb_meta WHERE key = 'text_version'").get() as { value: string }).value).toBe(TEXT_VERSION);
    expect((db.prepare("SELECT count(*) AS n FROM kb_df").get() as { n: number }).n).toBeGreaterThan(10);
    expect((await reopened.search("怎么退货")).matches[0]!.id).toBe("returns");
    expect((await reopened.ask("怎么退货")).path).toBe("direct");
  });

  test("large knowledge bases use the sign-bit pre-filter and still find entries", async () => {
    const kb = await openKb({ exactVectorLimit: 2 });
    await kb.upsert(SHOP_FAQ);
    const { matches } = await kb.search("保修期多长时间");
    expect(matches[0]!.id).toBe("warranty");
  });

  test("vectors written before the row table existed are copied into it on open", async () => {
    const db = memoryDb();
    const kb = await openKb({ exactVectorLimit: 2 }, db);
    await kb.upsert(SHOP_FAQ);
    const before = (await kb.search("保修期多长时间")).matches[0]!;
    // An older database: vectors only in the vec0 table, no record of the row copies.
    db.run("DROP TABLE kb_entry_vec_rows");
    db.run("DELETE FROM kb_meta WHERE key = 'vector_rows_version'");
    const reopened = await KnowledgeBase.open(db, { exactVectorLimit: 2 });
    expect((db.prepare("SELECT count(*) AS n FROM kb_entry_vec_rows").get() as { n: number }).n).toBe(SHOP_FAQ.length);
    const after = (await reopened.search("保修期多长时间")).matches[0]!;
    expect(after.id).toBe("warranty");
    expect(after.signals.dense).toBeCloseTo(before.signals.dense, 6);
    expect(after.signals.dense).toBeGreaterThan(0);
    await reopened.delete(["warranty"]);
    expect((db.prepare("SELECT count(*) AS n FROM kb_entry_vec_rows").get() as { n: number }).n).toBe(SHOP_FAQ.length - 1);
  });

  test("the vector pre-filter sees writes: its own, another connection's, and not a rolled-back one", async () => {
    const db = memoryDb();
    // Two Hamming neighbours only, so a stale in-memory copy shows (8 entries would all be returned).
    const opts = { exactVectorLimit: 2, vectorCandidates: 1 };
    const kb = await openKb(opts, db);
    await kb.upsert(SHOP_FAQ);
    const byVector = async (k: KnowledgeBase, q: string) => (await k.search(q, { k: 10 })).matches.filter((m) => m.signals.vector).map((m) => m.id);
    expect(await byVector(kb, "会员积分怎么兑换")).not.toContain("points"); // loads the in-memory sign bits
    await kb.upsert([{ id: "points", question: "会员积分怎么兑换礼品？", answer: "在会员中心兑换。" }]);
    expect(await byVector(kb, "会员积分怎么兑换")).toContain("points");
    // Another process writing to the same database (here: a second instance).
    const other = await KnowledgeBase.open(db, opts);
    await other.upsert([{ id: "coupon", question: "优惠券过期了还能用吗？", answer: "不能。" }]);
    await other.delete(["points"]);
    expect(await byVector(kb, "会员积分怎么兑换")).not.toContain("points");
    expect(await byVector(kb, "优惠券过期还能用吗")).toContain("coupon");
    // A delete that fails half-way is rolled back in the database and in memory.
    await kb.upsert([{ id: "points", question: "会员积分怎么兑换礼品？", answer: "在会员中心兑换。" }]);
    db.run("CREATE TRIGGER keep_coupon BEFORE DELETE ON kb_entries WHEN OLD.id = 'coupon' BEGIN SELECT RAISE(ABORT, 'refused'); END");
    await expect(kb.delete(["points", "coupon"])).rejects.toThrow("refused");
    expect(kb.get("points")).not.toBeNull();
    expect(await byVector(kb, "会员积分怎么兑换")).toContain("points");
  });

  test("after any sequence of writes, a long-lived instance answers exactly like a freshly opened one", async () => {
    // The long-lived instance keeps entries, features, frequencies and sign bits in memory across writes and
    // invalidates selectively; a fresh instance reads everything from the database.
    const db = memoryDb();
    const opts = { exactVectorLimit: 2 };
    const kb = await openKb(opts, db);
    const queries = ["怎么退货", "退货要多久", "发票怎么开", "I forgot my password", "保修期多长时间", "会员积分"];
    const same = async (step: string) => {
      const fresh = await KnowledgeBase.open(db, opts);
      for (const q of queries) {
        const a = await kb.search(q, { k: 5 });
        const b = await fresh.search(q, { k: 5 });
        expect({ step, q, m: a.matches }).toEqual({ step, q, m: b.matches });
      }
    };
    await kb.upsert(SHOP_FAQ);
    await same("initial");
    await kb.upsert([{ ...SHOP_FAQ[0]!, answer: "新的退货说明", alts: ["退货要多久", "我想退货"] }]);
    expect((await kb.search("怎么退货")).matches[0]!.answer).toBe("新的退货说明");
    await same("answer and phrasings changed");
    await kb.upsert(Array.from({ length: 6 }, (_, i) => ({ id: `r${i}`, question: `退货问题${i}`, answer: `a${i}` })));
    await same("entries added: every weight moved");
    await kb.delete(["r1", "invoice"]);
    await kb.upsert([{ ...SHOP_FAQ[3]!, enabled: false }]);
    await same("deleted and disabled");
    const other = await KnowledgeBase.open(db, opts);
    await other.upsert([{ id: "points", question: "会员积分怎么兑换？", answer: "在会员中心兑换。" }, { ...SHOP_FAQ[1]!, answer: "改了" }]);
    await same("written by another instance");
    await kb.documents.upsert({ title: "说明", text: "退货政策。".repeat(40) });
    await kb.upsert([{ id: "r9", question: "退货运费谁出", answer: "卖家" }]);
    await same("after a document write and another own write");
  });

  test("the in-memory exact vector search answers as sqlite-vec does through its own, another connection's and rolled-back writes", async () => {
    const db = memoryDb();
    // Two vector neighbours only, so a stale in-memory copy shows.
    const kb = await openKb({ vectorCandidates: 2 }, db);
    const queries = ["怎么退货", "会员积分怎么兑换", "发票怎么开", "I forgot my password", "优惠券过期还能用吗", "营业时间"];
    const same = async (step: string) => {
      const vec0 = await KnowledgeBase.open(db, { vectorCandidates: 2, memoryVectorLimit: 0 });
      for (const q of queries) expect({ step, q, m: (await kb.search(q, { k: 10 })).matches }).toEqual({ step, q, m: (await vec0.search(q, { k: 10 })).matches });
    };
    await kb.upsert(SHOP_FAQ);
    await same("initial");
    await kb.upsert([{ id: "points", question: "会员积分怎么兑换礼品？", answer: "在会员中心兑换。" }, { ...SHOP_FAQ[0]!, alts: ["退货要多久"] }]);
    await same("own writes");
    const other = await KnowledgeBase.open(db, { vectorCandidates: 2 });
    await other.upsert([{ id: "coupon", question: "优惠券过期了还能用吗？", answer: "不能。" }]);
    await other.delete(["points"]);
    await same("another connection's writes");
    db.run("CREATE TRIGGER keep_coupon BEFORE DELETE ON kb_entries WHEN OLD.id = 'coupon' BEGIN SELECT RAISE(ABORT, 'refused'); END");
    await expect(kb.delete(["returns", "coupon"])).rejects.toThrow("refused");
    await same("a rolled-back delete");
  });

  test("a search waiting for its embedding while a write commits caches nothing stale", async () => {
    const db = memoryDb();
    const embedder = new HookedEmbedder();
    const kb = await openKb({ exactVectorLimit: 2, embedder }, db);
    await kb.upsert(SHOP_FAQ);
    await kb.search("怎么退货");
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    embedder.before = (texts) => (texts.length === 1 ? gate : undefined); // queries wait, entry batches do not
    const inFlight = kb.search("怎么退货");
    await kb.upsert(Array.from({ length: 6 }, (_, i) => ({ id: `r${i}`, question: `退货问题${i}`, answer: `a${i}` })));
    embedder.before = null;
    release();
    await inFlight;
    const fresh = await KnowledgeBase.open(db, { exactVectorLimit: 2 });
    expect((await kb.search("怎么退货")).matches).toEqual((await fresh.search("怎么退货")).matches);
  });

  test("row copies of vectors are rebuilt after a release that does not keep them wrote (on open and while running)", async () => {
    const db = memoryDb();
    const opts = { exactVectorLimit: 2 };
    const kb = await openKb(opts, db);
    await kb.upsert(SHOP_FAQ);
    await kb.search("保修");
    const truth = () => db.prepare("SELECT rowid, embedding FROM kb_entry_vec ORDER BY rowid").all();
    const copies = () => db.prepare("SELECT rowid, embedding FROM kb_entry_vec_rows ORDER BY rowid").all();
    // What an older binary leaves behind: a deleted row's copy reused by another entry, a missing copy, a bumped version.
    const olderWrite = () => {
      db.run("UPDATE kb_entry_vec_rows SET embedding = (SELECT embedding FROM kb_entry_vec WHERE rowid = 1) WHERE rowid = 6");
      db.run("DELETE FROM kb_entry_vec_rows WHERE rowid = 5");
      db.run("UPDATE kb_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'");
    };
    olderWrite();
    await kb.search("保修"); // the running instance notices the version moved without it
    expect(copies()).toEqual(truth());
    olderWrite();
    await KnowledgeBase.open(db, opts);
    expect(copies()).toEqual(truth());
  });

  test("an upsert plans again when another writer changed the entries while it was embedding", async () => {
    const db = memoryDb();
    const embedder = new HookedEmbedder();
    const kb = await openKb({ embedder }, db);
    await kb.upsert(SHOP_FAQ);
    const other = await KnowledgeBase.open(db);
    // Once: the other instance rewrites the entry's phrasings while ours embeds a new answer for it.
    embedder.before = async () => {
      embedder.before = null;
      await other.upsert([{ ...SHOP_FAQ[0]!, question: "退款多久到账？", alts: [] }]);
    };
    await kb.upsert([{ ...SHOP_FAQ[0]!, answer: "A" }]);
    expect(kb.get("returns")!.answer).toBe("A");
    // Entry frequencies must describe the entries as stored, whatever the interleaving.
    const want = new Map<string, number>();
    for (const r of db.prepare("SELECT question, alts FROM kb_entries WHERE enabled = 1").all() as { question: string; alts: string }[]) {
      const fs = new Set<string>();
      for (const t of [r.question, ...JSON.parse(r.alts)]) for (const f of features(t).keys()) fs.add(f);
      for (const f of fs) want.set(f, (want.get(f) ?? 0) + 1);
    }
    const got = new Map((db.prepare("SELECT feature, df FROM kb_df").all() as { feature: string; df: number }[]).map((r) => [r.feature, r.df]));
    expect(got).toEqual(want);
    // Always: after three tries the write gives up with a clear error and changes nothing.
    embedder.before = () => void db.run("UPDATE kb_meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'version'");
    await expect(kb.upsert([{ id: "new", question: "新问题", answer: "x" }])).rejects.toMatchObject({ code: "kb_busy", status: 503 });
    expect(kb.get("new")).toBeNull();
  });

  test("a candidate cache smaller than the candidate list still returns every match", async () => {
    const kb = await openKb({ cacheEntries: 1 });
    await kb.upsert(SHOP_FAQ);
    const { matches } = await kb.search("怎么退货 password hours", { k: 5 });
    expect(matches.length).toBeGreaterThan(2);
    expect(matches.every((m) => m.answer.length > 0)).toBe(true);
  });

  test("a floor skips the pair score only where no confidence can reach it: same ranking and decisions, confidences never below the exact ones", async () => {
    const kb = await openKb();
    await kb.upsert(SHOP_FAQ);
    const floor = 0.3;
    const questions = ["怎么退货", "什么时候发货", "发票怎么申请", "I forgot my password", "what are your opening hours", "what's the weather", "你们老板是谁", "do you sell cars", "我想退货但是找不到订单", "how tall is mount everest", "今天星期几", "can I pay with bitcoin"];
    // The sign of the pair weight decides which end of its range raises the confidences: both are checked.
    const flipped = { ...PRIOR_CALIBRATOR, weights: PRIOR_CALIBRATOR.weights.map((w, i) => (CALIBRATION_FEATURES[i] === "pair" ? -w : w)) };
    for (const calibrator of [PRIOR_CALIBRATOR, flipped]) {
      let bounded = 0;
      let exactAbove = 0;
      for (const q of questions) {
        const [qv] = await kb.embedder.embed([q]);
        const exact = kb.searchEmbedded(q, qv!, { k: 5 }, calibrator).matches;
        const fast = kb.searchEmbedded(q, qv!, { k: 5, floor }, calibrator).matches;
        expect(fast.map((m) => m.id)).toEqual(exact.map((m) => m.id));
        expect(fast[0]!.confidence >= floor).toBe(exact[0]!.confidence >= floor);
        if (exact[0]!.confidence >= floor) exactAbove++;
        fast.forEach((m, i) => {
          if (m.confidence === exact[i]!.confidence) return;
          bounded++;
          expect(m.confidence).toBeGreaterThan(exact[i]!.confidence);
          expect(m.confidence).toBeLessThan(floor);
        });
      }
      expect(bounded).toBeGreaterThan(0);
      expect(exactAbove).toBeGreaterThan(0);
    }
  });

  test("a brief search has the same matches and confidences, without signals and explanations", async () => {
    const kb = await openKb();
    await kb.upsert(SHOP_FAQ);
    for (const q of ["怎么退货", "I forgot my password", "what's the weather"]) {
      const full = await kb.search(q, { k: 3 });
      const brief = await kb.search(q, { k: 3, brief: true });
      expect(brief.matches).toEqual(full.matches.map(({ signals: _s, explanation: _e, ...m }) => m));
      expect(brief.matches.every((m) => !("signals" in m) && !("explanation" in m))).toBe(true);
    }
  });

  test("documents are chunked and searchable", async () => {
    const kb = await openKb();
    const text = `${"配送说明。".repeat(50)}\n\n偏远地区的快递需要额外三到五天，请耐心等待。\n\n${"售后政策。".repeat(50)}`;
    const r = await kb.documents.upsert({ title: "配送与售后", text }, { size: 120, overlap: 20 });
    expect(r.action).toBe("added");
    expect(r.chunks).toBeGreaterThan(2);
    const hits = await kb.documents.search("偏远地区快递要多久", kb.termStats(), 3);
    expect(hits[0]!.text).toContain("偏远地区");
    expect((await kb.documents.upsert({ id: r.id, title: "配送与售后", text }, { size: 120, overlap: 20 })).action).toBe("unchanged");
    expect((await kb.documents.upsert({ id: r.id, title: "配送与售后", text: `${text}\n\n新增内容` })).action).toBe("updated");
    expect(await kb.documents.delete(r.id)).toBe(true);
    expect(await kb.documents.search("偏远地区", kb.termStats())).toEqual([]);
  });
});
