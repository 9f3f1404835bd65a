import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type FakeLlm, startFakeLlm } from "../../bench/fake-llm/server";
import { parseExposition } from "../helpers/prometheus";
import { createTestDatabase, type OwnRedis, skipUnless, startRedis, type TestDatabase } from "../helpers/services";
import { agent } from "../helpers/ws-client";
import { ChatVisitor, type Cluster, history, startCluster, within } from "./harness";

/**
 * docs/cluster.md, "Redis restarts or is unreachable": chat on one node keeps working, the probes stay up (a
 * load balancer must not take every node out because Redis blipped), kefu_bus_up goes 0 then 1; a node started
 * while Redis is down starts, and joins the cluster when Redis is back.
 */
const skip = await skipUnless({ pg: true, redisServer: true }, "review-redis-down");

let llm: FakeLlm;
let db: TestDatabase;
let redis: OwnRedis;
let cluster: Cluster;

beforeAll(async () => {
  if (skip) return;
  llm = await startFakeLlm({ reply: "We ship everywhere." });
  db = await createTestDatabase();
  redis = await startRedis();
  cluster = await startCluster({ nodes: 3, pgUrl: db.url, redisUrl: redis.url, config: { llm: { providers: [{ name: "fake", base_url: llm.url, model: "fake-model" }] }, chat: { agent_grace_s: 3 } } });
}, 120_000);
afterAll(async () => {
  if (skip) return;
  await cluster?.stop();
  await redis?.close();
  await db?.drop();
  await llm?.stop();
}, 60_000);

const busUp = async (i: number) => parseExposition(await cluster.metrics(i)).get("kefu_bus_up")?.samples[0]?.value;
const probe = async (i: number, path: string) => (await fetch(`${cluster.nodes[i]!.url}${path}`, { signal: AbortSignal.timeout(3000) })).status;

describe.skipIf(skip)("Redis down", () => {
  test(
    "local chat works, probes stay 200, kefu_bus_up 0 then 1; a node started meanwhile joins when Redis is back",
    async () => {
      await within(10_000, "bus up everywhere", async () => (await Promise.all([0, 1, 2].map(busUp))).every((v) => v === 1));
      const local = await cluster.user("agent", { maxConcurrent: 5, via: 0 });
      const { c: ag0 } = await agent(cluster.nodes[0]!.wsUrl, local.token);
      await Bun.sleep(1000);
      await redis.stop("SIGKILL");
      await within(10_000, "bus down everywhere", async () => (await Promise.all([0, 1, 2].map(busUp))).every((v) => v === 0));
      for (const i of [0, 1]) for (const path of ["/healthz", "/readyz"]) expect({ i, path, status: await probe(i, path) }).toEqual({ i, path, status: 200 });

      // Chat on one node: acked and answered.
      const v = await ChatVisitor.open(cluster.nodes[0]!.wsUrl);
      expect(await v.sendAndAck("Do you ship to Japan?")).toBe(1);
      await within(20_000, "the bot answers", () => v.rows().some((f) => f.type === "message" && f.from === "bot"));
      // ... and a handoff goes to the agent on the same node (the assignment lock is not there to take).
      const w = await ChatVisitor.open(cluster.nodes[0]!.wsUrl);
      await w.sendAndAck("A human please");
      w.frame({ type: "handoff" });
      await within(20_000, "assigned to the agent on node 0 during the outage", () => ag0.frames.some((f) => f.type === "assigned" && f.conversation?.conversation_id === w.conversationId));
      await w.close();
      await ag0.close();

      // A node started while Redis is down.
      await cluster.kill(2, "SIGKILL");
      await cluster.restart(2);
      expect(await probe(2, "/readyz")).toBe(200);
      expect(await busUp(2)).toBe(0);

      await redis.start();
      await within(20_000, "bus up again everywhere", async () => (await Promise.all([0, 1, 2].map(busUp))).every((v) => v === 1));
      // The node started during the outage takes part: its agent gets a conversation handed off on node 0.
      const staff = await cluster.user("agent", { maxConcurrent: 5, via: 2 });
      const { c: ag } = await agent(cluster.nodes[2]!.wsUrl, staff.token);
      await Bun.sleep(1500);
      v.frame({ type: "handoff" });
      await within(20_000, "assigned to the agent on node 2", () => ag.frames.some((f) => f.type === "assigned" && f.conversation?.conversation_id === v.conversationId));
      ag.send({ type: "send", conversation_id: v.conversationId, client_id: "ag-1", text: "Hello from node 2" });
      await within(20_000, "the agent's message reaches the visitor on node 0", () => v.rows().some((f) => f.from === "agent" && f.text === "Hello from node 2"));
      await v.close();
      await ag.close();
    },
    180_000,
  );

  test(
    "an outage longer than agent_grace_s does not take conversations away from agents on the other nodes",
    async () => {
      await within(20_000, "bus up everywhere", async () => (await Promise.all([0, 1, 2].map(busUp))).every((v) => v === 1));
      const staff = await cluster.user("agent", { maxConcurrent: 5, via: 1 });
      const { c: ag } = await agent(cluster.nodes[1]!.wsUrl, staff.token);
      const admin = await cluster.user("admin");
      await Bun.sleep(1500);
      const v = await ChatVisitor.open(cluster.nodes[0]!.wsUrl);
      await v.sendAndAck("A human please, from node 0");
      v.frame({ type: "handoff" });
      await within(20_000, "assigned to the agent on node 1", () => ag.frames.some((f) => f.type === "assigned" && f.conversation?.conversation_id === v.conversationId));
      await redis.stop("SIGKILL");
      // 3 heartbeats (1.5 s) + the grace period (3 s) + room: node 0 cannot see node 1's agent all that time.
      await Bun.sleep(8000);
      const states = async () => (await history(cluster.nodes[0]!.url, admin.token, v.conversationId)).filter((r) => r.type === "state").map((r) => r.state);
      expect(await states()).toEqual(["queued", "agent"]);
      await redis.start();
      await within(20_000, "bus up again everywhere", async () => (await Promise.all([0, 1, 2].map(busUp))).every((v) => v === 1));
      await Bun.sleep(5000);
      expect(await states()).toEqual(["queued", "agent"]);
      await v.close();
      await ag.close();
    },
    120_000,
  );
});
