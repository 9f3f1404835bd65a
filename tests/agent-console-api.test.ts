import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { TestServer } from "./helpers/server";
import { agent, cid, makeAgent, scriptedBot, startChatServer, visitor } from "./helpers/ws-client";

/**
 * Issue 12: what the agent console reads — the "All open" list, summaries that show the visitor's last
 * question, conversation detail, search, private notes, tags, knowledge-base suggestions — and REST close
 * refused to an agent who does not own the conversation.
 */
let s: TestServer;
let admin: string;
beforeAll(async () => {
  s = await startChatServer({}, scriptedBot());
  admin = await s.login("admin");
});
afterAll(() => s.stop());

const call = async (method: string, path: string, token = admin, body?: unknown) => {
  const res = await fetch(`${s.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
};
const get = (path: string, token = admin) => call("GET", path, token);

/** A visitor who wrote `texts` and then asked for a human (nobody online: a ticket). */
async function ticket(texts: string[], hello: object = {}) {
  const v = await visitor(s.wsUrl, { lang: "en", ...hello });
  for (const text of texts) {
    v.c.send({ type: "send", client_id: cid(), text });
    await v.c.nextType("ack");
    await v.c.nextType("message", (f) => f.from === "bot");
  }
  v.c.send({ type: "handoff" });
  await v.c.nextType("message", (f) => f.from === "system");
  return v;
}

describe("summaries and the queue", () => {
  test("last_text is the visitor's last message, not the queue notice; queue.open lists queued and owned conversations of everyone", async () => {
    const v = await ticket(["my parcel is late"]);
    const id = v.welcome.conversation_id;
    const { body: queue } = await get("/api/agent/queue");
    const summary = queue.queued.find((q: any) => q.conversation_id === id);
    expect(summary).toMatchObject({
      last_text: "my parcel is late",
      last_visitor_seq: 1,
      visitor: { id: v.welcome.visitor_id, verified: false },
      tags: [],
      queued_reason: "visitor",
    });
    expect(summary.rating).toBeUndefined();
    expect(queue.open.map((q: any) => q.conversation_id)).toContain(id);

    // Owned by another agent: still in everyone's "All open", not in their "Queued".
    const lin = await makeAgent(s);
    expect((await call("POST", `/api/agent/conversations/${id}/claim`, lin.token)).status).toBe(200);
    const wang = await makeAgent(s);
    const w = await agent(s.wsUrl, wang.token, { presence: null });
    const seen = await w.c.nextType("queue");
    expect(seen.open.find((q: any) => q.conversation_id === id)).toMatchObject({ state: "agent", agent: { id: lin.id } });
    expect(seen.queued.some((q: any) => q.conversation_id === id)).toBe(false);
    expect(seen.mine).toEqual([]);

    // A new visitor message in an open conversation refreshes everyone's queue.
    v.c.send({ type: "send", client_id: cid(), text: "hello?" });
    await v.c.nextType("ack");
    const fresh = await w.c.nextType("queue", (f) => f.open.some((q: any) => q.conversation_id === id && q.last_text === "hello?"));
    expect(fresh.open.find((q: any) => q.conversation_id === id).last_visitor_seq).toBeGreaterThan(1);
    await w.c.close();
    await v.c.close();
  });

  test("open is most recently active first", async () => {
    const first = await ticket([]);
    const second = await ticket([]);
    const { body } = await get("/api/agent/queue");
    const ids = body.open.map((q: any) => q.conversation_id);
    expect(ids.indexOf(second.welcome.conversation_id)).toBeLessThan(ids.indexOf(first.welcome.conversation_id));
    await first.c.close();
    await second.c.close();
  });
});

describe("conversation detail and search", () => {
  test("detail has the context, first_seen_at and the visitor's earlier conversations, newest first", async () => {
    const context = { url: "https://shop.example/p/42", title: "Red shoes", referrer: "https://ads.example/", user_agent: "Mozilla/5.0 (X11)" };
    const v = await visitor(s.wsUrl, { lang: "en", context });
    const ids: string[] = [];
    for (const text of ["first visit", "second visit", "third visit"]) {
      v.c.send({ type: "send", client_id: cid(), text });
      const ack = await v.c.nextType("ack");
      const conv = s.kefu.ctx.db.query<{ conversation_id: string }, [number, string]>(
        "SELECT conversation_id FROM chat_messages WHERE seq = ? AND client_id IS NOT NULL AND text = ?",
      ).get(ack.seq, text)!.conversation_id;
      ids.push(conv);
      expect((await call("POST", `/api/agent/conversations/${conv}/close`)).status).toBe(200);
      await v.c.nextType("state", (f) => f.state === "closed");
    }
    const { status, body } = await get(`/api/agent/conversations/${ids[2]}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ conversation_id: ids[2], state: "closed", last_text: "third visit", context: { ...context, lang: "en" } });
    expect(body.visitor.first_seen_at).toBeLessThanOrEqual(body.created_at);
    expect(body.previous.map((p: any) => p.conversation_id)).toEqual([ids[1], ids[0]]);
    expect(body.previous[0]).toMatchObject({ last_text: "second visit", state: "closed" });
    expect((await get(`/api/agent/conversations/${ids[0]}`)).body.previous).toEqual([]);
    expect((await get("/api/agent/conversations/c_unknown")).status).toBe(404);
    await v.c.close();
  });

  test("search by message text, visitor name, e-mail, shop user id and visitor id; state, limit and before filters", async () => {
    const a = await ticket(["The zebra-striped umbrella broke"], { user: { id: "shop-user-991", name: "Zhang Wei", email: "zw@example.org" } });
    const b = await ticket(["100% cotton?"]);
    const search = async (qs: string) => {
      const r = await get(`/api/agent/conversations?${qs}`);
      expect(r.status).toBe(200);
      return r.body.conversations.map((c: any) => c.conversation_id) as string[];
    };
    const aid = a.welcome.conversation_id;
    const bid = b.welcome.conversation_id;
    for (const q of ["zebra-striped", "ZEBRA", "Zhang", "zw@example", "shop-user-991", a.welcome.visitor_id]) {
      expect({ q, found: (await search(`q=${encodeURIComponent(q)}`)).includes(aid) }).toEqual({ q, found: true });
    }
    expect(await search(`q=${encodeURIComponent("zebra")}`)).not.toContain(bid);
    // LIKE wildcards are literal: "%" finds only the text with a percent sign.
    expect(await search(`q=${encodeURIComponent("100%")}`)).toEqual([bid]);
    expect(await search(`q=${encodeURIComponent("_")}`)).not.toContain(bid);
    expect(await search(`q=zebra&state=closed`)).toEqual([]);
    expect(await search(`q=zebra&state=queued`)).toEqual([aid]);
    const recent = await search("limit=1");
    expect(recent.length).toBe(1);
    const all = await get("/api/agent/conversations?limit=100");
    const oldest = all.body.conversations.at(-1);
    expect(await search(`before=${oldest.updated_at}`)).not.toContain(oldest.conversation_id);
    for (const bad of ["limit=0", "limit=101", "state=open", "before=-1", `q=${"x".repeat(201)}`]) {
      const r = await get(`/api/agent/conversations?${bad}`);
      expect({ bad, status: r.status }).toEqual({ bad, status: 400 });
    }
    await a.c.close();
    await b.c.close();
  });
});

describe("private notes", () => {
  test("a note reaches watching and owning agents, is listed and replayed on watch, and never reaches the visitor", async () => {
    const v = await ticket(["please call me"]);
    const id = v.welcome.conversation_id;
    const lin = await makeAgent(s, { displayName: "小林" });
    const owner = await agent(s.wsUrl, lin.token, { presence: null });
    owner.c.send({ type: "claim", conversation_id: id });
    await owner.c.nextType("assigned");
    const watcher = await agent(s.wsUrl, (await makeAgent(s)).token, { presence: null });
    watcher.c.send({ type: "watch", conversation_id: id, last_seq: 0 });
    await watcher.c.sync();

    const clientId = cid("n");
    owner.c.send({ type: "note", conversation_id: id, client_id: clientId, text: "VIP, refund already done" });
    const mine = await owner.c.nextType("note");
    expect(mine).toMatchObject({ type: "note", conversation_id: id, text: "VIP, refund already done", agent: { id: lin.id, name: "小林" }, client_id: clientId });
    expect(await watcher.c.nextType("note")).toEqual(mine);
    // The same client_id again: the stored note, nobody is told twice.
    owner.c.send({ type: "note", conversation_id: id, client_id: clientId, text: "VIP, refund already done" });
    expect(await owner.c.nextType("note")).toEqual(mine);
    await watcher.c.sync();
    expect(watcher.c.frames.filter((f) => f.type === "note").length).toBe(1);

    const listed = await get(`/api/agent/conversations/${id}/notes`);
    expect(listed).toEqual({ status: 200, body: { notes: [mine] } });
    const late = await agent(s.wsUrl, admin, { presence: null });
    late.c.send({ type: "watch", conversation_id: id, last_seq: 0 });
    expect(await late.c.nextType("note")).toEqual(mine);

    // Not in the stream: the visitor's replay and history API know nothing of it.
    const again = await visitor(s.wsUrl, { token: v.welcome.token, conversation_id: id, last_seq: 0 });
    await again.c.sync();
    await v.c.sync();
    for (const tab of [v, again]) expect(JSON.stringify(tab.c.frames)).not.toContain("VIP");
    const history = await fetch(`${s.url}/api/conversations/${id}/messages`, { headers: { authorization: `Bearer ${v.welcome.token}` } });
    expect(await history.text()).not.toContain("VIP");
    expect((await s.kefu.ctx.chat.getConversation(id))?.lastSeq).toBe(again.welcome.last_seq);
    for (const x of [owner, watcher, late, v, again]) await x.c.close();
  });

  test("bad notes are error frames: empty, too long, unknown conversation, missing client_id", async () => {
    const a = await agent(s.wsUrl, (await makeAgent(s)).token, { presence: null });
    const v = await ticket([]);
    const id = v.welcome.conversation_id;
    a.c.send({ type: "note", conversation_id: id, client_id: "n1", text: "  " });
    expect(await a.c.nextType("error")).toMatchObject({ code: "empty_text", client_id: "n1" });
    a.c.send({ type: "note", conversation_id: id, client_id: "n2", text: "x".repeat(4001) });
    expect(await a.c.nextType("error")).toMatchObject({ code: "text_too_long", client_id: "n2" });
    a.c.send({ type: "note", conversation_id: "c_nope", client_id: "n3", text: "hi" });
    expect(await a.c.nextType("error")).toMatchObject({ code: "not_found", client_id: "n3" });
    a.c.send({ type: "note", conversation_id: id, text: "hi" });
    expect(await a.c.nextType("error")).toMatchObject({ code: "invalid_frame" });
    expect((await get(`/api/agent/conversations/${id}/notes`)).body).toEqual({ notes: [] });
    expect((await get("/api/agent/conversations/c_nope/notes")).status).toBe(404);
    await a.c.close();
    await v.c.close();
  });
});

describe("tags", () => {
  test("tags are replaced, trimmed and deduplicated; agents get a fresh queue; bad tags are 400", async () => {
    const v = await ticket([]);
    const id = v.welcome.conversation_id;
    const w = await agent(s.wsUrl, (await makeAgent(s)).token, { presence: null });
    await w.c.nextType("queue");
    const put = await call("PUT", `/api/agent/conversations/${id}/tags`, admin, { tags: ["退货", " vip ", "vip"] });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ conversation_id: id, tags: ["退货", "vip"] });
    const fresh = await w.c.nextType("queue", (f) => f.queued.some((q: any) => q.conversation_id === id && q.tags.length === 2));
    expect(fresh.open.find((q: any) => q.conversation_id === id).tags).toEqual(["退货", "vip"]);
    expect((await call("PUT", `/api/agent/conversations/${id}/tags`, admin, { tags: [] })).body.tags).toEqual([]);

    for (const tags of [Array.from({ length: 21 }, (_, i) => `t${i}`), ["x".repeat(33)], [""], ["   "], [1], "vip"]) {
      const r = await call("PUT", `/api/agent/conversations/${id}/tags`, admin, { tags });
      expect({ tags, status: r.status }).toEqual({ tags, status: 400 });
    }
    expect((await call("PUT", "/api/agent/conversations/c_nope/tags", admin, { tags: ["a"] })).status).toBe(404);
    await w.c.close();
    await v.c.close();
  });
});

describe("agent assist", () => {
  test("suggestions come from the knowledge base for the visitor's unanswered messages, else their latest one", async () => {
    const v = await ticket(["How do I return an item?"]);
    const id = v.welcome.conversation_id;
    const { status, body } = await get(`/api/agent/conversations/${id}/suggestions`);
    expect(status).toBe(200);
    // Answered by the bot since: the latest visitor message is the question.
    expect(body.question).toBe("How do I return an item?");
    expect(body.suggestions.length).toBeGreaterThan(0);
    expect(body.suggestions.length).toBeLessThanOrEqual(3);
    expect(body.suggestions[0]).toMatchObject({ entry_id: "demo-returns-en", question: "How do I return an item?" });
    expect(body.suggestions[0].answer).toContain("7 days");
    expect(typeof body.suggestions[0].confidence).toBe("number");

    // Claimed (the bot is silent): new messages are the unanswered question, together.
    const lin = await makeAgent(s);
    await call("POST", `/api/agent/conversations/${id}/claim`, lin.token);
    for (const text of ["also", "when will I get my refund?"]) {
      v.c.send({ type: "send", client_id: cid(), text });
      await v.c.nextType("ack");
    }
    const later = await get(`/api/agent/conversations/${id}/suggestions`);
    expect(later.body.question).toBe("also\nwhen will I get my refund?");
    expect(later.body.suggestions[0]?.entry_id).toBe("demo-refund-time-en");
    await v.c.close();
  });

  test("no visitor message: no question and no suggestions; unknown conversation: 404", async () => {
    const v = await visitor(s.wsUrl);
    v.c.send({ type: "handoff" });
    await v.c.nextType("state");
    expect((await get(`/api/agent/conversations/${v.welcome.conversation_id}/suggestions`)).body).toEqual({ question: "", suggestions: [] });
    expect((await get("/api/agent/conversations/c_nope/suggestions")).status).toBe(404);
    await v.c.close();
  });
});

describe("closing", () => {
  test("REST close by an agent who does not own the conversation is 403 not_owner; the owner and admins may", async () => {
    const lin = await makeAgent(s);
    const wang = await makeAgent(s);
    const owned = await ticket([]);
    const ownedId = owned.welcome.conversation_id;
    await call("POST", `/api/agent/conversations/${ownedId}/claim`, lin.token);
    const refused = await call("POST", `/api/agent/conversations/${ownedId}/close`, wang.token);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("not_owner");
    expect((await s.kefu.ctx.chat.getConversation(ownedId))?.state).toBe("agent");
    expect((await call("POST", `/api/agent/conversations/${ownedId}/close`, lin.token)).body.state).toBe("closed");

    // Queued (nobody owns it): an agent claims it first; an admin may close it.
    const queued = await ticket([]);
    const queuedId = queued.welcome.conversation_id;
    expect((await call("POST", `/api/agent/conversations/${queuedId}/close`, wang.token)).body.error.code).toBe("not_owner");
    expect((await call("POST", `/api/agent/conversations/${queuedId}/close`, admin)).body.state).toBe("closed");

    // The socket's close frame follows the same rule.
    const other = await ticket([]);
    await call("POST", `/api/agent/conversations/${other.welcome.conversation_id}/claim`, lin.token);
    const w = await agent(s.wsUrl, wang.token, { presence: null });
    w.c.send({ type: "close", conversation_id: other.welcome.conversation_id });
    expect(await w.c.nextType("error")).toMatchObject({ code: "not_owner" });
    for (const x of [owned, queued, other, w]) await x.c.close();
  });
});
