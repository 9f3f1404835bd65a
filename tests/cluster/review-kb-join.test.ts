import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { createTestDatabase, REDIS_URL, skipUnless, type TestDatabase } from "../helpers/services";
import { ChatVisitor, type Cluster, startCluster, within } from "./harness";

/**
 * docs/cluster.md, the knowledge base: a node that joins a running cluster (an empty data dir) pulls the
 * shared knowledge base and answers from it; an edit made through the admin API on one node is answered
 * verbatim on another within a second.
 */
const skip = await skipUnless({ pg: true, redis: true }, "review-kb-join");

let db: TestDatabase;
let cluster: Cluster;
beforeAll(async () => {
  if (skip) return;
  db = await createTestDatabase();
  cluster = await startCluster({ nodes: 3, pgUrl: db.url, redisUrl: REDIS_URL });
}, 120_000);
afterAll(async () => {
  if (skip) return;
  await cluster?.stop();
  await db?.drop();
}, 60_000);

async function ask(node: number, question: string): Promise<string> {
  const v = await ChatVisitor.open(cluster.nodes[node]!.wsUrl);
  try {
    await v.sendAndAck(question);
    await within(20_000, `a bot reply on node ${node}`, () => v.rows().some((f) => f.type === "message" && f.from === "bot"));
    return v.rows().find((f) => f.type === "message" && f.from === "bot")!.text as string;
  } finally {
    await v.close();
  }
}

describe.skipIf(skip)("knowledge base across nodes", () => {
  test(
    "a joining node gets the knowledge base; an edit on node 0 is answered verbatim on node 1 within a second",
    async () => {
      const admin = await cluster.user("admin");
      const api = (i: number, method: string, path: string, body?: unknown) =>
        fetch(`${cluster.nodes[i]!.url}/api/admin/kb${path}`, {
          method,
          headers: { authorization: `Bearer ${admin.token}`, "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      await cluster.kill(2, "SIGKILL");
      const created = await api(0, "POST", "/entries", { id: "zebra-returns", question: "Can I return a striped zebra costume?", answer: "Striped zebra costumes can be returned within 45 days, tags attached." });
      expect(created.status).toBe(201);

      // Node 2 joins with nothing: a fresh data dir.
      rmSync(join(cluster.nodes[2]!.dir, "data"), { recursive: true, force: true });
      await cluster.restart(2);
      await within(10_000, "node 2 has the entry", async () => (await api(2, "GET", "/entries/zebra-returns")).status === 200);
      expect(await ask(2, "Can I return a striped zebra costume?")).toContain("Striped zebra costumes can be returned within 45 days, tags attached.");

      const put = await api(0, "PUT", "/entries/zebra-returns", { question: "Can I return a striped zebra costume?", answer: "Zebra costumes: returns accepted for 60 days now." });
      expect(put.status).toBe(200);
      await Bun.sleep(1000);
      expect(await ask(1, "Can I return a striped zebra costume?")).toContain("Zebra costumes: returns accepted for 60 days now.");
      expect(await ask(2, "Can I return a striped zebra costume?")).toContain("Zebra costumes: returns accepted for 60 days now.");
    },
    180_000,
  );
});
