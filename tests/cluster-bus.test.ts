import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { busMetrics, createRedisBus, RESYNC_TOPIC, type RedisBus } from "../src/cluster/bus-redis";
import { createLogger, type Logger } from "../src/log/logger";
import { eventually } from "./helpers/eventually";
import { REDIS_URL, skipUnless, startRedis, type OwnRedis } from "./helpers/services";

/** A logger that keeps its lines (to count warnings). */
function collector(): { log: Logger; lines: { level: string; msg: string; [k: string]: unknown }[] } {
  const lines: { level: string; msg: string }[] = [];
  return { lines, log: createLogger({ level: "debug", write: (l) => lines.push(JSON.parse(l)) }) };
}
const prefix = () => `kefu-test-${crypto.randomUUID().slice(0, 8)}`;
const fast = { baseMs: 50, maxMs: 400 };

describe.skipIf(await skipUnless({ redis: true }, "cluster-bus (shared Redis)"))("redis bus on the shared Redis", () => {
  let a: RedisBus, b: RedisBus;
  beforeAll(async () => {
    const channelPrefix = prefix();
    a = await createRedisBus({ url: REDIS_URL, nodeId: "a", log: collector().log, channelPrefix, canaryIntervalMs: 200 });
    b = await createRedisBus({ url: REDIS_URL, nodeId: "b", log: collector().log, channelPrefix, canaryIntervalMs: 200 });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  test("local subscribers get the event synchronously, the other node through Redis, the publisher never twice", async () => {
    const onA: unknown[] = [];
    const onB: unknown[] = [];
    const ua = a.subscribe("chat:conv:1", (e) => onA.push(e));
    const ub = b.subscribe("chat:conv:1", (e) => onB.push(e));
    a.publish("chat:conv:1", { frame: { seq: 1 } });
    expect(onA).toEqual([{ frame: { seq: 1 } }]); // synchronous, as the in-process bus
    expect(await eventually(() => onB.length === 1, 2000)).toBe(true);
    expect(onB).toEqual([{ frame: { seq: 1 } }]);
    await Bun.sleep(100);
    expect(onA.length).toBe(1); // own envelope ignored
    ua();
    ub();
    expect(a.subscribers("chat:conv:1")).toBe(0);
  });

  test("keeps order and skips topics without a local subscriber", async () => {
    const got: number[] = [];
    const u = b.subscribe<{ n: number }>("t:order", (e) => got.push(e.n));
    const before = b.health().received;
    for (let n = 0; n < 200; n++) {
      a.publish("t:order", { n });
      a.publish("t:nobody", { n });
    }
    expect(await eventually(() => got.length === 200, 3000)).toBe(true);
    expect(got).toEqual([...Array(200).keys()]);
    expect(b.health().received - before).toBe(200); // t:nobody not delivered
    u();
  });

  test("bus: topics stay local", async () => {
    const got: unknown[] = [];
    const u = b.subscribe("bus:local-thing", (e) => got.push(e));
    a.publish("bus:local-thing", {});
    await Bun.sleep(150);
    expect(got).toEqual([]);
    u();
  });

  test("the canary comes back: healthy, with a round trip", async () => {
    expect(await eventually(() => a.health().lastCanaryMs >= 0, 2000)).toBe(true);
    const h = a.health();
    expect(h).toMatchObject({ connected: true, degraded: false, outages: 0 });
    const m = Object.fromEntries(busMetrics(h).map((x) => [x.name, x.value]));
    expect(m.kefu_bus_up).toBe(1);
    expect(m.kefu_bus_outages_total).toBe(0);
  });
});

describe.skipIf(await skipUnless({ redisServer: true }, "cluster-bus (own redis-server)"))("redis bus across a Redis restart", () => {
  let redis: OwnRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.close();
  });

  /** Two nodes; A publishes a numbered event every 20 ms on `chat:conv:x`. */
  async function pair(opts: { recover?: boolean } = {}) {
    const channelPrefix = prefix();
    const la = collector();
    const lb = collector();
    const a = await createRedisBus({ url: redis.url, nodeId: "a", log: la.log, channelPrefix, canaryIntervalMs: 250, backoff: fast });
    const b = await createRedisBus({ url: redis.url, nodeId: "b", log: lb.log, channelPrefix, canaryIntervalMs: 250, backoff: fast, recover: opts.recover });
    const onB: number[] = [];
    let resyncs = 0;
    b.subscribe<{ n: number }>("chat:conv:x", (e) => onB.push(e.n));
    b.subscribe(RESYNC_TOPIC, () => resyncs++);
    let n = 0;
    const traffic = setInterval(() => a.publish("chat:conv:x", { n: n++ }), 20);
    return {
      a,
      b,
      la,
      lb,
      onB,
      resyncs: () => resyncs,
      sent: () => n,
      async close() {
        clearInterval(traffic);
        await a.close();
        await b.close();
      },
    };
  }

  test(
    "after Redis is killed and restarted mid-traffic, events from A reach B again within seconds and bus:resync fires on B",
    async () => {
      const p = await pair();
      try {
        expect(await eventually(() => p.onB.length > 10, 3000)).toBe(true);
        await redis.stop(); // SIGTERM: the helper's start() does not restart after SIGKILL (exitCode stays null)
        await Bun.sleep(700);
        // Redis down: local delivery goes on, publishes fail (counted, never thrown), both nodes degraded.
        const localOnA: unknown[] = [];
        const u = p.a.subscribe("t:local", (e) => localOnA.push(e));
        p.a.publish("t:local", 1);
        expect(localOnA).toEqual([1]);
        u();
        expect(p.a.health().degraded).toBe(true);
        expect(p.b.health().degraded).toBe(true);
        expect(p.a.health().publishFailures).toBeGreaterThan(0);
        await redis.start();
        const restartedAt = Date.now();
        const mark = p.sent();
        expect(await eventually(() => p.onB.some((x) => x > mark), 5000)).toBe(true);
        const took = Date.now() - restartedAt;
        expect(took).toBeLessThan(5000);
        expect(p.resyncs()).toBeGreaterThanOrEqual(1);
        expect(await eventually(() => !p.a.health().degraded && !p.b.health().degraded, 3000)).toBe(true);
        for (const [h, l] of [
          [p.a.health(), p.la],
          [p.b.health(), p.lb],
        ] as const) {
          expect(h.outages).toBe(1);
          expect(h.connected).toBe(true);
          // One warn per outage (the publish burst warns once more on the publisher).
          expect(l.lines.filter((x) => x.msg === "event bus subscription dead").length).toBe(1);
          expect(l.lines.filter((x) => x.msg === "event bus publish failed").length).toBeLessThanOrEqual(1);
          const restored = l.lines.find((x) => x.msg === "event bus subscription restored");
          expect(restored?.outage_ms).toBeGreaterThan(500);
        }
        // A lost publishes during the outage, so it asked B to refetch as well: B saw its own resync and A's.
        expect(await eventually(() => p.resyncs() >= 2, 2000)).toBe(true);
      } finally {
        await p.close();
      }
    },
    20_000,
  );

  test(
    "control: without the resubscribe, B stays deaf after the restart (the restart really kills the subscription)",
    async () => {
      const p = await pair({ recover: false });
      try {
        expect(await eventually(() => p.onB.length > 10, 3000)).toBe(true);
        await redis.stop(); // SIGTERM: the helper's start() does not restart after SIGKILL (exitCode stays null)
        await Bun.sleep(300);
        await redis.start();
        const mark = p.sent();
        await Bun.sleep(3000);
        expect(p.onB.some((x) => x > mark)).toBe(false);
        expect(p.resyncs()).toBe(0);
        expect(p.b.health().degraded).toBe(true);
      } finally {
        await p.close();
      }
    },
    20_000,
  );

  test(
    "the server drops B's subscriber connection (CLIENT KILL TYPE pubsub): B reconnects, resubscribes and resyncs",
    async () => {
      const p = await pair();
      try {
        expect(await eventually(() => p.onB.length > 10, 3000)).toBe(true);
        const admin = new Bun.RedisClient(redis.url);
        await admin.send("CLIENT", ["KILL", "TYPE", "pubsub"]);
        admin.close();
        const mark = p.sent();
        expect(await eventually(() => p.onB.some((x) => x > mark), 4000)).toBe(true);
        expect(await eventually(() => p.resyncs() >= 1, 2000)).toBe(true);
      } finally {
        await p.close();
      }
    },
    20_000,
  );
});

/**
 * A TCP proxy to Redis whose existing connections can be frozen: bytes stop flowing both ways but nothing is
 * closed (a half-open connection, a stuck NAT entry). New connections go through normally.
 */
async function freezableProxy(target: number) {
  type Pair = { client: import("bun").Socket<{ up?: import("bun").Socket<unknown> }>; frozen: boolean };
  const pairs: Pair[] = [];
  const server = Bun.listen<{ up?: import("bun").Socket<unknown>; pair?: Pair; pending: Uint8Array[] }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      async open(client) {
        const pair: Pair = { client: client as never, frozen: false };
        pairs.push(pair);
        client.data = { pair, pending: [] };
        const up = await Bun.connect({
          hostname: "127.0.0.1",
          port: target,
          socket: {
            data(_s, chunk) {
              if (!pair.frozen) client.write(chunk);
            },
            close() {
              if (!pair.frozen) client.end();
            },
          },
        });
        client.data.up = up;
        for (const c of client.data.pending) up.write(c);
      },
      data(client, chunk) {
        if (client.data.pair?.frozen) return;
        if (client.data.up) client.data.up.write(chunk);
        else client.data.pending.push(new Uint8Array(chunk));
      },
      close(client) {
        client.data.up?.end();
      },
    },
  });
  return {
    url: `redis://127.0.0.1:${server.port}`,
    freezeAll: () => pairs.forEach((p) => (p.frozen = true)),
    stop: () => server.stop(true),
  };
}

describe.skipIf(await skipUnless({ redis: true }, "cluster-bus canary"))("the canary", () => {
  test(
    "a frozen subscriber connection (open, but nothing arrives) is caught by the canary, replaced and resubscribed",
    async () => {
      const proxy = await freezableProxy(Number(new URL(REDIS_URL).port || 6379));
      const channelPrefix = prefix();
      const la = collector();
      const lb = collector();
      const a = await createRedisBus({ url: REDIS_URL, nodeId: "a", log: la.log, channelPrefix, canaryIntervalMs: 200, backoff: fast });
      const b = await createRedisBus({ url: proxy.url, nodeId: "b", log: lb.log, channelPrefix, canaryIntervalMs: 200, backoff: fast });
      const onB: number[] = [];
      let resyncs = 0;
      b.subscribe<{ n: number }>("t:x", (e) => onB.push(e.n));
      b.subscribe(RESYNC_TOPIC, () => resyncs++);
      let n = 0;
      const traffic = setInterval(() => a.publish("t:x", { n: n++ }), 20);
      try {
        expect(await eventually(() => onB.length > 5, 3000)).toBe(true);
        proxy.freezeAll();
        await Bun.sleep(100);
        const mark = n;
        expect(await eventually(() => b.health().degraded, 2000)).toBe(true);
        expect(await eventually(() => onB.some((x) => x > mark) && resyncs >= 1, 4000)).toBe(true);
        expect(await eventually(() => !b.health().degraded, 2000)).toBe(true);
        expect(b.health().outages).toBe(1);
        expect(lb.lines.filter((x) => x.msg === "event bus subscription dead").length).toBe(1);
        expect(lb.lines.find((x) => x.msg === "event bus subscription dead")?.reason).toBe("canary missed");
        expect(a.health().degraded).toBe(false);
      } finally {
        clearInterval(traffic);
        await a.close();
        await b.close();
        proxy.stop();
      }
    },
    15_000,
  );
});
