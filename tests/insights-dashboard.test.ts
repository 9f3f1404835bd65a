import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "./helpers/server";
import { cid, makeAgent, visitor } from "./helpers/ws-client";

// Issue 14, done-when 4: the dashboard's figures against a seeded database (counts by path, auto-resolution rate,
// handoff reasons, CSAT, latency), then a live conversation moving them; and the transcript browser's filters.
let s: TestServer;
let admin: string;
let agentUser: { id: number; token: string };
const NOW = Date.now();
/** The conversation of the live test. */
let live = "";
const H = 3_600_000;

beforeAll(async () => {
  s = await startTestServer({ log: { level: "warn" } });
  admin = await s.login("admin");
  agentUser = await makeAgent(s, { displayName: "Mei" });
  seed();
});
afterAll(() => s.stop());

const api = async (path: string, token: string | null = admin) => {
  const res = await fetch(`${s.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: (await res.json().catch(() => null)) as any };
};

type Msg = { sender: "visitor" | "bot" | "agent" | "system"; text?: string; state?: string; reason?: string; at: number };
interface Conv {
  id: string;
  visitor: string;
  created: number;
  state: "bot" | "queued" | "agent" | "closed";
  messages: Msg[];
  rating?: number;
  tags?: string[];
  agent?: boolean;
}

/** Text messages written per UTC day (the dashboard's days are in [hours] timezone, UTC by default). */
const seededMessages = new Map<string, number>();
const seededConversations = new Map<string, number>();
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

function insertConversation(c: Conv) {
  const db = s.kefu.ctx.db;
  db.run("INSERT OR IGNORE INTO chat_visitors (id, token_hash, lang, created_at, last_seen_at, name, email) VALUES (?, ?, 'en', ?, ?, ?, ?)", [
    c.visitor,
    `hash-${c.visitor}`,
    c.created,
    c.created,
    `Visitor ${c.visitor}`,
    `${c.visitor}@example.com`,
  ]);
  const agentId = c.agent ? agentUser.id : null;
  const updated = c.messages.at(-1)!.at;
  db.run(
    `INSERT INTO chat_conversations (id, visitor_id, state, agent_id, lang, created_at, updated_at, closed_at, tags, rating_score, rated_at)
     VALUES (?, ?, ?, ?, 'en', ?, ?, ?, ?, ?, ?)`,
    [c.id, c.visitor, c.state, agentId, c.created, updated, c.state === "closed" ? updated : null, JSON.stringify(c.tags ?? []), c.rating ?? null, c.rating ? updated : null],
  );
  let seq = 0;
  let lastVisitor = 0;
  for (const m of c.messages) {
    seq++;
    const kind = m.state ? "state" : "text";
    const meta = m.state ? { state: m.state, reason: m.reason } : m.sender === "agent" ? { agent: { id: agentUser.id, name: "Mei" } } : null;
    db.run("INSERT INTO chat_messages (conversation_id, seq, kind, sender, text, agent_id, meta, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
      c.id,
      seq,
      kind,
      m.sender,
      m.text ?? `state ${m.state}`,
      m.sender === "agent" ? agentUser.id : null,
      meta ? JSON.stringify(meta) : null,
      m.at,
    ]);
    if (kind === "text" && m.sender === "visitor") lastVisitor = seq;
    if (kind === "text" && c.created >= NOW - 7 * 24 * H) seededMessages.set(day(m.at), (seededMessages.get(day(m.at)) ?? 0) + 1);
  }
  if (c.created >= NOW - 7 * 24 * H) seededConversations.set(day(c.created), (seededConversations.get(day(c.created)) ?? 0) + 1);
  db.run("UPDATE chat_conversations SET last_seq = ?, last_visitor_seq = ? WHERE id = ?", [seq, lastVisitor, c.id]);
}

function insertAnswer(path: string, latency: number, at: number, opts: { source?: string; conversation?: string; step?: string; question?: string } = {}) {
  s.kefu.ctx.db.run(
    "INSERT INTO insights_answers (source, conversation_id, visitor_seq, reply_seq, question, path, step, entry_id, confidence, latency_ms, created_at) VALUES (?, ?, 1, 2, ?, ?, ?, NULL, 0.5, ?, ?)",
    [opts.source ?? "chat", opts.conversation ?? null, opts.question ?? `question via ${path}`, path, opts.step ?? null, latency, at],
  );
}

/** A visitor question and the bot's reply, `ago` hours before now. */
const asked = (ago: number, text = "how much is shipping"): Msg[] => [
  { sender: "visitor", text, at: NOW - ago * H },
  { sender: "bot", text: "answer", at: NOW - ago * H + 1000 },
];

function seed() {
  const conversations: Conv[] = [
    // Auto-resolved: no human, last activity over a day ago, the visitor did not come back within a day.
    { id: "c1", visitor: "v1", created: NOW - 72 * H, state: "bot", messages: asked(72) },
    { id: "c2", visitor: "v2", created: NOW - 72 * H, state: "closed", rating: 5, tags: ["vip"], messages: [...asked(72), { sender: "system", state: "closed", reason: "close", at: NOW - 71 * H }] },
    // The visitor came back 11 hours later: c3 is not resolved, c3b is.
    { id: "c3", visitor: "v3", created: NOW - 72 * H, state: "closed", messages: [...asked(72), { sender: "system", state: "closed", reason: "close", at: NOW - 71 * H }] },
    { id: "c3b", visitor: "v3", created: NOW - 60 * H, state: "bot", messages: asked(60, "and returns?") },
    // Handed to humans: a keyword (then assigned and answered), the bot's misses (still queued), an agent's claim.
    {
      id: "c4",
      visitor: "v4",
      created: NOW - 50 * H,
      state: "closed",
      rating: 2,
      agent: true,
      tags: ["refund"],
      messages: [
        { sender: "visitor", text: "I want a human about my refund", at: NOW - 50 * H },
        { sender: "system", state: "queued", reason: "keyword", at: NOW - 50 * H + 10 },
        { sender: "system", state: "agent", reason: "auto", at: NOW - 50 * H + 20 },
        { sender: "agent", text: "Your refund left today.", at: NOW - 50 * H + 60_000 },
        { sender: "system", state: "closed", reason: "close", at: NOW - 49 * H },
      ],
    },
    {
      id: "c5",
      visitor: "v5",
      created: NOW - 50 * H,
      state: "queued",
      rating: 4,
      messages: [...asked(50, "???"), ...asked(49.9, "???"), { sender: "system", state: "queued", reason: "bot_misses", at: NOW - 49.8 * H }],
    },
    {
      id: "c6",
      visitor: "v6",
      created: NOW - 30 * H,
      state: "agent",
      agent: true,
      messages: [...asked(30, "lost parcel"), { sender: "system", state: "agent", reason: "claim", at: NOW - 29.9 * H }],
    },
    // Too recent to tell (active within the last day): counted everywhere except the auto-resolution rate.
    { id: "c7", visitor: "v7", created: NOW - 2 * H, state: "bot", messages: asked(2) },
    // Before the window: counted nowhere.
    { id: "c8", visitor: "v8", created: NOW - 10 * 24 * H, state: "closed", rating: 1, messages: asked(240) },
  ];
  for (const c of conversations) insertConversation(c);
  const at = NOW - 5 * H;
  for (const ms of [10, 20, 30]) insertAnswer("direct", ms, at, { conversation: "c1" });
  insertAnswer("direct", 15, at, { source: "api" });
  insertAnswer("cache", 5, at, { step: "direct" });
  insertAnswer("choices", 40, at, { conversation: "c3", question: "gift wrapping?" });
  insertAnswer("llm", 100, at, { conversation: "c3b", question: "gift wrapping" });
  insertAnswer("llm", 300, at, { conversation: "c5", question: "loyalty card" });
  insertAnswer("fallback", 8, at, { conversation: "c5", question: "loyalty card" });
  insertAnswer("fallback", 9, at, { conversation: "c7", question: "gift wrapping!" });
  insertAnswer("human", 60_000, at, { conversation: "c4", question: "my refund" });
  insertAnswer("direct", 1, NOW - 9 * 24 * H, { conversation: "c8" });
}

describe("dashboard", () => {
  test("figures of a seeded database: conversations and messages per day, paths, auto-resolution, handoffs, latency, CSAT, top unanswered", async () => {
    const { status, body } = await api("/api/admin/dashboard?days=7");
    expect(status).toBe(200);
    expect(body.days).toHaveLength(7);
    expect(body.days.at(-1).date).toBe(day(NOW));
    for (const d of body.days) expect(d).toEqual({ date: d.date, conversations: seededConversations.get(d.date) ?? 0, messages: seededMessages.get(d.date) ?? 0 });
    expect(body.days.reduce((n: number, d: any) => n + d.conversations, 0)).toBe(8);

    expect(body.answers_by_path).toEqual({ cache: 1, direct: 4, choice: 0, choices: 1, llm: 2, local: 0, plugin: 0, pending: 0, human: 1, busy: 0, fallback: 2 });
    // c1, c2, c3b of c1–c6 and c3b (c7 is too recent, c8 too old).
    expect(body.auto_resolution).toEqual({ rate: 0.4286, resolved: 3, total: 7 });
    expect(body.handoff).toEqual({ rate: 0.375, total: 3, conversations: 8, reasons: { keyword: 1, misses: 1, claim: 1 } });
    expect(body.latency_ms.direct).toEqual({ p50: 15, p95: 30, count: 4 });
    expect(body.latency_ms.llm).toEqual({ p50: 100, p95: 300, count: 2 });
    expect(body.latency_ms.human).toEqual({ p50: 60_000, p95: 60_000, count: 1 });
    expect(body.csat).toEqual({ average: 3.67, count: 3, scores: { "2": 1, "4": 1, "5": 1 } });
    expect(body.top_unanswered.slice(0, 2)).toEqual([
      { question: "gift wrapping!", count: 3 },
      { question: "loyalty card", count: 2 },
    ]);
    expect(body.timezone).toBe("UTC");
    expect(Date.parse(body.to)).toBeGreaterThanOrEqual(NOW);
    expect(body.from).toBe(`${body.days[0].date}T00:00:00.000Z`);
  });

  test("a live conversation moves the figures: a direct answer, then a keyword handoff (nobody online: a ticket)", async () => {
    const before = (await api("/api/admin/dashboard?days=7")).body;
    const v = await visitor(s.wsUrl, { lang: "en" });
    live = v.welcome.conversation_id;
    try {
      v.c.send({ type: "send", client_id: cid(), text: "How much is shipping?" });
      await v.c.nextType("message", (f) => f.from === "bot");
      v.c.send({ type: "send", client_id: cid(), text: "talk to a human please" });
      await v.c.nextType("state", (f) => f.state === "queued");
      await v.c.nextType("message", (f) => f.from === "system");
    } finally {
      v.c.close();
    }
    const after = (await api("/api/admin/dashboard?days=7")).body;
    expect(after.answers_by_path).toEqual({ ...before.answers_by_path, direct: before.answers_by_path.direct + 1 });
    expect(after.handoff).toEqual({ rate: 0.4444, total: 4, conversations: 9, reasons: { ...before.handoff.reasons, keyword: 2 } });
    expect(after.auto_resolution).toEqual(before.auto_resolution);
    expect(after.days.at(-1)).toEqual({ ...before.days.at(-1), conversations: before.days.at(-1).conversations + 1, messages: before.days.at(-1).messages + 4 });
  }, 20_000);

  test("bad parameters are a 400, non-admins 401/403", async () => {
    for (const q of ["days=0", "days=367", "days=two", "day=3"]) {
      const r = await api(`/api/admin/dashboard?${q}`);
      expect({ q, status: r.status, code: typeof r.body.error?.code }).toEqual({ q, status: 400, code: "string" });
    }
    expect((await api("/api/admin/dashboard", null)).status).toBe(401);
    expect((await api("/api/admin/dashboard", agentUser.token)).status).toBe(403);
  });
});

describe("conversations", () => {
  const ids = async (query: string) => {
    const r = await api(`/api/admin/conversations?${query}`);
    expect(r.status).toBe(200);
    return { total: r.body.total as number, ids: (r.body.conversations as any[]).map((c) => c.conversation_id).sort() };
  };

  test("filters: state, agent, tag, rating, date range, visitor, text; total and paging", async () => {
    expect(await ids("state=queued")).toEqual({ total: 2, ids: ["c5", live].sort() });
    expect(await ids(`agent_id=${agentUser.id}&state=closed`)).toEqual({ total: 1, ids: ["c4"] });
    expect(await ids("tag=vip")).toEqual({ total: 1, ids: ["c2"] });
    expect(await ids("rating=2")).toEqual({ total: 1, ids: ["c4"] });
    expect(await ids(`from=${new Date(NOW - 80 * H).toISOString()}&to=${new Date(NOW - 65 * H).toISOString()}`)).toEqual({ total: 3, ids: ["c1", "c2", "c3"] });
    expect(await ids(`to=${day(NOW - 10 * 24 * H)}`)).toEqual({ total: 1, ids: ["c8"] });
    expect(await ids("visitor=v3")).toEqual({ total: 2, ids: ["c3", "c3b"] });
    expect(await ids("visitor=v5%40example")).toEqual({ total: 1, ids: ["c5"] });
    expect(await ids("q=refund")).toEqual({ total: 1, ids: ["c4"] });
    const page = await api("/api/admin/conversations?limit=2&offset=1");
    expect(page.body.conversations).toHaveLength(2);
    expect(page.body.total).toBeGreaterThanOrEqual(9);
    const c = page.body.conversations[0];
    expect(typeof c.created_at).toBe("string");
    expect(Number.isNaN(Date.parse(c.updated_at))).toBe(false);
  });

  test("one conversation: the summary, its messages and notes, times as ISO-8601", async () => {
    s.kefu.ctx.db.run("INSERT INTO chat_notes (conversation_id, agent_id, client_id, text, created_at) VALUES ('c4', ?, 'n1', 'refund checked', ?)", [agentUser.id, NOW]);
    const { status, body } = await api("/api/admin/conversations/c4");
    expect(status).toBe(200);
    expect(body.conversation).toMatchObject({ conversation_id: "c4", state: "closed", tags: ["refund"], rating: { score: 2 }, created_at: new Date(NOW - 50 * H).toISOString() });
    expect(body.messages.map((m: any) => [m.type, m.from ?? m.state])).toEqual([
      ["message", "visitor"],
      ["state", "queued"],
      ["state", "agent"],
      ["message", "agent"],
      ["state", "closed"],
    ]);
    expect(body.messages[3]).toMatchObject({ text: "Your refund left today.", at: new Date(NOW - 50 * H + 60_000).toISOString() });
    expect(body.notes).toEqual([expect.objectContaining({ text: "refund checked", at: new Date(NOW).toISOString(), agent: { id: agentUser.id, name: "Mei" } })]);
    expect(body.has_more).toBe(false);
  });

  test("unknown id 404, bad filters 400, non-admins 401/403", async () => {
    expect((await api("/api/admin/conversations/nope")).status).toBe(404);
    for (const q of ["state=open", "rating=6", "from=yesterday", "limit=0", "agent_id=x", "colour=red"]) {
      const r = await api(`/api/admin/conversations?${q}`);
      expect({ q, status: r.status }).toEqual({ q, status: 400 });
    }
    expect((await api("/api/admin/conversations/c4?limit=0")).status).toBe(400);
    expect((await api("/api/admin/conversations", null)).status).toBe(401);
    expect((await api("/api/admin/conversations/c4", agentUser.token)).status).toBe(403);
  });
});
