import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "./helpers/server";
import { agent, cid, visitor, type WsClient } from "./helpers/ws-client";

// Issue 14, done-when 2 through the API: questions the bot cannot answer (the real answer pipeline, demo knowledge
// base, no model) show up grouped with the agent's reply; one call turns the group into an entry that then answers.
let s: TestServer;
let admin: string;
let agentToken: string;
const open: WsClient[] = [];

beforeAll(async () => {
  s = await startTestServer({ log: { level: "warn" } });
  admin = await s.login("admin");
  agentToken = await s.login("agent");
});
afterAll(async () => {
  for (const c of open) c.close();
  await s.stop();
});

const api = async (path: string, init: { method?: string; body?: unknown; token?: string | null } = {}) => {
  const token = init.token === undefined ? admin : init.token;
  const res = await fetch(`${s.url}${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.body === undefined ? {} : { "content-type": "application/json" }) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: res.status, body: (await res.json().catch(() => null)) as any };
};

async function ask(text: string) {
  const v = await visitor(s.wsUrl, { lang: "en" });
  open.push(v.c);
  v.c.send({ type: "send", client_id: cid(), text });
  await v.c.nextType("ack");
  const reply = await v.c.nextType("message", (f) => f.from === "bot");
  return { v, reply };
}

const rowsOf = (conversationId: string) =>
  s.kefu.ctx.db.query<{ path: string; question: string; entry_id: string | null }, [string]>(
    "SELECT path, question, entry_id FROM insights_answers WHERE conversation_id = ? ORDER BY id",
  ).all(conversationId);

const WRAP_REPLY = "Yes: gift wrapping is free, tick the box at checkout.";

describe("unanswered questions", () => {
  test(
    "three unanswerable questions (one answered by an agent) are one group with the agent's reply; resolve makes an entry that answers directly",
    async () => {
      const a = await ask("Do you offer gift wrapping?");
      const b = await ask("do you offer gift wrapping");
      for (const x of [a, b]) expect(rowsOf(x.v.welcome.conversation_id).map((r) => r.path)).not.toContain("direct");

      // The third visitor asks a human first (a bare request is no question), then asks while the agent owns the conversation.
      const staff = await agent(s.wsUrl, agentToken);
      open.push(staff.c);
      const c = await visitor(s.wsUrl, { lang: "en" });
      open.push(c.c);
      const conv = c.welcome.conversation_id as string;
      c.c.send({ type: "send", client_id: cid(), text: "I want to talk to a human" });
      await c.c.nextType("state", (f) => f.state === "agent");
      c.c.send({ type: "send", client_id: cid(), text: "Do you offer gift wrapping for presents?" });
      await staff.c.nextType("message", (f) => f.conversation_id === conv && f.text === "Do you offer gift wrapping for presents?");
      staff.c.send({ type: "send", conversation_id: conv, client_id: cid("agent"), text: WRAP_REPLY });
      await staff.c.nextType("ack");
      await c.c.nextType("message", (f) => f.from === "agent");
      expect(rowsOf(conv)).toEqual([{ path: "human", question: "Do you offer gift wrapping for presents?", entry_id: null }]);

      const { status, body } = await api("/api/admin/unanswered?days=7");
      expect(status).toBe(200);
      const group = body.groups.find((g: any) => g.phrasings.some((p: any) => /gift wrapping/i.test(p.text)));
      expect(group.log_ids).toHaveLength(3);
      expect(group.phrasings).toHaveLength(2);
      const logIds = [...group.log_ids];
      expect(structuredClone(group)).toMatchObject({
        count: 3,
        phrasings: expect.arrayContaining([
          { text: expect.stringMatching(/^do you offer gift wrapping\??$/i), count: 2 },
          { text: "Do you offer gift wrapping for presents?", count: 1 },
        ]),
        paths: expect.objectContaining({ human: 1 }),
        agent_reply: { text: WRAP_REPLY, agent: expect.any(String), at: expect.any(String) },
        conversation_ids: expect.arrayContaining([a.v.welcome.conversation_id, b.v.welcome.conversation_id, conv]),
      });
      expect(body.groups.some((g: any) => g.phrasings.some((p: any) => /human/.test(p.text)))).toBe(false);

      // One call: the group becomes an entry, the agent's reply its answer, the phrasings its alternatives.
      const resolved = await api("/api/admin/unanswered/resolve", { body: { log_ids: logIds, entry: { question: "Do you offer gift wrapping?" } } });
      expect(resolved.status).toBe(200);
      expect(resolved.body.entry).toMatchObject({ question: "Do you offer gift wrapping?", answer: WRAP_REPLY, enabled: true, hits: 0 });
      expect(resolved.body.entry.alt_questions).toContain("Do you offer gift wrapping for presents?");
      expect(s.kefu.ctx.db.query("SELECT target, detail FROM audit_log WHERE action = 'insights.resolve'").all()).toEqual([
        { target: resolved.body.entry.id, detail: JSON.stringify({ rows: 3, new_entry: true }) },
      ]);
      const after = await api("/api/admin/unanswered?days=7");
      expect(after.body.groups.some((g: any) => g.log_ids.some((id: number) => logIds.includes(id)))).toBe(false);

      // The same question, asked again over the visitor WebSocket, is answered directly with the new entry.
      const again = await ask("Do you offer gift wrapping for presents?");
      expect(again.reply.text).toBe(WRAP_REPLY);
      expect(rowsOf(again.v.welcome.conversation_id)).toEqual([
        { path: "direct", question: "Do you offer gift wrapping for presents?", entry_id: resolved.body.entry.id },
      ]);
      expect((await api(`/api/admin/kb/entries/${resolved.body.entry.id}`)).body).toMatchObject({ hits: 1 });
    },
    30_000,
  );

  test("phrasings added to an existing entry; dismissed rows leave the list", async () => {
    const x = await ask("is there a loyalty card programme");
    const y = await ask("what about travel insurance for parcels");
    const list = (await api("/api/admin/unanswered?days=1")).body.groups as any[];
    const loyalty = list.find((g) => /loyalty/.test(g.question));
    const parcels = list.find((g) => /insurance/.test(g.question));
    expect(loyalty.conversation_ids).toEqual([x.v.welcome.conversation_id]);

    const entryId = "demo-warranty-en";
    expect(s.kefu.ctx.kb.get(entryId)).not.toBeNull();
    const added = await api("/api/admin/unanswered/resolve", { body: { log_ids: loyalty.log_ids, entry_id: entryId, phrasings: ["loyalty card?"] } });
    expect(added.status).toBe(200);
    expect(added.body.entry.id).toBe(entryId);
    expect(added.body.entry.alt_questions).toContain("loyalty card?");
    expect(s.kefu.ctx.db.query("SELECT resolved FROM insights_answers WHERE id = ?").get(loyalty.log_ids[0])).toEqual({ resolved: `entry:${entryId}` });

    expect(await api("/api/admin/unanswered/dismiss", { body: { log_ids: parcels.log_ids } })).toEqual({ status: 200, body: { dismissed: parcels.log_ids.length } });
    const left = (await api("/api/admin/unanswered?days=1")).body.groups as any[];
    expect(left.some((g) => g.conversation_ids.includes(y.v.welcome.conversation_id) || g.conversation_ids.includes(x.v.welcome.conversation_id))).toBe(false);
  }, 20_000);

  test("a picked \"did you mean\" entry is a choice row with that entry, and the offer it took is no longer unanswered", async () => {
    const { v, reply } = await ask("how much does the wrapping of my present cost");
    expect(reply.choices?.length).toBeGreaterThan(0);
    const pick = reply.choices[0].entry_id as string;
    v.c.send({ type: "choose", entry_id: pick, client_id: cid() });
    await v.c.nextType("message", (f) => f.from === "bot" && f.seq > reply.seq);
    const conv = v.welcome.conversation_id as string;
    expect(rowsOf(conv).map((r) => [r.path, r.entry_id])).toEqual([
      ["choices", expect.any(String)],
      ["choice", pick],
    ]);
    // A choice typed back by its number: the log has the choice's question, not "1".
    const typed = await ask("how much does the wrapping of my present cost");
    typed.v.c.send({ type: "send", client_id: cid(), text: "1" });
    await typed.v.c.nextType("message", (f) => f.from === "bot" && f.seq > typed.reply.seq);
    expect(rowsOf(typed.v.welcome.conversation_id).at(-1)).toEqual({ path: "choice", question: typed.reply.choices[0].question, entry_id: typed.reply.choices[0].entry_id });
    const groups = (await api("/api/admin/unanswered?days=1")).body.groups as any[];
    expect(groups.some((g) => g.conversation_ids.includes(conv) || g.conversation_ids.includes(typed.v.welcome.conversation_id))).toBe(false);
  }, 15_000);

  test("bad input is a 400 naming the problem, unknown ids a 404, non-admins 401/403", async () => {
    const { v } = await ask("where is the nearest lighthouse");
    const id = (s.kefu.ctx.db.query("SELECT id FROM insights_answers WHERE conversation_id = ?").get(v.welcome.conversation_id) as { id: number }).id;
    const cases: [string, unknown, number, RegExp][] = [
      ["/api/admin/unanswered/resolve", { log_ids: [id] }, 400, /either entry/],
      ["/api/admin/unanswered/resolve", { log_ids: [id], entry: { question: "q", answer: "a" }, entry_id: "x" }, 400, /either entry/],
      ["/api/admin/unanswered/resolve", { log_ids: [id], entry_id: "x", dry_run: true }, 400, /dry_run/],
      ["/api/admin/unanswered/resolve", { log_ids: [], entry_id: "x" }, 400, /log_ids/],
      ["/api/admin/unanswered/resolve", { log_ids: [id], entry: { question: "nobody answered this" } }, 400, /answer/],
      ["/api/admin/unanswered/resolve", { log_ids: [id + 1000], entry_id: "x" }, 404, new RegExp(String(id + 1000))],
      ["/api/admin/unanswered/resolve", { log_ids: [id], entry_id: "no-such-entry" }, 404, /no-such-entry/],
      ["/api/admin/unanswered/dismiss", { log_ids: [id, id + 1000] }, 404, new RegExp(String(id + 1000))],
      ["/api/admin/unanswered/dismiss", { log_ids: ["one"] }, 400, /log_ids/],
    ];
    for (const [path, body, status, message] of cases) {
      const r = await api(path, { body });
      expect({ path, body, status: r.status }).toEqual({ path, body, status });
      expect(r.body.error.message).toMatch(message);
    }
    for (const q of ["days=0", "days=abc", "limit=0", "dayz=3", "source=web"]) expect((await api(`/api/admin/unanswered?${q}`)).status).toBe(400);
    expect((await api("/api/admin/unanswered", { token: null })).status).toBe(401);
    expect((await api("/api/admin/unanswered", { token: agentToken })).status).toBe(403);
    expect((await api("/api/admin/unanswered/dismiss", { body: { log_ids: [id] }, token: agentToken })).status).toBe(403);
    // Nothing was changed by the refused calls.
    expect(s.kefu.ctx.db.query("SELECT resolved FROM insights_answers WHERE id = ?").get(id)).toEqual({ resolved: null });
  }, 20_000);
});
