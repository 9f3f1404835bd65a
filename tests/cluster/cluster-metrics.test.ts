import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parseExposition } from "../helpers/prometheus";
import { createTestDatabase, REDIS_URL, skipUnless, type TestDatabase } from "../helpers/services";
import { ChatVisitor, type Cluster, startCluster, within } from "./harness";

/**
 * /metrics on a cluster: the queue families are the cluster's (read from the shared store), so a ticket
 * opened through one node shows on every node's scrape and the KefuQueueWaiting alert can fire wherever
 * Prometheus looks; the bus families carry the node's id.
 */
const skip = await skipUnless({ pg: true, redis: true }, "cluster-metrics");

let db: TestDatabase;
let cluster: Cluster;
beforeAll(async () => {
  if (skip) return;
  db = await createTestDatabase();
  cluster = await startCluster({ nodes: 2, pgUrl: db.url, redisUrl: REDIS_URL });
}, 120_000);
afterAll(async () => {
  if (skip) return;
  await cluster?.stop();
  await db?.drop();
}, 60_000);

const sample = (text: string, name: string, labels: Record<string, string> = {}) =>
  parseExposition(text)
    .get(name)
    ?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe.skipIf(skip)("metrics on a cluster", () => {
  test(
    "a ticket opened on node 0 is counted on node 1's /metrics, with its wait; kefu_bus_up is labelled by node",
    async () => {
      const v = await ChatVisitor.open(cluster.nodes[0]!.wsUrl);
      await v.sendAndAck("I want to talk to a person");
      v.frame({ type: "handoff" });
      await within(20_000, "the conversation queued", () => v.rows().some((f) => f.type === "state" && f.state === "queued"));
      await Bun.sleep(1100);
      const other = await cluster.metrics(1);
      expect(sample(other, "kefu_tickets_open", { state: "queued" })).toBe(1);
      expect(sample(other, "kefu_queue_oldest_wait_seconds")!).toBeGreaterThan(1);
      const up = parseExposition(other).get("kefu_bus_up")!.samples;
      expect(up.map((s) => [s.labels.node?.endsWith("-node1"), s.value])).toEqual([[true, 1]]);
      await v.close();
    },
    60_000,
  );
});
