import { describe, expect, test } from "bun:test";
import { createRedisCoordinator } from "../src/cluster/coordinator";
import { createManagedRedis } from "../src/cluster/redis";
import { createLogger } from "../src/log/logger";
import { freePort, REDIS_URL, redisPing, redisServerPath, skipUnless } from "./helpers/services";

const log = createLogger({ level: "error", write: () => {} });

describe.skipIf(await skipUnless({ redis: true }, "cluster-redis (shared Redis)"))("managed redis connection", () => {
  // The connection drops while onReady runs (Redis restarted between CONNECT and SUBSCRIBE): the close
  // comes while still connecting, so it cannot schedule the next attempt itself; the attempt must count
  // as failed and be retried, or the node stays without a connection for good.
  test("a connection lost while onReady runs is retried, not left down", async () => {
    let calls = 0;
    const redis = createManagedRedis({
      url: REDIS_URL,
      log,
      backoff: { baseMs: 20, maxMs: 50 },
      onReady: async (c) => {
        if (++calls > 1) return;
        c.close();
        await Bun.sleep(50);
      },
    });
    try {
      expect(await redis.firstUp(3000)).toBe(true);
      expect(calls).toBe(2);
      expect(await redis.client()!.send("PING", [])).toBe("PONG");
    } finally {
      redis.close();
    }
  });
});

describe.skipIf(await skipUnless({ redisServer: true }, "cluster-redis (paused redis-server)"))("coordinator on a Redis that hangs", () => {
  // A Redis that stops answering without closing (paused, a half-open TCP connection) must not hold a lock
  // or lease call for good: the assignment round and the bot reply awaiting it would never go on.
  test("lock and lease calls give up on Redis after the command timeout (granted locally), and use it again once it answers", async () => {
    const port = await freePort();
    const proc = Bun.spawn([redisServerPath()!, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdout: "ignore", stderr: "ignore" });
    const url = `redis://127.0.0.1:${port}`;
    try {
      while (!(await redisPing(url, 500))) await Bun.sleep(20);
      const co = await createRedisCoordinator({ url, nodeId: "n1", log, commandTimeoutMs: 300, prefix: `kefu-test-${crypto.randomUUID().slice(0, 8)}`, backoff: { baseMs: 20, maxMs: 100 } });
      expect(await co.acquireLease("a", 5000)).toBe(true);
      proc.kill("SIGSTOP");
      const started = Date.now();
      const [lease, locked] = await Promise.all([co.acquireLease("b", 5000), co.withLock("assign", async () => "ran", { waitMs: 200 })]);
      // Not answered: granted on this node alone (chat goes on while Redis is unreachable, docs/cluster.md).
      expect({ lease, locked }).toEqual({ lease: true, locked: "ran" });
      expect(Date.now() - started).toBeLessThan(2000);
      proc.kill("SIGCONT");
      let again = false;
      // (Not "assign" again: the paused Redis may still run the SET NX that timed out, and that lock then waits for its ttl.)
      for (const deadline = Date.now() + 5000; !again && Date.now() < deadline; await Bun.sleep(50)) again = (await co.withLock("after", async () => "ran", { waitMs: 200 })) === "ran";
      expect(again).toBe(true);
      await co.close();
    } finally {
      proc.kill("SIGCONT");
      proc.kill("SIGKILL");
      await proc.exited;
    }
  }, 15_000);
});
