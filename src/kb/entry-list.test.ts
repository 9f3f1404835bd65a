import { describe, expect, test } from "bun:test";
import { listEntries } from "./entry-list";
import { openKb, SHOP_FAQ } from "./test/helpers";

/** docs/api.md: `GET /entries?q=` is "a substring of the id, question, an alternative or the answer, any case". */
describe("listEntries q", () => {
  test("matches a part of the id, any case (the console's search for demo- finds the demo entries)", async () => {
    const kb = await openKb();
    await kb.upsert([...SHOP_FAQ, { id: "demo-gift-wrap", question: "Do you gift-wrap?", answer: "Yes, for 2 euros." }]);
    expect(listEntries(kb.db, { q: "DEMO-" }).entries.map((e) => e.id)).toEqual(["demo-gift-wrap"]);
    expect(listEntries(kb.db, { q: "passw" }).entries.map((e) => e.id)).toEqual(["password"]);
    expect(listEntries(kb.db, { q: "hours" }).entries.map((e) => e.id)).toEqual(["hours"]);
    kb.close();
  });
});
