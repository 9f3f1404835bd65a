import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createRedisBus } from "../src/cluster/bus-redis";
import { createClusterPresence, type ClusterPresenceOptions } from "../src/cluster/presence-redis";
import { createInProcessBus, type EventBus } from "../src/events/bus";
import { createLogger } from "../src/log/logger";
import { eventually } from "./helpers/eventually";
import { REDIS_URL, skipUnless } from "./helpers/services";

const log = createLogger({ level: "silent" });
const prefix = () => `kefu-test-${crypto.randomUUID().slice(0, 8)}`;

describe.skipIf(await skipUnless({ redis: true }, "cluster-presence"))("cluster presence on two nodes", () => {
  const closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of closers.reverse()) await c();
  });
  const busOf = async (nodeId: string, channelPrefix: string) => {
    const b = await createRedisBus({ url: REDIS_URL, nodeId, log, channelPrefix, canaryIntervalMs: 1000 });
    closers.push(() => b.close());
    return b;
  };
  const presenceOf = async (nodeId: string, p: string, bus: EventBus, extra: Partial<ClusterPresenceOptions> = {}) => {
    const pr = await createClusterPresence({ url: REDIS_URL, nodeId, bus, log, prefix: p, chosen: () => "online", heartbeatMs: 200, ...extra });
    closers.push(() => pr.close());
    return pr;
  };
  const pair = async (extra: Partial<ClusterPresenceOptions> = {}) => {
    const p = prefix();
    const [busA, busB] = await Promise.all([busOf("a", p), busOf("b", p)]);
    const a = await presenceOf("a", p, busA, extra);
    const b = await presenceOf("b", p, busB, extra);
    return { p, a, b, busA, busB };
  };

  test("an agent on node A is seen on node B at once (bus): status, available, anyoneOnline, connected", async () => {
    const { a, b } = await pair();
    expect(a.connect(1)).toBe(true);
    expect(await eventually(() => b.status(1) === "online", 1000)).toBe(true);
    expect(b.available()).toEqual([]); // not ready until its socket sent presence
    expect(b.anyoneOnline()).toBe(true);
    a.set(1, "online", true);
    expect(await eventually(() => b.available().includes(1), 1000)).toBe(true);
    expect(b.connected()).toEqual([1]);
    expect(b.connect(2)).toBe(true);
    b.set(2, "online", true);
    expect(await eventually(() => a.available().join() === "1,2", 1000)).toBe(true); // longest online first
    expect(b.available()).toEqual([1, 2]);
    expect(a.disconnect(1, true)).toBe(true);
    expect(await eventually(() => b.status(1) === "offline", 1000)).toBe(true);
    expect(b.available()).toEqual([2]);
  });

  test("an agent with sockets on both nodes is one agent; offline only when the last socket anywhere closes; the latest choice wins", async () => {
    const { a, b } = await pair();
    expect(a.connect(7)).toBe(true);
    a.set(7, "online", true);
    expect(await eventually(() => b.status(7) === "online", 1000)).toBe(true);
    expect(b.connect(7)).toBe(false); // already online (on A)
    b.set(7, "online", true);
    await Bun.sleep(5);
    b.set(7, "away", false); // chose away on B's console
    expect(await eventually(() => a.status(7) === "away", 1000)).toBe(true);
    expect(b.status(7)).toBe("away");
    expect(a.available()).toEqual([]);
    expect(a.anyoneOnline()).toBe(false);
    await Bun.sleep(5);
    a.set(7, "online", false); // and back online on A
    expect(await eventually(() => b.status(7) === "online", 1000)).toBe(true);
    expect(b.available()).toEqual([7]);
    expect(a.connected()).toEqual([7]);
    expect(a.disconnect(7, true)).toBe(false); // still on B
    expect(a.status(7)).toBe("online"); // B adopted the choice made on A
    await Bun.sleep(100);
    expect(a.status(7)).toBe("online");
    expect(b.disconnect(7, true)).toBe(true);
    expect(await eventually(() => a.status(7) === "offline", 1000)).toBe(true);
  });

  test("without cross-node bus events, the heartbeat read-back still shows the other node's agents", async () => {
    const p = prefix();
    const a = await presenceOf("a", p, createInProcessBus());
    const b = await presenceOf("b", p, createInProcessBus());
    a.connect(3);
    a.set(3, "online", true);
    expect(b.status(3)).toBe("offline");
    expect(await eventually(() => b.available().includes(3), 1500)).toBe(true);
    expect(b.nodes()).toEqual(["a"]);
  });

  test("a node that closes takes its agents with it at once", async () => {
    const p = prefix();
    const [busA, busB] = await Promise.all([busOf("a", p), busOf("b", p)]);
    const a = await createClusterPresence({ url: REDIS_URL, nodeId: "a", bus: busA, log, prefix: p, chosen: () => "online", heartbeatMs: 5000 });
    const b = await presenceOf("b", p, busB, { heartbeatMs: 5000 });
    a.connect(4);
    expect(await eventually(() => b.status(4) === "online", 1000)).toBe(true);
    await a.close();
    expect(await eventually(() => b.status(4) === "offline", 1000)).toBe(true);
  });

  test(
    "a node that dies (SIGKILL): its agents disappear after 3 heartbeats and onChange reports them offline",
    async () => {
      // The dead node's heartbeat: its snapshot outlives it by 2–3 of them (expiry 3 heartbeats after its
      // last write), then B's next read-back (every 200 ms) drops it: gone 2.0–3.2 s after the kill. Checked
      // at 1.5 s (an expiry of 1 heartbeat would be seen by 1.2 s) and against 4.3 s: half a second or more of
      // margin each way, so a pause of the test or of the child on a busy machine cannot cross a bound.
      const CHILD_HB = 1000;
      const p = prefix();
      const dir = mkdtempSync(join(tmpdir(), "kefu-presence-"));
      try {
        const script = join(dir, "node.ts");
        writeFileSync(
          script,
          `import { createRedisBus } from ${JSON.stringify(resolve("src/cluster/bus-redis.ts"))};
import { createClusterPresence } from ${JSON.stringify(resolve("src/cluster/presence-redis.ts"))};
import { createLogger } from ${JSON.stringify(resolve("src/log/logger.ts"))};
const log = createLogger({ level: "silent" });
const bus = await createRedisBus({ url: ${JSON.stringify(REDIS_URL)}, nodeId: "child", log, channelPrefix: ${JSON.stringify(p)} });
const pr = await createClusterPresence({ url: ${JSON.stringify(REDIS_URL)}, nodeId: "child", bus, log, prefix: ${JSON.stringify(p)}, chosen: () => "online", heartbeatMs: ${CHILD_HB} });
pr.connect(9); pr.set(9, "online", true);
console.log("READY");
setInterval(() => {}, 1000);
`,
        );
        const changes: { online: number[]; offline: number[] }[] = [];
        const busB = await busOf("b", p);
        const b = await presenceOf("b", p, busB, { onChange: (d) => changes.push(d) });
        const child = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "inherit" });
        const reader = (child.stdout as ReadableStream<Uint8Array>).getReader();
        const first = await Promise.race([reader.read(), Bun.sleep(5000).then(() => null)]);
        expect(first && new TextDecoder().decode(first.value)).toContain("READY");
        expect(await eventually(() => b.available().includes(9), 1000)).toBe(true);
        expect(changes).toContainEqual({ online: [9], offline: [] });
        child.kill("SIGKILL");
        await child.exited;
        const t = Date.now();
        await Bun.sleep(1.5 * CHILD_HB); // still there for a while: Redis keeps the snapshot for 3 heartbeats
        expect(b.status(9)).toBe("online");
        expect(await eventually(() => b.status(9) === "offline", 5000)).toBe(true);
        const took = Date.now() - t;
        expect(took).toBeGreaterThanOrEqual(1.5 * CHILD_HB);
        expect(took).toBeLessThanOrEqual(4 * CHILD_HB + 300); // at most 3 of its heartbeats + B's read-back interval
        expect(changes.at(-1)).toEqual({ online: [], offline: [9] });
        expect(b.nodes()).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    15_000,
  );
});
