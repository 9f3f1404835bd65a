import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { hashToken } from "../src/auth/token-store";
import { createConversationStore } from "../src/chat/conversation-store";
import { createVisitorStore } from "../src/chat/visitor-store";
import { migrate } from "../src/storage/migrate";
import { createSqliteSql } from "../src/storage/sqlite-driver";
import { allMigrations } from "../src/storage/migrations";

/** chat-003 on a database written before issue 12: old tokens keep working, the queue's last_visitor_seq is filled in. */
test("chat-003 keeps existing visitor tokens and backfills last_visitor_seq", async () => {
  const db = new Database(":memory:");
  const upTo = allMigrations.findIndex((m) => m.id === "chat-003");
  migrate(db, allMigrations.slice(0, upTo));
  db.run("INSERT INTO chat_visitors (id, token_hash, lang, created_at, last_seen_at) VALUES ('v_old', ?, 'zh', 1, 1)", [hashToken("kfv_old-token")]);
  db.run("INSERT INTO chat_conversations (id, visitor_id, state, lang, last_seq, created_at, updated_at) VALUES ('c_old', 'v_old', 'queued', 'zh', 3, 1, 1)");
  const insert = db.query("INSERT INTO chat_messages (conversation_id, seq, kind, sender, text, created_at) VALUES ('c_old', ?, ?, ?, ?, 1)");
  insert.run(1, "text", "visitor", "我要退货");
  insert.run(2, "text", "bot", "好的");
  insert.run(3, "state", "system", "正在为您转接人工客服");

  migrate(db, allMigrations);
  expect(await createVisitorStore(createSqliteSql(db)).byToken("kfv_old-token")).toEqual({ id: "v_old", lang: "zh" });
  expect(db.query("SELECT last_visitor_seq, tags, context FROM chat_conversations WHERE id = 'c_old'").get()).toEqual({ last_visitor_seq: 1, tags: "[]", context: null });
  db.close();
});

/** chat-004 (issue 13) on a database with offers already stored: the newest offer is found through the new index. */
test("chat-004 indexes the offers already stored: the newest offer and whether it is the newest bot message", async () => {
  const db = new Database(":memory:");
  const upTo = allMigrations.findIndex((m) => m.id === "chat-004");
  migrate(db, allMigrations.slice(0, upTo));
  db.run("INSERT INTO chat_visitors (id, token_hash, lang, created_at, last_seen_at) VALUES ('v1', 'h', 'en', 1, 1)");
  db.run("INSERT INTO chat_conversations (id, visitor_id, state, lang, last_seq, created_at, updated_at) VALUES ('c1', 'v1', 'bot', 'en', 4, 1, 1)");
  const insert = db.query("INSERT INTO chat_messages (conversation_id, seq, kind, sender, text, meta, created_at) VALUES ('c1', ?, 'text', ?, ?, ?, 1)");
  const offer = (q: string) => JSON.stringify({ choices: [{ entry_id: `e-${q}`, question: q }] });
  insert.run(1, "bot", "did you mean", offer("old"));
  insert.run(2, "visitor", "hm", null);
  insert.run(3, "bot", "did you mean", offer("new"));
  insert.run(4, "visitor", "2", null);

  migrate(db, allMigrations);
  const convs = createConversationStore(createSqliteSql(db));
  expect(await convs.latestChoices("c1")).toEqual({ choices: [{ entry_id: "e-new", question: "new" }], latest: true });
  db.run("INSERT INTO chat_messages (conversation_id, seq, kind, sender, text, meta, created_at) VALUES ('c1', 5, 'text', 'bot', 'plain', ?, 1)", [JSON.stringify({ sources: [] })]);
  expect(await convs.latestChoices("c1")).toEqual({ choices: [{ entry_id: "e-new", question: "new" }], latest: false });
  expect(await convs.latestChoices("nobody")).toEqual({ choices: [], latest: false });
  db.close();
});
