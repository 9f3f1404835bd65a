import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createLocalCoordinator, createRedisCoordinator, type RedisCoordinator } from "../src/cluster/coordinator";
import { createLogger } from "../src/log/logger";
import { eventually } from "./helpers/eventually";
import { REDIS_URL, skipUnless } from "./helpers/services";

const log = createLogger({ level: "silent" });
const prefix = () => `kefu-test-${crypto.randomUUID().slice(0, 8)}`;

/** Runs `rounds` rounds of both coordinators entering `name` at once; fails if two are ever inside. */
async function race(a: { withLock: RedisCoordinator["withLock"] }, b: typeof a, rounds: number) {
  let inside = 0;
  let most = 0;
  let ran = 0;
  const body = async () => {
    inside++;
    most = Math.max(most, inside);
    await Bun.sleep(Math.random() * 2);
    inside--;
    ran++;
  };
  for (let i = 0; i < rounds; i++) await Promise.all([a.withLock("race", body, { waitMs: 5000 }), b.withLock("race", body, { waitMs: 5000 })]);
  return { most, ran };
}

describe("local coordinator", () => {
  test("withLock is a mutex per name; a waiter past waitMs gets null without running", async () => {
    const c = createLocalCoordinator("n1");
    expect(await race(c, c, 100)).toEqual({ most: 1, ran: 200 });
    let release!: () => void;
    const holding = c.withLock("x", () => new Promise<void>((r) => (release = r)));
    let ran = false;
    expect(await c.withLock("x", async () => (ran = true), { waitMs: 50 })).toBeNull();
    expect(ran).toBe(false);
    expect(await c.withLock("other", async () => 7)).toBe(7); // other names are free
    const queued = c.withLock("x", async () => "second", { waitMs: 2000 });
    release();
    await holding;
    expect(await queued).toBe("second");
    expect(await c.acquireLease("reply:1", 1000)).toBe(true);
    expect(c.isLeader("retention")).toBe(true);
  });
});

describe.skipIf(await skipUnless({ redis: true }, "cluster-lease"))("redis coordinator", () => {
  const open: RedisCoordinator[] = [];
  const node = async (nodeId: string, p: string, extra: { leaderTtlMs?: number; roles?: string[] } = {}) => {
    const c = await createRedisCoordinator({ url: REDIS_URL, nodeId, log, prefix: p, ...extra });
    open.push(c);
    return c;
  };
  afterAll(async () => {
    await Promise.all(open.map((c) => c.close()));
  });

  test("two nodes racing for a lock 100 times: never both inside, every call runs", async () => {
    const p = prefix();
    const a = await node("a", p);
    const b = await node("b", p);
    expect(await race(a, b, 100)).toEqual({ most: 1, ran: 200 });
  }, 30_000);

  test("a lock held elsewhere past waitMs: null, fn not run; a holder longer than ttl keeps it (renewed)", async () => {
    const p = prefix();
    const a = await node("a", p);
    const b = await node("b", p);
    let release!: () => void;
    const holding = a.withLock("slow", () => new Promise<void>((r) => (release = r)), { ttlMs: 300 });
    await Bun.sleep(50);
    let ran = false;
    const t = Date.now();
    expect(await b.withLock("slow", async () => (ran = true), { waitMs: 200 })).toBeNull();
    expect(Date.now() - t).toBeGreaterThanOrEqual(190);
    expect(ran).toBe(false);
    await Bun.sleep(700); // > 2 ttl: only renewal keeps it
    expect(await b.withLock("slow", async () => (ran = true), { waitMs: 100 })).toBeNull();
    release();
    await holding;
    expect(await b.withLock("slow", async () => "b", { waitMs: 100 })).toBe("b");
  });

  test("leases: one node holds it (re-entrant for that node), release hands it over, ttl expires it", async () => {
    const p = prefix();
    const a = await node("a", p);
    const b = await node("b", p);
    expect(await a.acquireLease("reply:c1", 300)).toBe(true);
    expect(await b.acquireLease("reply:c1", 300)).toBe(false);
    expect(await a.acquireLease("reply:c1", 300)).toBe(true); // renew
    await b.releaseLease("reply:c1"); // not b's: no effect
    expect(await b.acquireLease("reply:c1", 300)).toBe(false);
    await a.releaseLease("reply:c1");
    expect(await b.acquireLease("reply:c1", 200)).toBe(true);
    await Bun.sleep(300); // b never renews: expired
    expect(await a.acquireLease("reply:c1", 1000)).toBe(true);
  });

  test("one leader per role; when the leader closes, the other takes over within the ttl", async () => {
    const p = prefix();
    const a = await node("a", p, { leaderTtlMs: 600, roles: ["batch"] });
    await eventually(() => a.isLeader("batch"), 1000);
    const b = await node("b", p, { leaderTtlMs: 600, roles: ["batch"] });
    await Bun.sleep(300);
    expect(a.isLeader("batch")).toBe(true);
    expect(b.isLeader("batch")).toBe(false);
    await a.close();
    expect(a.isLeader("batch")).toBe(false);
    const t = Date.now();
    expect(await eventually(() => b.isLeader("batch"), 600)).toBe(true);
    expect(Date.now() - t).toBeLessThanOrEqual(600);
    // isLeader of a new role starts campaigning (false until taken).
    expect(b.isLeader("retention")).toBe(false);
    expect(await eventually(() => b.isLeader("retention"), 1000)).toBe(true);
  });

  test("a leader that crashes (SIGKILL, nothing released) is replaced within ttl + ttl/3", async () => {
    const p = prefix();
    const dir = mkdtempSync(join(tmpdir(), "kefu-lease-"));
    try {
      const script = join(dir, "leader.ts");
      writeFileSync(
        script,
        `import { createRedisCoordinator } from ${JSON.stringify(resolve("src/cluster/coordinator.ts"))};
import { createLogger } from ${JSON.stringify(resolve("src/log/logger.ts"))};
const c = await createRedisCoordinator({ url: ${JSON.stringify(REDIS_URL)}, nodeId: "child", log: createLogger({ level: "silent" }), prefix: ${JSON.stringify(p)}, leaderTtlMs: 900, roles: ["batch"] });
const t = setInterval(() => { if (c.isLeader("batch")) { console.log("LEADER"); clearInterval(t); } }, 10);
setInterval(() => {}, 1000);
`,
      );
      const child = Bun.spawn([process.execPath, script], { stdout: "pipe", stderr: "inherit" });
      const reader = (child.stdout as ReadableStream<Uint8Array>).getReader();
      const first = await Promise.race([reader.read(), Bun.sleep(5000).then(() => null)]);
      expect(first && new TextDecoder().decode(first.value)).toContain("LEADER");
      const b = await node("b", p, { leaderTtlMs: 900, roles: ["batch"] });
      await Bun.sleep(400);
      expect(b.isLeader("batch")).toBe(false);
      child.kill("SIGKILL");
      await child.exited;
      const t = Date.now();
      expect(await eventually(() => b.isLeader("batch"), 2000)).toBe(true);
      expect(Date.now() - t).toBeLessThanOrEqual(900 + 300 + 100);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 15_000);

  test("losing the key (Redis flushed or restarted) is noticed at the next renewal: the old leader steps down if another took it", async () => {
    const p = prefix();
    const a = await node("a", p, { leaderTtlMs: 600, roles: ["batch"] });
    expect(await eventually(() => a.isLeader("batch"), 1000)).toBe(true);
    const admin = new Bun.RedisClient(REDIS_URL);
    await admin.send("SET", [`${p}:leader:batch`, "someone-else", "PX", "5000"]);
    admin.close();
    expect(await eventually(() => !a.isLeader("batch"), 600)).toBe(true);
  });
});
