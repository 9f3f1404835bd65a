import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { createTestDatabase, REDIS_URL, skipUnless, type TestDatabase } from "../helpers/services";
import { type Cluster, startCluster, within } from "./harness";

/**
 * The admin console through any node: a batch run saved on node 0 (it records the knowledge base it ran on) is
 * judged fresh or stale the same on node 1, whose own SQLite copy counts versions differently; the demo removed
 * on one node stays removed when another restarts, with its data dir or without; two admins replacing the
 * knowledge base on two nodes at once end as on one node: with one of the two files, not both.
 */
const skip = await skipUnless({ pg: true, redis: true }, "review-kb-consistency");

let db: TestDatabase;
let cluster: Cluster;
let token = "";
beforeAll(async () => {
  if (skip) return;
  db = await createTestDatabase();
  cluster = await startCluster({ nodes: 2, pgUrl: db.url, redisUrl: REDIS_URL });
  token = (await cluster.user("admin")).token;
}, 120_000);
afterAll(async () => {
  if (skip) return;
  await cluster?.stop();
  await db?.drop();
}, 60_000);

const api = (i: number, method: string, path: string, body?: unknown) =>
  fetch(`${cluster.nodes[i]!.url}/api/admin/kb${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
const json = async (r: Response) => {
  if (r.status >= 300) throw new Error(`${r.status} ${await r.text()}`);
  return (await r.json()) as any;
};
const demoCount = async (i: number) => ((await json(await api(i, "GET", "/entries?limit=500"))).entries as { id: string }[]).filter((e) => e.id.startsWith("demo-")).length;

describe.skipIf(skip)("knowledge base admin across nodes", () => {
  test(
    "removing the demo on node 0 is for good: node 1 restarted (same data dir, then a wiped one) does not bring it back",
    async () => {
      await within(15_000, "the demo on both nodes", async () => (await demoCount(0)) > 0 && (await demoCount(1)) === (await demoCount(0)));
      const removed = await json(await api(0, "POST", "/demo/remove", {}));
      expect(removed.deleted).toBeGreaterThan(0);
      await within(10_000, "demo gone on node 1", async () => (await demoCount(1)) === 0);
      await cluster.kill(1, "SIGTERM");
      await cluster.restart(1);
      await Bun.sleep(1500);
      expect(await demoCount(1)).toBe(0);
      await cluster.kill(1, "SIGKILL");
      rmSync(join(cluster.nodes[1]!.dir, "data"), { recursive: true, force: true });
      await cluster.restart(1);
      await Bun.sleep(1500);
      expect(await demoCount(1)).toBe(0);
      expect(await demoCount(0)).toBe(0);
    },
    120_000,
  );

  test(
    "a batch run made on node 0 is fresh on node 1 too, and stale on both once an entry changes",
    async () => {
      // Several writes on node 0 one by one; node 1 (wiped above) took the knowledge base in one go: the two
      // SQLite copies hold the same entries at different local versions.
      for (let i = 0; i < 4; i++) {
        expect((await api(0, "POST", "/entries", { id: `br-${i}`, question: `How do I repaint a canoe number ${i}?`, answer: `Canoe ${i}: sand, prime, paint.` })).status).toBe(201);
      }
      await within(10_000, "entries on node 1", async () => (await api(1, "GET", "/entries/br-3")).status === 200);
      await Bun.sleep(500);
      const v0 = (await json(await api(0, "GET", "/entries?limit=1"))).version;
      const v1 = (await json(await api(1, "GET", "/entries?limit=1"))).version;
      console.log(`local versions: node 0 ${v0}, node 1 ${v1}`);
      const run = await api(0, "POST", "/batch-runs", { name: "canoes", cases: [{ question: "How do I repaint a canoe number 2?", expected: "br-2" }] });
      expect(run.status).toBe(201);
      const fresh0 = (await json(await api(0, "GET", "/thresholds"))).batch_run;
      const fresh1 = (await json(await api(1, "GET", "/thresholds"))).batch_run;
      expect(fresh0.stale).toBe(false);
      expect(fresh1.stale).toBe(false);

      expect((await api(0, "PUT", "/entries/br-2", { answer: "Canoe 2: take it to the boatyard." })).status).toBe(200);
      await within(10_000, "stale on both nodes", async () => {
        const s0 = (await json(await api(0, "GET", "/thresholds"))).batch_run.stale;
        const s1 = (await json(await api(1, "GET", "/thresholds"))).batch_run.stale;
        return s0 === true && s1 === true;
      });
    },
    120_000,
  );

  test(
    "two imports with mode=replace at once on two nodes: the knowledge base ends as one of the files, on both nodes",
    async () => {
      const file = (tag: string, n: number) => ["question,answer", ...Array.from({ length: n }, (_, i) => `"What about the ${tag} kit number ${i}?","${tag} kit ${i}: in stock."`)].join("\n");
      const [r0, r1] = await Promise.all([
        api(0, "POST", "/import", { text: file("gamma", 60), format: "csv", mode: "replace" }),
        api(1, "POST", "/import", { text: file("delta", 40), format: "csv", mode: "replace" }),
      ]);
      expect([r0.status, r1.status]).toEqual([200, 200]);
      const ids = async (i: number) => ((await json(await api(i, "GET", "/entries?limit=500"))).entries as { question: string }[]).map((e) => e.question).sort();
      await within(15_000, "both nodes hold the same entries", async () => JSON.stringify(await ids(0)) === JSON.stringify(await ids(1)), 250);
      const questions = await ids(0);
      const tags = new Set(questions.map((q) => /the (\w+) kit/.exec(q)?.[1]));
      expect([...tags].length).toBe(1);
      expect(questions.length).toBe(tags.has("gamma") ? 60 : 40);
    },
    120_000,
  );
});
