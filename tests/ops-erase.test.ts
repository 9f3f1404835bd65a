import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { cliEntry, type TestServer } from "./helpers/server";
import { cid, startChatServer, visitor } from "./helpers/ws-client";

/** Erasing one visitor on request (GDPR / PIPL): that visitor's data goes, everybody else's stays. */

let s: TestServer;
let admin: string;
beforeAll(async () => {
  s = await startChatServer();
  admin = await s.login("admin", "privacy-officer");
});
afterAll(() => s.stop());

/** A visitor with two messages, an offline question (a ticket with name and e-mail), a note, a rating and a pending off-hours question. */
async function busyVisitor(name: string) {
  const { c, welcome } = await visitor(s.wsUrl);
  for (const text of [`${name}: where is my order`, `${name}: it is late`]) {
    const id = cid();
    c.send({ type: "send", client_id: id, text });
    await c.nextType("ack", (f) => f.client_id === id);
  }
  const off = cid();
  c.send({ type: "offline_message", client_id: off, name, email: `${name}@example.com`, text: `${name}: please call me` });
  await c.nextType("ack", (f) => f.client_id === off);
  await c.close();
  await botDone();
  const db = s.kefu.ctx.db;
  const conv = welcome.conversation_id as string;
  db.run("INSERT INTO chat_notes (conversation_id, agent_id, client_id, text, created_at) VALUES (?, 1, ?, ?, 0)", [conv, cid(), `note about ${name}`]);
  db.run("INSERT INTO answer_pending (conversation_id, question, lang, created_at) VALUES (?, ?, 'en', 0)", [conv, `${name}: open on sunday?`]);
  db.run("UPDATE chat_conversations SET rating_score = 2, rating_comment = ? WHERE id = ?", [`${name} was unhappy`, conv]);
  return { visitorId: welcome.visitor_id as string, token: welcome.token as string, conv };
}

/** The bot has answered what it was asked (its replies are stored asynchronously, after the acks). */
async function botDone() {
  const rows = () => s.kefu.ctx.db.query<{ n: number }, []>("SELECT count(*) AS n FROM chat_messages").get()!.n;
  for (let last = -1, i = 0; i < 200; i++) {
    const q = s.kefu.ctx.chat.answerQueue();
    const n = rows();
    if (q.waiting === 0 && q.in_flight === 0 && n === last) return;
    last = n;
    await Bun.sleep(50);
  }
}

/** Rows of every table that holds visitor data, for one visitor. */
function footprint(v: { visitorId: string; conv: string }) {
  const n = (sql: string, arg: string) => s.kefu.ctx.db.query<{ n: number }, [string]>(sql).get(arg)!.n;
  return {
    visitors: n("SELECT count(*) AS n FROM chat_visitors WHERE id = ?", v.visitorId),
    tokens: n("SELECT count(*) AS n FROM chat_visitor_tokens WHERE visitor_id = ?", v.visitorId),
    conversations: n("SELECT count(*) AS n FROM chat_conversations WHERE visitor_id = ?", v.visitorId),
    messages: n("SELECT count(*) AS n FROM chat_messages WHERE conversation_id = ?", v.conv),
    notes: n("SELECT count(*) AS n FROM chat_notes WHERE conversation_id = ?", v.conv),
    pending: n("SELECT count(*) AS n FROM answer_pending WHERE conversation_id = ?", v.conv),
  };
}

const call = (method: string, path: string) => fetch(`${s.url}${path}`, { method, headers: { authorization: `Bearer ${admin}` } });

describe("erase one visitor", () => {
  test("DELETE /api/admin/visitors/:id removes that visitor's messages, notes, rating, tokens and offline questions, and keeps the others'", async () => {
    const ann = await busyVisitor("ann");
    const bob = await busyVisitor("bob");
    const bobBefore = footprint(bob);
    expect(footprint(ann)).toMatchObject({ visitors: 1, tokens: 1, conversations: 1, notes: 1, pending: 1 });
    expect(footprint(ann).messages).toBeGreaterThanOrEqual(3);

    // Found by the e-mail the request names; exported first (a copy for the visitor), then erased.
    const found = (await (await call("GET", "/api/admin/visitors?q=ann@example.com")).json()) as { visitors: { id: string }[] };
    expect(found.visitors.map((v) => v.id)).toEqual([ann.visitorId]);
    const exported = (await (await call("GET", `/api/admin/visitors/${ann.visitorId}/export`)).json()) as any;
    expect(exported.visitor).toMatchObject({ id: ann.visitorId, name: "ann", email: "ann@example.com" });
    expect(exported.conversations[0].messages.map((m: { text: string }) => m.text)).toContain("ann: please call me");
    expect(exported.conversations[0].notes).toHaveLength(1);
    expect(exported.conversations[0].offline_questions).toHaveLength(1);
    expect(exported.conversations[0].rating).toEqual({ score: 2, comment: "ann was unhappy" });
    expect(JSON.stringify(exported)).not.toContain("bob");

    const res = await call("DELETE", `/api/admin/visitors/${ann.visitorId}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).erased).toMatchObject({ visitor: ann.visitorId, conversations: 1, notes: 1, tokens: 1, pending_questions: 1 });
    expect(footprint(ann)).toEqual({ visitors: 0, tokens: 0, conversations: 0, messages: 0, notes: 0, pending: 0 });
    const everywhere = s.kefu.ctx.db.query<{ n: number }, []>("SELECT count(*) AS n FROM chat_messages WHERE text LIKE 'ann:%'").get()!.n;
    expect(everywhere).toBe(0);
    expect(footprint(bob)).toEqual(bobBefore);

    // Her token opens nothing any more; a second erase is a 404.
    const history = await fetch(`${s.url}/api/conversations/${ann.conv}/messages`, { headers: { authorization: `Bearer ${ann.token}` } });
    expect(history.status).toBe(401);
    expect((await call("DELETE", `/api/admin/visitors/${ann.visitorId}`)).status).toBe(404);
    const rows = s.kefu.ctx.db.query<{ actor: string; target: string }, []>("SELECT actor, target FROM audit_log WHERE action = 'visitor.erase'").all();
    expect(rows).toEqual([{ actor: "privacy-officer", target: ann.visitorId }]);
  }, 30_000);

  test("kefu visitor erase does the same from the command line (while the server runs)", async () => {
    const cat = await busyVisitor("cat");
    const dan = await busyVisitor("dan");
    const danBefore = footprint(dan);
    const config = join(s.dir, "ops-erase.toml");
    writeFileSync(config, `[storage]\ndir = ${JSON.stringify(join(s.dir, "data"))}\n`);
    const proc = Bun.spawn([process.execPath, cliEntry, "visitor", "erase", cat.visitorId, "-c", config], { env: { ...process.env, KEFU_LOG_LEVEL: "warn" }, stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect({ code, err }).toEqual({ code: 0, err: "" });
    expect(out).toContain(`erased visitor ${cat.visitorId}: 1 conversations`);
    expect(footprint(cat)).toEqual({ visitors: 0, tokens: 0, conversations: 0, messages: 0, notes: 0, pending: 0 });
    expect(footprint(dan)).toEqual(danBefore);
    expect(s.kefu.ctx.db.query("SELECT actor FROM audit_log WHERE action = 'visitor.erase' AND target = ?").all(cat.visitorId)).toEqual([{ actor: expect.stringMatching(/^cli:/) }]);
  }, 30_000);
});
