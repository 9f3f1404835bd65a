/**
 * The store contract for the chat and auth stores (conversations and messages, visitors, notes, agent status,
 * users, tokens, canned replies) on both backends (tests/store-contract-backends.ts). On PostgreSQL `a` and
 * `b` are two separate pools: two nodes writing the same conversation at once.
 */
import { beforeEach, describe, expect, test } from "bun:test";
import { createTokenStore, createAskTokenStore } from "../src/auth/token-store";
import { createUserStore } from "../src/auth/user-store";
import { createCannedStore, DuplicateShortcut } from "../src/canned/store";
import { createConversationStore, type ConversationStore } from "../src/chat/conversation-store";
import { createNoteStore } from "../src/chat/note-store";
import { createAgentStatusStore } from "../src/chat/presence";
import { createVisitorStore, type VisitorStore } from "../src/chat/visitor-store";
import type { Sql } from "../src/storage/sql";
import { backends, useBackend, type Backend } from "./store-contract-backends";

function chatContract(backend: Backend) {
  const opened = useBackend(backend);
  let a: Sql;
  let b: Sql;
  let convs: [ConversationStore, ConversationStore];
  let visitors: [VisitorStore, VisitorStore];
  beforeEach(() => {
    ({ a, b } = opened());
    convs = [createConversationStore(a), createConversationStore(b)];
    visitors = [createVisitorStore(a), createVisitorStore(b)];
  });
  const newConversation = async (lang: "zh" | "en" = "zh") => {
    const { visitor } = await visitors[0].create(lang);
    const conv = await convs[0].create(visitor.id, lang);
    return { visitor, conv: conv! };
  };

  describe("conversations and messages", () => {
    test("create, append, read back in every order; the draft id is kept; a second create of it is null", async () => {
      const { visitor } = await visitors[0].create("en");
      const draft = convs[0].draft(visitor.id, "en");
      const conv = await convs[0].create(visitor.id, "en", draft.id, { url: "/cart", title: "购物车" });
      expect(conv!.id).toBe(draft.id);
      expect(await convs[1].create(visitor.id, "en", draft.id)).toBeNull();
      for (let i = 1; i <= 6; i++) await convs[i % 2].appendText(conv!.id, { sender: i % 2 ? "visitor" : "bot", text: `m${i}`, clientId: i % 2 ? `c${i}` : undefined });
      expect((await convs[1].messagesAfter(conv!.id, 2)).map((m) => m.seq)).toEqual([3, 4, 5, 6]);
      expect((await convs[0].tail(conv!.id, 2)).map((m) => m.text)).toEqual(["m5", "m6"]);
      expect((await convs[0].newestFirst(conv!.id, 2)).map((m) => m.text)).toEqual(["m6", "m5"]);
      expect((await convs[1].lastTextMessages(conv!.id, 3)).map((m) => m.seq)).toEqual([4, 5, 6]);
      const got = await convs[1].get(conv!.id);
      expect(got).toMatchObject({ lastSeq: 6, state: "bot", visitorId: visitor.id });
      expect(await convs[0].openOf(visitor.id)).toMatchObject({ id: conv!.id });
      expect(await convs[1].context(conv!.id)).toEqual({ url: "/cart", title: "购物车" });
      expect((await convs[0].summary(conv!.id))!.last_visitor_seq).toBe(5);
    });

    test("seq is gap-free under 50 concurrent appends from two nodes", async () => {
      const { conv } = await newConversation();
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => {
          const store = convs[i % 2];
          const sql = i % 2 ? b : a;
          const m = { sender: "visitor" as const, text: `msg ${i}`, clientId: `k${i}` };
          // Half through group commit (as the sockets write), half as plain transactions.
          return i % 4 < 2 ? sql.batch(() => store.appendText(conv.id, m)) : store.appendText(conv.id, m);
        }),
      );
      expect(results.map((r) => r.message.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      const stored = await convs[1].messagesAfter(conv.id, 0, 1000);
      expect(stored.map((m) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(new Set(stored.map((m) => m.clientId)).size).toBe(50);
      expect((await convs[0].get(conv.id))!.lastSeq).toBe(50);
    }, 30_000);

    test("client_id is idempotent: a retry returns the stored message; another sender's reuse is refused", async () => {
      const { conv } = await newConversation();
      const first = await convs[0].appendText(conv.id, { sender: "visitor", text: "hello", clientId: "same" });
      const again = await convs[1].appendText(conv.id, { sender: "visitor", text: "hello", clientId: "same" });
      expect(first.duplicate).toBe(false);
      expect(again).toMatchObject({ duplicate: true, message: { seq: first.message.seq, text: "hello" } });
      const err = await convs[1].appendText(conv.id, { sender: "agent", agentId: 1, text: "x", clientId: "same" }).catch((e) => e);
      expect(err.code).toBe("duplicate_client_id");
      expect((await convs[0].get(conv.id))!.lastSeq).toBe(1);
    });

    test("the same client_id sent to two nodes at once is stored once; both get the stored message", async () => {
      const { conv } = await newConversation();
      for (let round = 0; round < 10; round++) {
        const m = { sender: "visitor" as const, text: `r${round}`, clientId: `dup-${round}` };
        const [x, y] = await Promise.all([convs[0].appendText(conv.id, m), convs[1].appendText(conv.id, m)]);
        expect(x.message.seq).toBe(y.message.seq);
        expect([x.duplicate, y.duplicate].sort()).toEqual([false, true]);
      }
      expect((await convs[0].messagesAfter(conv.id, 0)).map((m) => m.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    }, 30_000);

    test("changeState: two nodes moving the same queued conversation at once, 20 times: exactly one winner each time", async () => {
      const users = createUserStore(a);
      const u1 = await users.add({ name: `agent-one-${backend.name}`, role: "agent", passwordHash: "x" });
      const u2 = await users.add({ name: `agent-two-${backend.name}`, role: "agent", passwordHash: "x" });
      for (let round = 0; round < 20; round++) {
        const { conv } = await newConversation();
        expect(await convs[0].changeState(conv.id, "bot", "queued", null, { sender: "system", text: "queued", meta: { reason: "keyword" } })).not.toBeNull();
        const [x, y] = await Promise.all([
          convs[0].changeState(conv.id, "queued", "agent", u1.id, { sender: "system", text: "claimed" }),
          convs[1].changeState(conv.id, "queued", "agent", u2.id, { sender: "system", text: "claimed" }),
        ]);
        const winners = [x, y].filter((r) => r !== null);
        expect(winners).toHaveLength(1);
        const after = await convs[0].get(conv.id);
        expect(after).toMatchObject({ state: "agent", agentId: x ? u1.id : u2.id, lastSeq: 2 });
        expect((await convs[1].messagesAfter(conv.id, 0)).map((m) => [m.seq, m.kind, m.meta?.state])).toEqual([
          [1, "state", "queued"],
          [2, "state", "agent"],
        ]);
      }
      const loads = await convs[1].loads();
      expect((loads.get(u1.id) ?? 0) + (loads.get(u2.id) ?? 0)).toBe(20);
      expect((await convs[0].ownedBy(u1.id)).length).toBe(loads.get(u1.id) ?? 0);
    }, 60_000);

    test("queue order, offered choices (JSON in meta), read marks, tags, rating and search", async () => {
      const { visitor, conv } = await newConversation();
      await convs[0].appendText(conv.id, { sender: "visitor", text: "Where is my Parcel?" });
      await convs[0].appendText(conv.id, {
        sender: "bot",
        text: "did you mean",
        meta: { choices: [{ entry_id: "e1", question: "运费多少" }, { entry_id: "e2", question: "退货" }] },
      });
      expect(await convs[1].offeredChoice(conv.id, "e2")).toEqual({ entry_id: "e2", question: "退货" });
      expect(await convs[1].offeredChoice(conv.id, "nope")).toBeNull();
      expect(await convs[1].latestChoices(conv.id)).toEqual({ choices: [{ entry_id: "e1", question: "运费多少" }, { entry_id: "e2", question: "退货" }], latest: true });
      await convs[0].appendText(conv.id, { sender: "bot", text: "anything else?" });
      expect((await convs[1].latestChoices(conv.id)).latest).toBe(false);
      await convs[0].setVisitorRead(conv.id, 3);
      await convs[1].setVisitorRead(conv.id, 1); // never lowers
      expect((await a.get<{ visitor_read_seq: number }>("SELECT visitor_read_seq FROM chat_conversations WHERE id = ?", [conv.id]))!.visitor_read_seq).toBe(3);
      await convs[0].setTags(conv.id, ["vip", "退款"]);
      expect(await convs[1].rate(conv.id, visitor.id, { score: 4, comment: "ok" } as never)).toBe(true);
      expect(await convs[1].rate(conv.id, "someone-else", { score: 1 } as never)).toBe(false);
      await visitors[1].describe(visitor.id, { name: "Zhang San", email: "zs@example.com" });
      // Case-insensitive text search (SQLite LIKE, PostgreSQL ILIKE), by message text, visitor name, tag and rating.
      for (const f of [{ q: "parcel" }, { q: "zhang" }, { visitor: "ZS@EXAMPLE" }, { tag: "退款" }, { rating: 4 }]) {
        const found = await convs[1].search({ ...f, limit: 10 });
        expect({ f, ids: found.map((s) => s.conversation_id) }).toEqual({ f, ids: [conv.id] });
        expect(await convs[0].searchTotal({ ...f, limit: 10 })).toBe(1);
      }
      const s = (await convs[0].summary(conv.id))!;
      expect(s).toMatchObject({ tags: ["vip", "退款"], rating: { score: 4, comment: "ok" }, last_text: "Where is my Parcel?", visitor: { name: "Zhang San" } });
      // The queue: oldest first on both nodes.
      const q1 = await newConversation();
      const q2 = await newConversation();
      await convs[1].changeState(q1.conv.id, "bot", "queued", null, { sender: "system", text: "q", meta: { reason: "first" } });
      await Bun.sleep(3);
      await convs[0].changeState(q2.conv.id, "bot", "queued", null, { sender: "system", text: "q", meta: { reason: "second" } });
      const queue = (await convs[0].queued()).map((x) => x.conversation_id);
      expect(queue.indexOf(q1.conv.id)).toBeLessThan(queue.indexOf(q2.conv.id));
      expect((await convs[1].queued()).find((x) => x.conversation_id === q1.conv.id)!.queued_reason).toBe("first");
    });
  });

  describe("visitors", () => {
    test("tokens, verified identity, describe and touch across nodes", async () => {
      const { visitor, token } = await visitors[0].create("zh");
      expect(await visitors[1].byToken(token)).toEqual({ id: visitor.id, lang: "zh" });
      expect(await visitors[1].byToken("not-a-token")).toBeNull();
      const second = await visitors[1].issueToken(visitor.id);
      expect(await visitors[0].byToken(second)).toEqual({ id: visitor.id, lang: "zh" });
      expect(await visitors[0].byToken(token)).toEqual({ id: visitor.id, lang: "zh" });
      await visitors[1].describe(visitor.id, { name: "Guest", externalId: "u-1" });
      expect(await visitors[0].identity(visitor.id)).toMatchObject({ name: "Guest", externalId: "u-1", verified: false });
      await visitors[0].verify(visitor.id, `shop-${backend.name}-1`, "Li Si", "ls@example.com");
      expect(await visitors[1].byVerifiedUser(`shop-${backend.name}-1`)).toEqual({ id: visitor.id, lang: "zh" });
      await visitors[1].describe(visitor.id, { name: "Someone Else" }); // a verified visitor keeps its identity
      expect(await visitors[0].identity(visitor.id)).toMatchObject({ name: "Li Si", email: "ls@example.com", verified: true });
      await visitors[1].touch(visitor.id, "en");
      expect(await visitors[0].byToken(token)).toEqual({ id: visitor.id, lang: "en" });
    });
  });

  describe("notes", () => {
    test("a repeated client_id (also from two nodes at once) is stored once", async () => {
      const { conv } = await newConversation();
      const notes = [createNoteStore(a), createNoteStore(b)];
      const first = await notes[0]!.add(conv.id, 3, "n1", "call back at 5");
      expect(first.duplicate).toBe(false);
      expect(await notes[1]!.add(conv.id, 3, "n1", "call back at 5")).toMatchObject({ duplicate: true, note: { id: first.note.id } });
      const [x, y] = await Promise.all([notes[0]!.add(conv.id, 3, "n2", "x"), notes[1]!.add(conv.id, 3, "n2", "x")]);
      expect(x.note.id).toBe(y.note.id);
      expect([x.duplicate, y.duplicate].sort()).toEqual([false, true]);
      expect((await notes[1]!.list(conv.id)).map((n) => n.clientId)).toEqual(["n1", "n2"]);
    });
  });

  describe("users and agent status", () => {
    test("names are unique and found whatever their case; update; the last admin cannot be disabled even from two nodes at once", async () => {
      const users = [createUserStore(a), createUserStore(b)];
      const alice = await users[0]!.add({ name: `Alice-${backend.name}`, role: "admin", passwordHash: "h" });
      const err = await users[1]!.add({ name: `ALICE-${backend.name}`, role: "agent", passwordHash: "h" }).catch((e) => e);
      expect(err.status).toBe(409);
      expect((await users[1]!.credentials(`alice-${backend.name}`))?.user.id).toBe(alice.id);
      const bob = await users[1]!.add({ name: `bob-${backend.name}`, role: "admin", passwordHash: "h", maxConcurrent: 2 });
      expect(await users[0]!.get(bob.id)).toMatchObject({ maxConcurrent: 2, disabled: false, role: "admin" });
      // Every other admin of this database is disabled first, so alice and bob are the last two.
      for (const u of await users[0]!.list()) if (u.role === "admin" && u.id !== alice.id && u.id !== bob.id) await users[0]!.update(u.id, { disabled: true });
      const settled = await Promise.allSettled([users[0]!.update(alice.id, { disabled: true }), users[1]!.update(bob.id, { disabled: true })]);
      expect(settled.filter((s) => s.status === "fulfilled")).toHaveLength(1);
      expect((settled.find((s) => s.status === "rejected") as PromiseRejectedResult).reason.code).toBe("last_admin");
      const enabledAdmins = (await users[0]!.list()).filter((u) => u.role === "admin" && !u.disabled);
      expect(enabledAdmins).toHaveLength(1);
      const status = [createAgentStatusStore(a), createAgentStatusStore(b)];
      expect(await status[0]!.get(bob.id)).toBe("online");
      await status[1]!.set(bob.id, "away");
      expect(await status[0]!.get(bob.id)).toBe("away");
    }, 30_000);
  });

  describe("tokens", () => {
    test("session tokens: issue, resolve on the other node, idle and absolute expiry, revoke; API tokens", async () => {
      let now = 1_796_000_000_000;
      const u = await createUserStore(a).add({ name: `tok-${backend.name}`, role: "agent", passwordHash: "h" });
      const life = { ttlMs: 3_600_000, idleMs: 600_000, now: () => now };
      const tokens = [createTokenStore(a, life), createTokenStore(b, life)];
      const t1 = await tokens[0]!.issue(u.id);
      expect(t1.expiresAt).toBe(now + 3_600_000);
      expect(await tokens[1]!.resolve(t1.token)).toBe(u.id);
      now += 599_000;
      expect(await tokens[1]!.resolve(t1.token)).toBe(u.id); // used: idle clock restarts
      now += 599_000;
      expect(await tokens[0]!.resolve(t1.token)).toBe(u.id);
      now += 600_001;
      expect(await tokens[0]!.resolve(t1.token)).toBeNull(); // idle too long
      const t2 = await tokens[1]!.issue(u.id);
      expect(await tokens[0]!.revoke(t2.token)).toBe(u.id);
      expect(await tokens[1]!.resolve(t2.token)).toBeNull();
      const t3 = await tokens[0]!.issue(u.id);
      await tokens[1]!.revokeAll(u.id);
      expect(await tokens[0]!.resolve(t3.token)).toBeNull();
      const ask = [createAskTokenStore(a), createAskTokenStore(b)];
      const made = (await ask[0]!.create("shop", "admin"))!;
      expect(await ask[1]!.check(made.token)).toBe(true);
      expect(await ask[1]!.check("kfa_nope")).toBe(false);
      expect((await ask[0]!.list()).map((t) => t.label)).toContain("shop");
      expect(await ask[1]!.revoke(made.record.id)).toBe(true);
      expect(await ask[0]!.check(made.token)).toBe(false);
    });
  });

  describe("canned replies", () => {
    test("own and shared replies, duplicate shortcuts per owner, update and delete across nodes", async () => {
      const users = createUserStore(a);
      const x = await users.add({ name: `canned-x-${backend.name}`, role: "agent", passwordHash: "h" });
      const y = await users.add({ name: `canned-y-${backend.name}`, role: "agent", passwordHash: "h" });
      const canned = [createCannedStore(a), createCannedStore(b)];
      const mine = await canned[0]!.add(x.id, { shortcut: "/hi", title: null, text: "您好", shared: false });
      await canned[1]!.add(y.id, { shortcut: "/hi", title: "Hi", text: "hello", shared: true });
      await canned[1]!.add(y.id, { shortcut: "/bye", title: null, text: "bye", shared: false });
      expect(await canned[1]!.add(x.id, { shortcut: "/hi", title: null, text: "again", shared: false }).catch((e) => e)).toBeInstanceOf(DuplicateShortcut);
      // Mine first, then the others' shared ones.
      expect((await canned[1]!.visibleTo(x.id, 10)).map((r) => [r.ownerId, r.shortcut])).toEqual([
        [x.id, "/hi"],
        [y.id, "/hi"],
      ]);
      expect(await canned[0]!.countOwned(y.id)).toBe(2);
      expect(await canned[1]!.update(mine.id, { shortcut: "/hello", title: "t", text: "您好！", shared: true })).toMatchObject({ shortcut: "/hello", shared: true });
      expect(await canned[0]!.get(mine.id)).toMatchObject({ text: "您好！", title: "t" });
      expect(await canned[0]!.delete(mine.id)).toBe(true);
      expect(await canned[1]!.delete(mine.id)).toBe(false);
    });
  });
}

for (const backend of backends) {
  describe.skipIf(backend.skip)(`chat and auth store contract — ${backend.name}`, () => chatContract(backend));
}
