import { describe, expect, test } from "bun:test";
import { defaultDocumentId, legacyDocumentId } from "./documents.ts";
import { importText } from "./import/apply.ts";
import { HookedEmbedder, memoryDb, openKb } from "./test/helpers.ts";

describe("document ids", () => {
  // Same title, same length, different content.
  const returns = "七天无理由退货，运费买家出。";
  const warranty = "整机保修一年，电池保修半年。";

  test("two documents with the same title and text length but different text both survive, searchable", async () => {
    expect(returns.length).toBe(warranty.length);
    const kb = await openKb();
    const a = await kb.documents.upsert({ title: "售后说明", text: returns });
    const b = await kb.documents.upsert({ title: "售后说明", text: warranty });
    expect([a.action, b.action]).toEqual(["added", "added"]);
    expect(a.id).not.toBe(b.id);
    expect(kb.documents.list().length).toBe(2);
    expect(kb.documents.get(a.id)!.text).toBe(returns);
    expect(kb.documents.get(b.id)!.text).toBe(warranty);
    expect((await kb.documents.search("退货运费", kb.termStats(), 1))[0]!.documentId).toBe(a.id);
    expect((await kb.documents.search("电池保修", kb.termStats(), 1))[0]!.documentId).toBe(b.id);
  });

  test("the same document imported again is unchanged; an edit without an id is added beside it", async () => {
    const kb = await openKb();
    const first = await importText(kb, returns, { format: "document", documentTitle: "after-sales.txt" });
    const again = await importText(kb, returns, { format: "document", documentTitle: "after-sales.txt" });
    expect(first.documents[0]!.action).toBe("added");
    expect(again.documents[0]).toMatchObject({ id: first.documents[0]!.id, action: "unchanged" });
    // Title case and width are folded, the text is compared exactly.
    expect(defaultDocumentId("ＡＦＴＥＲ-sales.txt", returns)).toBe(first.documents[0]!.id);
    const edited = await importText(kb, warranty, { format: "document", documentTitle: "after-sales.txt" });
    expect(edited.documents[0]!.action).toBe("added");
    expect(kb.documents.get(first.documents[0]!.id)!.text).toBe(returns);
    // Replacing in place takes the id.
    const replaced = await importText(kb, `${warranty}\n\n以旧换新另议。`, {
      format: "document",
      documentTitle: "after-sales.txt",
      documentId: first.documents[0]!.id,
    });
    expect(replaced.documents[0]).toMatchObject({ id: first.documents[0]!.id, action: "updated" });
    expect(kb.documents.list().length).toBe(2);
  });

  test("a document stored under an earlier version's id is found again only when title and text are the same", async () => {
    const db = memoryDb();
    const kb = await openKb({}, db);
    const old = await kb.documents.upsert({ id: legacyDocumentId("售后说明", returns), title: "售后说明", text: returns });
    expect(await kb.documents.upsert({ title: "售后说明", text: returns })).toMatchObject({ id: old.id, action: "unchanged" });
    // Same legacy id (same title, same length), other text: added, the old document untouched.
    expect(legacyDocumentId("售后说明", warranty)).toBe(old.id);
    const other = await kb.documents.upsert({ title: "售后说明", text: warranty });
    expect(other).toMatchObject({ id: defaultDocumentId("售后说明", warranty), action: "added" });
    expect(kb.documents.get(old.id)!.text).toBe(returns);
  });
});

describe("document search", () => {
  test("with no documents it answers nothing without embedding the query; with one it finds it", async () => {
    const embedder = new HookedEmbedder();
    const embedded: string[][] = [];
    embedder.before = (texts) => {
      embedded.push(texts);
    };
    const kb = await openKb({ embedder });
    embedded.length = 0;
    expect(await kb.documents.search("退货运费", kb.termStats(), 3)).toEqual([]);
    expect(embedded).toEqual([]);
    await kb.documents.upsert({ title: "售后说明", text: "七天无理由退货，运费买家出。" });
    expect((await kb.documents.search("退货运费", kb.termStats(), 3))[0]!.title).toBe("售后说明");
    await kb.documents.delete((kb.documents.list()[0]!).id);
    expect(await kb.documents.search("退货运费", kb.termStats(), 3)).toEqual([]);
  });
});
