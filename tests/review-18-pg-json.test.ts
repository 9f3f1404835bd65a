/**
 * Review 18 (R2): JSON text that SQLite's json functions read and PostgreSQL's jsonb refuses. JSON.stringify
 * writes a NUL in a string as the escape \u0000 and a lone surrogate as \udXXX; a TEXT column takes both on
 * either backend, but `::jsonb` fails on them (22P05 / 22P02). On PostgreSQL the stores cast chat_messages.meta
 * (offered choices, the offers index on every bot insert, the dashboard) and chat_conversations.tags (the tag
 * filter of the conversation browser) to jsonb, so one tag with such a character made every tag-filtered
 * search a 500, and a bot reply offering a knowledge-base question with one could not be stored at all.
 */
import { describe, expect, test } from "bun:test";
import { createConversationStore } from "../src/chat/conversation-store";
import { createVisitorStore } from "../src/chat/visitor-store";
import { dashboard } from "../src/insights/dashboard";
import type { Sql } from "../src/storage/sql";
import { skipUnless } from "./helpers/services";
import { copiedInstall, useMigratedPg } from "./review-18-pg-helpers";

const pgSkip = await skipUnless({ pg: true }, "review-18 PostgreSQL JSON tests");
const BAD = ["nul\u0000here", "lone \ud800 high", "lone \udc00 low"];

async function conversation(sql: Sql) {
  const { visitor } = await createVisitorStore(sql).create("en");
  return (await createConversationStore(sql).create(visitor.id, "en"))!;
}

describe.skipIf(pgSkip)("review 18: JSON with \\u0000 or lone surrogates on PostgreSQL", () => {
  const pgOf = useMigratedPg();

  test("a tag with such a character does not break the tag filter for every conversation", async () => {
    const pg = pgOf();
    const convs = createConversationStore(pg);
    const odd = await conversation(pg);
    await convs.setTags(odd.id, BAD);
    const vip = await conversation(pg);
    await convs.setTags(vip.id, ["vip"]);
    expect((await convs.search({ tag: "vip", limit: 10 })).map((s) => s.conversation_id)).toEqual([vip.id]);
    expect(await convs.searchTotal({ tag: "vip", limit: 10 })).toBe(1);
    expect((await convs.search({ tag: "nul\uFFFDhere", limit: 10 })).map((s) => s.conversation_id)).toEqual([odd.id]);
  });

  test("a bot reply offering a choice whose question has such a character is stored, and its choices are read", async () => {
    const pg = pgOf();
    const convs = createConversationStore(pg);
    const conv = await conversation(pg);
    await convs.appendText(conv.id, { sender: "visitor", text: "hi", clientId: "c1" });
    const choices = BAD.map((q, i) => ({ entry_id: `e${i}`, question: q }));
    await convs.appendText(conv.id, { sender: "bot", text: "did you mean", meta: { choices } as never });
    const got = await convs.latestChoices(conv.id);
    expect(got.latest).toBe(true);
    expect(got.choices.map((c) => c.entry_id)).toEqual(["e0", "e1", "e2"]);
    expect(await convs.offeredChoice(conv.id, "e1")).toMatchObject({ entry_id: "e1" });
    await dashboard(pg, { days: 7, timezone: "UTC" });
  });

  test("migrate-storage: rows an older kefu wrote with such JSON are readable through jsonb after the copy", async () => {
    let id = "";
    await copiedInstall(
      async (lite, db) => {
        const conv = await conversation(lite);
        id = conv.id;
        await createConversationStore(lite).appendText(conv.id, { sender: "visitor", text: "hi", clientId: "c1" });
        // As stored before this fix: plain JSON.stringify.
        db.query("UPDATE chat_conversations SET tags = ? WHERE id = ?").run(JSON.stringify([...BAD, "vip"]), conv.id);
        db.query("INSERT INTO chat_messages (conversation_id, seq, kind, sender, text, meta, created_at) VALUES (?, 2, 'text', 'bot', 'x', ?, ?)").run(
          conv.id,
          JSON.stringify({ choices: BAD.map((q, i) => ({ entry_id: `e${i}`, question: q })) }),
          Date.now(),
        );
        db.query("UPDATE chat_conversations SET last_seq = 2 WHERE id = ?").run(conv.id);
      },
      async (to) => {
        const convs = createConversationStore(to);
        expect((await convs.search({ tag: "vip", limit: 10 })).map((s) => s.conversation_id)).toEqual([id]);
        expect((await convs.latestChoices(id)).choices.map((c) => c.entry_id)).toEqual(["e0", "e1", "e2"]);
      },
    );
  }, 30_000);
});
