import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { cliEntry } from "../helpers/server";
import { createTestDatabase, REDIS_URL, skipUnless, type TestDatabase } from "../helpers/services";
import { ChatVisitor, type Cluster, history, startCluster, type Toml, within } from "./harness";

/**
 * docs/cluster.md, "Moving an existing install to PostgreSQL": a single SQLite node with conversations and a
 * knowledge-base entry; stopped; `kefu migrate-storage --to …`; two nodes on the result (node 0 on the old data
 * dir): the old visitors resume their conversations on either node with every row and the next seq, and the
 * knowledge base answers on both.
 */
const skip = await skipUnless({ pg: true, redis: true }, "review-migrate-resume");
const clusters: Cluster[] = [];
let db: TestDatabase | undefined;
afterAll(async () => {
  for (const c of clusters) await c.stop().catch(() => {});
  await db?.drop();
}, 60_000);

describe.skipIf(skip)("migrate-storage, then a cluster", () => {
  test(
    "old conversations resume on both nodes with the same seqs; the knowledge base answers",
    async () => {
      db = await createTestDatabase();
      const single = await startCluster({ nodes: 1, pgUrl: db.url, redisUrl: REDIS_URL, config: { storage: { driver: "sqlite", url: "" }, cluster: { bus: "local", url: "" } } });
      clusters.push(single);
      const admin = await single.user("admin");
      const created = await fetch(`${single.nodes[0]!.url}/api/admin/kb/entries`, {
        method: "POST",
        headers: { authorization: `Bearer ${admin.token}`, "content-type": "application/json" },
        body: JSON.stringify({ id: "llama-ship", question: "Do you ship llama saddles abroad?", answer: "Llama saddles ship to 31 countries from our Lima warehouse." }),
      });
      expect(created.status).toBe(201);
      const visitors: ChatVisitor[] = [];
      for (let i = 0; i < 3; i++) {
        const v = await ChatVisitor.open(single.nodes[0]!.wsUrl);
        await v.sendAndAck(`old message ${i}`);
        await v.sendAndAck(`another old message ${i}`);
        // The bot's replies (and any notice after them) are in before the history is taken: the stream stops moving.
        let seen = -1;
        await within(20_000, `visitor ${i}'s conversation settled`, async () => {
          const rows = v.rows();
          const last = rows.at(-1)?.seq ?? 0;
          const settled = last === seen && rows.at(-1)?.from !== "visitor";
          seen = last;
          if (!settled) await Bun.sleep(500);
          return settled;
        });
        visitors.push(v);
      }
      const before = await Promise.all(visitors.map((v) => history(single.nodes[0]!.url, admin.token, v.conversationId)));
      for (const v of visitors) await v.close();
      await single.kill(0, "SIGTERM"); // (stop() would remove its data dir)
      const oldDir = join(single.nodes[0]!.dir, "data");

      const p = Bun.spawn([process.execPath, cliEntry, "migrate-storage", "--to", db.url, "--dir", oldDir], { stdout: "pipe", stderr: "pipe" });
      const [out, err, code] = [await new Response(p.stdout).text(), await new Response(p.stderr).text(), await p.exited];
      expect({ code, err }).toEqual({ code: 0, err: "" });
      expect(out).toContain("messages");

      const c = await startCluster({ nodes: 2, pgUrl: db.url, redisUrl: REDIS_URL, config: (i): Toml => (i === 0 ? { storage: { dir: oldDir } } : {}) });
      clusters.push(c);
      const token = await c.login(admin.name, 1);
      for (const [k, v] of visitors.entries()) {
        const node = k % 2;
        const w = await v.connect(c.nodes[node]!.wsUrl);
        expect(w.conversation_id).toBe(v.conversationId);
        const seq = await v.sendAndAck(`resumed on node ${node}`);
        const after = await history(c.nodes[1 - node]!.url, token, v.conversationId);
        expect(after.slice(0, before[k]!.length).map((r) => [r.seq, r.type, r.text])).toEqual(before[k]!.map((r) => [r.seq, r.type, r.text]));
        expect(seq).toBe(before[k]!.at(-1)!.seq + 1);
        await v.close();
      }
      for (const node of [0, 1]) {
        const v = await ChatVisitor.open(c.nodes[node]!.wsUrl);
        await v.sendAndAck("Do you ship llama saddles abroad?");
        await within(20_000, `the knowledge base answers on node ${node}`, () => v.rows().some((f) => f.type === "message" && f.from === "bot"));
        expect(v.rows().find((f) => f.type === "message" && f.from === "bot")!.text).toContain("Llama saddles ship to 31 countries");
        await v.close();
      }
    },
    180_000,
  );
});
