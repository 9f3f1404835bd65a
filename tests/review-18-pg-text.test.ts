/**
 * Review 18 (R2): text SQLite stores that PostgreSQL refuses. PostgreSQL's text cannot hold U+0000 (22021
 * "invalid byte sequence for encoding UTF8: 0x00"); SQLite's can. A visitor message, note or canned reply
 * with a NUL in it (a paste from a binary file, a client bug) was stored on one node and a 500 on a cluster,
 * and one such row in a single-node install made `kefu migrate-storage` fail as a whole.
 */
import { describe, expect, test } from "bun:test";
import { createCannedStore } from "../src/canned/store";
import { createConversationStore } from "../src/chat/conversation-store";
import { createNoteStore } from "../src/chat/note-store";
import { createVisitorStore } from "../src/chat/visitor-store";
import { createUserStore } from "../src/auth/user-store";
import type { Sql } from "../src/storage/sql";
import { skipUnless } from "./helpers/services";
import { copiedInstall, useMigratedPg } from "./review-18-pg-helpers";

const pgSkip = await skipUnless({ pg: true }, "review-18 PostgreSQL text tests");

async function writeEverything(sql: Sql) {
  const visitors = createVisitorStore(sql);
  const convs = createConversationStore(sql);
  const { visitor } = await visitors.create("en");
  const conv = (await convs.create(visitor.id, "en"))!;
  const msg = await convs.appendText(conv.id, { sender: "visitor", text: "bad\u0000byte", clientId: "c1" });
  const users = createUserStore(sql);
  const agent = await users.add({ name: "agent1", role: "agent", passwordHash: "x" });
  const note = await createNoteStore(sql).add(conv.id, agent.id, "n1", "note\u0000text");
  const canned = await createCannedStore(sql).add(agent.id, { shortcut: "nul", title: "t\u0000", text: "hi\u0000there", shared: false });
  return { conv, msg, note, canned };
}

describe.skipIf(pgSkip)("review 18: text with U+0000 on PostgreSQL", () => {
  const pgOf = useMigratedPg();

  test("a message, note and canned reply with a NUL are stored (the NUL as U+FFFD), not a server error", async () => {
    const pg = pgOf();
    const { conv, msg } = await writeEverything(pg);
    expect(msg).toBeTruthy();
    const stored = await createConversationStore(pg).messagesAfter(conv.id, 0);
    expect(stored.map((m) => m.text)).toEqual(["bad\uFFFDbyte"]);
    expect(await pg.get("SELECT text FROM chat_notes")).toEqual({ text: "note\uFFFDtext" });
    expect(await pg.get("SELECT title, text FROM canned_replies")).toEqual({ title: "t\uFFFD", text: "hi\uFFFDthere" });
  });

  test("migrate-storage copies an install whose rows hold a NUL", async () => {
    await copiedInstall(
      async (lite) => void (await writeEverything(lite)),
      async (to) => {
        expect(await to.get("SELECT count(*) AS n FROM chat_messages")).toEqual({ n: 1 });
        expect(await to.get("SELECT text FROM chat_messages")).toEqual({ text: "bad\uFFFDbyte" });
      },
    );
  }, 30_000);
});
