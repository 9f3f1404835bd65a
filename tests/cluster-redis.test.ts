import { describe, expect, test } from "bun:test";
import { createManagedRedis } from "../src/cluster/redis";
import { createLogger } from "../src/log/logger";
import { REDIS_URL, skipUnless } from "./helpers/services";

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
