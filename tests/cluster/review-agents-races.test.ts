import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { createTestDatabase, REDIS_URL, skipUnless, type TestDatabase } from "../helpers/services";
import { agent, type Frame, type WsClient } from "../helpers/ws-client";
import { ChatVisitor, type Cluster, history, startCluster, within } from "./harness";

/**
 * Review of #18 (agents across nodes). Three nodes on one PostgreSQL and Redis: agent A works on node 0,
 * agent B on node 1, visitors on node 2. Races between the two agents' nodes on one conversation, each
 * repeated: a state change decided on A's conversation must not apply once B owns it, A must not write into
 * a conversation B took over, the API-token cap holds with two nodes creating at once, and a revocation on
 * one node ends the agent's socket on another at once.
 */
const skip = await skipUnless({ pg: true, redis: true }, "review-agents-races");

const ROUNDS = 25;

describe.skipIf(skip)("review #18: agent races across nodes", () => {
  let db: TestDatabase;
  let cluster: Cluster;
  let pg: SQL;
  let A: { id: number; name: string; token: string };
  let B: { id: number; name: string; token: string };
  let C: { id: number; name: string; token: string };
  let admin: { id: number; name: string; token: string };
  const sockets: WsClient[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    cluster = await startCluster({ nodes: 3, pgUrl: db.url, redisUrl: REDIS_URL, config: { cluster: { heartbeat_ms: 300 }, chat: { bot_misses_before_handoff: 0 } } });
    pg = new SQL({ url: db.url, max: 2 });
    A = await cluster.user("agent", { maxConcurrent: 1000, via: 0 });
    B = await cluster.user("agent", { maxConcurrent: 1000, via: 1 });
    C = await cluster.user("agent", { maxConcurrent: 1000, via: 1 });
    admin = await cluster.user("admin", { via: 0 });
    // Connected but away: nothing is assigned automatically, every move is one of the test's.
    sockets.push((await agent(cluster.nodes[0]!.wsUrl, A.token, { presence: "away" })).c);
    sockets.push((await agent(cluster.nodes[1]!.wsUrl, B.token, { presence: "away" })).c);
    sockets.push((await agent(cluster.nodes[1]!.wsUrl, C.token, { presence: "away" })).c);
  }, 180_000);
  afterAll(async () => {
    for (const c of sockets) await c.close().catch(() => {});
    await pg?.close();
    await cluster?.stop();
    await db?.drop();
  }, 60_000);

  const api = (node: number, token: string, method: string, path: string, body?: object) =>
    fetch(`${cluster.nodes[node]!.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  const act = (node: number, token: string, id: string, what: string, body?: object) =>
    api(node, token, "POST", `/api/agent/conversations/${encodeURIComponent(id)}/${what}`, body);

  /** A visitor's conversation on node 2, owned by A (claimed on node 0). */
  async function ownedByA(round: number): Promise<{ v: ChatVisitor; id: string }> {
    const v = await ChatVisitor.open(cluster.nodes[2]!.wsUrl, {}, `r${round}`);
    await v.sendAndAck(`round ${round}: hello`);
    const res = await act(0, A.token, v.conversationId, "claim");
    expect(res.status).toBe(200);
    return { v, id: v.conversationId };
  }

  /** Problems of a stored stream: a row of A's after a state row that gave the conversation to someone else. */
  function afterTakeOver(rows: Frame[]): string[] {
    const problems: string[] = [];
    let owner: number | null = null;
    for (const r of rows) {
      if (r.type === "state") {
        // The close's row names the owner it closed, a transfer's the new owner: one naming A while B owns it is A's.
        if (r.state === "closed" && owner !== null && r.agent?.id !== owner) problems.push(`seq ${r.seq}: closed by ${r.agent?.id} while ${owner} owned it`);
        if (r.state === "agent" && owner !== null && owner !== A.id && r.agent?.id === C.id) problems.push(`seq ${r.seq}: A's transfer to C applied while ${owner} owned it`);
        owner = r.state === "agent" ? r.agent.id : null;
      } else if (r.type === "message" && r.from === "agent" && r.agent?.id !== owner) {
        problems.push(`seq ${r.seq}: message of agent ${r.agent?.id} while ${owner} owned it`);
      }
    }
    return problems;
  }

  test(
    `A closes on node 0 while B takes over on node 1, ${ROUNDS} times: never B's conversation closed by A`,
    async () => {
      const problems: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const { v, id } = await ownedByA(round);
        const [close, take] = await Promise.all([act(0, A.token, id, "close"), act(1, B.token, id, "claim")]);
        const rows = await history(cluster.nodes[2]!.url, admin.token, id);
        const last = rows.filter((r) => r.type === "state").at(-1)!;
        // Whichever came first wins; the loser is refused.
        if (close.status === 200 && take.status === 200) problems.push(`round ${round}: both succeeded, final state ${last.state}`);
        if (take.status === 200 && last.state !== "agent") problems.push(`round ${round}: B took over but the conversation is ${last.state}`);
        problems.push(...afterTakeOver(rows).map((p) => `round ${round}: ${p}`));
        await v.close();
      }
      expect(problems).toEqual([]);
    },
    300_000,
  );

  test(
    `A transfers to C on node 0 while B takes over on node 1, ${ROUNDS} times: the loser changes nothing`,
    async () => {
      const problems: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const { v, id } = await ownedByA(100 + round);
        const [transfer, take] = await Promise.all([act(0, A.token, id, "transfer", { agent_id: C.id }), act(1, B.token, id, "claim")]);
        const rows = await history(cluster.nodes[2]!.url, admin.token, id);
        const owner = rows.filter((r) => r.type === "state").at(-1)!.agent?.id;
        if (transfer.status === 200 && take.status === 200) {
          // Both may succeed only in this order: A's transfer to C, then B's take-over from C.
          const states = rows.filter((r) => r.type === "state" && r.state === "agent").map((r) => r.agent.id);
          if (states.join() !== [A.id, C.id, B.id].join()) problems.push(`round ${round}: both succeeded, owners ${states.join(" → ")}`);
        }
        if (take.status === 200 && transfer.status !== 200 && owner !== B.id) problems.push(`round ${round}: B took over but ${owner} owns it`);
        problems.push(...afterTakeOver(rows).map((p) => `round ${round}: ${p}`));
        await v.close();
      }
      expect(problems).toEqual([]);
    },
    300_000,
  );

  test(
    `A keeps sending on node 0 while B takes over on node 1, ${ROUNDS} times: nothing of A's after the take-over`,
    async () => {
      const problems: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const { v, id } = await ownedByA(200 + round);
        const sends = Array.from({ length: 6 }, (_, i) => act(0, A.token, id, "messages", { client_id: `a-${round}-${i}`, text: `A ${round}.${i}` }));
        const take = act(1, B.token, id, "claim");
        const statuses = await Promise.all([...sends, take].map(async (p) => (await p).status));
        if (statuses.at(-1) !== 200) problems.push(`round ${round}: take-over refused with ${statuses.at(-1)}`);
        for (const s of statuses.slice(0, -1)) if (s !== 200 && s !== 409) problems.push(`round ${round}: a send answered ${s}`);
        const rows = await history(cluster.nodes[2]!.url, admin.token, id);
        problems.push(...afterTakeOver(rows).map((p) => `round ${round}: ${p}`));
        // Every acknowledged send is stored; a refused one is not.
        const stored = rows.filter((r) => r.type === "message" && r.from === "agent").length;
        if (stored !== statuses.slice(0, -1).filter((s) => s === 200).length) problems.push(`round ${round}: ${stored} stored, acks ${statuses.join()}`);
        await v.close();
      }
      expect(problems).toEqual([]);
    },
    300_000,
  );

  test(
    "the API-token cap holds with two nodes creating at once",
    async () => {
      // 990 made already (straight into the shared table), then 40 requests on two nodes at once: 10 pass.
      const now = Date.now();
      const rows = Array.from({ length: 990 }, (_, i) => ({ label: `seed-${i}`, token_hash: `seed-hash-${i}-${crypto.randomUUID()}`, created_at: now, created_by: "seed" }));
      await pg`INSERT INTO ask_tokens ${pg(rows)}`;
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => api(i % 2, admin.token, "POST", "/api/admin/tokens", { label: `race-${i}` })));
      const statuses = results.map((r) => r.status);
      const [{ n }] = await pg`SELECT count(*)::int AS n FROM ask_tokens`;
      expect({ created: statuses.filter((s) => s === 201).length, refused: statuses.filter((s) => s === 409).length, stored: n }).toEqual({ created: 10, refused: 30, stored: 1000 });
    },
    120_000,
  );

  test(
    "an agent disabled by an admin on node 0 is cut off at once on node 1, and a password change on node 1 ends a socket on node 0",
    async () => {
      const d = await cluster.user("agent", { via: 1 });
      const c = (await agent(cluster.nodes[1]!.wsUrl, d.token)).c;
      const res = await api(0, admin.token, "PATCH", `/api/admin/users/${d.id}`, { disabled: true });
      expect(res.status).toBe(200);
      // Well within the 30 s periodic check: the revocation travels on the bus.
      const closed = await Promise.race([c.closed, Bun.sleep(10_000).then(() => null)]);
      expect(closed?.code).toBe(1008);

      const e = await cluster.user("agent", { via: 0 });
      const onNode0 = (await agent(cluster.nodes[0]!.wsUrl, e.token)).c;
      const token1 = await cluster.login(e.name, 1);
      const changed = await api(1, token1, "POST", "/api/auth/password", { current_password: "correct horse battery", new_password: "another horse battery staple" });
      expect(changed.status).toBeLessThan(300);
      const closed2 = await Promise.race([onNode0.closed, Bun.sleep(10_000).then(() => null)]);
      expect(closed2?.code).toBe(1008);
    },
    60_000,
  );

  test(
    "held: max_concurrent with handoffs on two nodes at once, notes and typing across nodes, the same queue frame everywhere after the dust settles",
    async () => {
      const D = await cluster.user("agent", { maxConcurrent: 2, via: 1 });
      const dSock = (await agent(cluster.nodes[1]!.wsUrl, D.token)).c;
      sockets.push(dSock);
      await within(10_000, "D online on every node", async () => {
        const q = (await (await api(0, admin.token, "GET", "/api/agent/queue")).json()) as { agents: { id: number; status: string }[] };
        return q.agents.find((a) => a.id === D.id)?.status === "online";
      });
      const visitors = await Promise.all(Array.from({ length: 6 }, (_, i) => ChatVisitor.open(cluster.nodes[i % 2 === 0 ? 0 : 2]!.wsUrl, {}, `mc${i}`)));
      await Promise.all(visitors.map((v, i) => v.sendAndAck(`max concurrent ${i}`)));
      for (const v of visitors) v.frame({ type: "handoff" });
      await within(20_000, "every conversation queued or assigned", async () => visitors.every((v) => v.rows().some((f) => f.type === "state" && (f.state === "queued" || f.state === "agent"))));
      await Bun.sleep(1500);
      const owned = visitors.filter((v) => v.rows().some((f) => f.type === "state" && f.state === "agent" && f.agent?.id === D.id));
      expect(owned.length).toBe(2);

      // A note written on node 0 reaches B watching on node 1; A's typing (A owns it) reaches the visitor on node 2.
      const { v, id } = await ownedByA(900);
      const bSock = sockets[1]!;
      bSock.send({ type: "watch", conversation_id: id, last_seq: 0 });
      await bSock.sync();
      sockets[0]!.send({ type: "note", conversation_id: id, client_id: "n-900", text: "note from node 0" });
      await bSock.nextType("note", (f) => f.conversation_id === id && f.text === "note from node 0");
      const notes = (await (await api(1, B.token, "GET", `/api/agent/conversations/${id}/notes`)).json()) as { notes: Frame[] };
      expect(notes.notes.map((n) => n.text)).toEqual(["note from node 0"]);
      sockets[0]!.send({ type: "typing", conversation_id: id, on: true });
      await within(10_000, "typing at the visitor", () => v.frames.some((f) => f.type === "typing" && f.from === "agent" && f.on === true));

      // After the dust settles every node's queue frame says the same (loads and counts from the shared store).
      await Bun.sleep(2000);
      const strip = (q: { queued: Frame[]; open: Frame[]; agents: Frame[] }) => ({
        queued: q.queued.map((c) => c.conversation_id),
        open: q.open.map((c) => c.conversation_id).sort(),
        agents: q.agents.map((a) => [a.id, a.status, a.load]),
      });
      const views = await Promise.all([0, 1, 2].map(async (n) => strip((await (await api(n, admin.token, "GET", "/api/agent/queue")).json()) as any)));
      expect(views[1]).toEqual(views[0]!);
      expect(views[2]).toEqual(views[0]!);
      for (const sock of [sockets[0]!, sockets[1]!, dSock]) {
        sock.send({ type: "queue" });
        await sock.sync();
        const last = sock.frames.filter((f) => f.type === "queue").at(-1)!;
        expect(strip(last as any)).toEqual(views[0]!);
      }
      for (const x of [...visitors, v]) await x.close();
    },
    120_000,
  );
});
