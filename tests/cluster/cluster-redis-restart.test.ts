import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parseExposition } from "../helpers/prometheus";
import { createTestDatabase, type OwnRedis, skipUnless, startRedis, type TestDatabase } from "../helpers/services";
import { agent } from "../helpers/ws-client";
import { ChatVisitor, type Cluster, exactlyOnce, history, startCluster, within } from "./harness";

/**
 * Issue 18, done when 2: two nodes on a Redis of the test's own; visitors on both nodes in conversations
 * owned by an agent on node 1, everyone writing all the time. Redis is stopped for three seconds and
 * started again. No acknowledged message is lost (every acked client_id is in the stored stream at its
 * seq), every socket has the whole stream exactly once within seconds of Redis coming back, and each node
 * says so: a "subscription dead" then "restored" log line, kefu_bus_outages_total counted, kefu_bus_up 1
 * again.
 */
const skip = await skipUnless({ pg: true, redisServer: true }, "cluster-redis-restart");

let db: TestDatabase;
let redis: OwnRedis;
let cluster: Cluster;

beforeAll(async () => {
  if (skip) return;
  redis = await startRedis();
  db = await createTestDatabase();
  cluster = await startCluster({ nodes: 2, pgUrl: db.url, redisUrl: redis.url, config: { cluster: { canary_interval_ms: 300, heartbeat_ms: 500 } } });
}, 120_000);

afterAll(async () => {
  if (skip) return;
  await cluster?.stop();
  await db?.drop();
  await redis?.close();
}, 60_000);

const metric = (text: string, name: string) => parseExposition(text).get(name)?.samples[0]?.value;

describe.skipIf(skip)("cluster: Redis restarted under load", () => {
  test(
    "stop, wait, start: nothing acknowledged is lost, every client catches up, the canary reports the outage",
    async () => {
      const staff = await cluster.user("agent", { maxConcurrent: 100, via: 1 });
      const { c: ag } = await agent(cluster.nodes[1]!.wsUrl, staff.token);
      const homes = [0, 0, 1, 1];
      const visitors: ChatVisitor[] = [];
      for (const [i, home] of homes.entries()) {
        const v = await ChatVisitor.open(cluster.nodes[home]!.wsUrl, {}, `r${i}`);
        await v.sendAndAck(`hello from visitor ${i}`);
        v.frame({ type: "handoff" });
        visitors.push(v);
      }
      await within(30_000, "every conversation assigned to the agent on node 1", () => visitors.every((v) => v.rows().some((f) => f.type === "state" && f.state === "agent")));

      // Load: each visitor writes every 100 ms, the agent answers one conversation every 50 ms.
      let running = true;
      const agentSent: string[] = [];
      let n = 0;
      const load = (async () => {
        while (running) {
          for (const [i, v] of visitors.entries()) {
            if (!v.open) await v.connect(cluster.nodes[homes[i]!]!.wsUrl).catch(() => {});
            v.send(`message ${n} from visitor ${i}`);
          }
          for (const v of visitors.slice(0, 2)) {
            const id = `agent-msg-${n}-${v.name}`;
            agentSent.push(id);
            ag.send({ type: "send", conversation_id: visitors[(n + visitors.indexOf(v)) % visitors.length]!.conversationId, client_id: id, text: `agent says ${n}` });
          }
          n++;
          await Bun.sleep(100);
        }
      })();

      await Bun.sleep(2000);
      await redis.stop();
      const stoppedAt = Date.now();
      await Bun.sleep(3000);
      await redis.start();
      const startedAt = Date.now();
      await Bun.sleep(2000);
      running = false;
      await load;
      expect(stoppedAt).toBeLessThan(startedAt);

      // Every message is acknowledged (resent with its client_id by a visitor whose socket dropped).
      await within(20_000, "every visitor message acked", async () => {
        for (const [i, v] of visitors.entries()) if (!v.open) await v.connect(cluster.nodes[homes[i]!]!.wsUrl).catch(() => {});
        return visitors.every((v) => v.unacked.size === 0);
      }).catch((err) => {
        throw new Error(`${err.message}; unacked per visitor: ${visitors.map((v) => `${v.name} ${v.unacked.size} (open ${v.open}, connections ${v.connections})`).join(", ")}`);
      });
      const agentAcks = () => new Map(ag.frames.filter((f) => f.type === "ack").map((f) => [f.client_id as string, f]));
      await within(20_000, "every agent message acked", () => agentSent.every((id) => agentAcks().has(id)));

      // Every acked message is stored at its seq, and every socket catches up, exactly once, within seconds.
      for (const v of visitors) {
        const stored = await history(cluster.nodes[0]!.url, staff.token, v.conversationId);
        const last = stored.length;
        expect(stored.map((r) => r.seq)).toEqual(Array.from({ length: last }, (_, k) => k + 1));
        for (const [clientId, seq] of v.acked) expect(stored[seq - 1]).toMatchObject({ from: "visitor", client_id: clientId });
        for (const f of agentAcks().values()) if (f.conversation_id === v.conversationId) expect(stored[f.seq - 1]).toMatchObject({ from: "agent", client_id: f.client_id });
        const agentRows = () => ag.frames.filter((f) => (f.type === "message" || f.type === "state" || f.type === "ack") && typeof f.seq === "number" && f.conversation_id === v.conversationId);
        await within(15_000, `${v.name} and the agent caught up to seq ${last}`, () => exactlyOnce(v.rows(), last).length === 0 && exactlyOnce(agentRows(), last).length === 0).catch((err) => {
          throw new Error(`${err.message}; visitor: ${exactlyOnce(v.rows(), last).slice(0, 8).join(", ")}; agent: ${exactlyOnce(agentRows(), last).slice(0, 8).join(", ")}`);
        });
        await Bun.sleep(100);
        expect({ visitor: v.name, problems: exactlyOnce(v.rows(), last) }).toEqual({ visitor: v.name, problems: [] });
        expect({ agent: v.conversationId, problems: exactlyOnce(agentRows(), last) }).toEqual({ agent: v.conversationId, problems: [] });
      }

      // The canary saw the outage on both nodes: in the log and in /metrics, and the bus is up again.
      for (const i of [0, 1]) {
        await within(15_000, `node ${i}: bus up again`, async () => metric(await cluster.metrics(i), "kefu_bus_up") === 1);
        const text = await cluster.metrics(i);
        expect({ node: i, outages: (metric(text, "kefu_bus_outages_total") ?? 0) >= 1 }).toEqual({ node: i, outages: true });
        expect({ node: i, resyncs: (metric(text, "kefu_bus_resyncs_total") ?? 0) >= 1 }).toEqual({ node: i, resyncs: true });
        const lines = cluster.logLines(i);
        const dead = lines.findIndex((l) => l.msg === "event bus subscription dead");
        const restored = lines.findIndex((l) => l.msg === "event bus subscription restored");
        expect({ node: i, dead: dead >= 0, restoredAfter: restored > dead }).toEqual({ node: i, dead: true, restoredAfter: true });
        expect(lines[dead]!.level).toBe("warn");
      }
      for (const v of visitors) await v.close();
      await ag.close();
    },
    180_000,
  );
});
