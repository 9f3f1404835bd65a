/**
 * Review 18 (R2): the PostgreSQL driver when the server goes away under a running node. A TCP proxy of the
 * test's own sits between the driver and the shared test server, so the test can refuse connections or
 * freeze the link (a paused server, a half-open network path) without touching the server the other tests
 * use; a restart is what pg_terminate_backend does to the pool's connections (57P01, as after `pg_ctl restart`).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, connect, type Server, type Socket } from "node:net";
import { SQL } from "bun";
import { KefuError } from "../src/errors/kefu-error";
import { createPostgresSql } from "../src/storage/postgres/driver";
import { createTestDatabase, PG_URL, skipUnless, type TestDatabase } from "./helpers/services";

const pgSkip = await skipUnless({ pg: true }, "review-18 PostgreSQL outage tests");

/** 127.0.0.1:<port> → the test server. `refuse()` closes the listener and every link; `freeze()` stops forwarding. */
async function startProxy(target: URL) {
  const links = new Set<Socket>();
  let frozen = false;
  let server: Server | null = null;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = connect(Number(target.port || 5432), target.hostname);
        links.add(client).add(upstream);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          links.delete(client);
          links.delete(upstream);
        };
        client.on("data", (d) => void (frozen || upstream.write(d)));
        upstream.on("data", (d) => void (frozen || client.write(d)));
        client.on("close", drop).on("error", drop);
        upstream.on("close", drop).on("error", drop);
      });
      server.listen(port, "127.0.0.1", () => {
        port = (server!.address() as { port: number }).port;
        resolve();
      });
    });
  await listen();
  return {
    url(db: string) {
      const u = new URL(db);
      u.hostname = "127.0.0.1";
      u.port = String(port);
      return u.toString();
    },
    async refuse() {
      const closed = new Promise<void>((r) => (server ? server.close(() => r()) : r()));
      server = null;
      for (const s of links) s.destroy();
      links.clear();
      await closed;
    },
    restore: listen,
    freeze: (on: boolean) => void (frozen = on),
    close: async () => {
      frozen = false;
      const closed = new Promise<void>((r) => (server ? server.close(() => r()) : r()));
      for (const s of links) s.destroy();
      await closed;
    },
  };
}

const outcome = (p: Promise<unknown>, ms = 8000) =>
  Promise.race([
    p.then(
      () => "ok",
      (e) => (e instanceof KefuError ? `${e.status} ${e.code}` : `raw ${(e as { code?: string }).code} ${(e as { errno?: string }).errno}`),
    ),
    Bun.sleep(ms).then(() => "hang"),
  ]);

describe.skipIf(pgSkip)("review 18: the PostgreSQL driver under outages", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  test("after the server restarted (every pooled connection terminated), the next requests succeed", async () => {
    const sql = await createPostgresSql({ url: db.url, max: 3 });
    try {
      // Three connections open in the pool.
      await Promise.all([1, 2, 3].map(() => sql.get("SELECT pg_sleep(0.05) AS s")));
      const admin = new SQL({ url: PG_URL, max: 1 });
      await admin.unsafe(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${db.name}' AND pid <> pg_backend_pid()`);
      await admin.close();
      await Bun.sleep(100);
      const results = [];
      for (let i = 0; i < 4; i++) results.push(await outcome(sql.get("SELECT 1 AS one")));
      results.push(await outcome(sql.transaction(() => sql.get("SELECT 1 AS one"))));
      results.push(await outcome(sql.batch(() => sql.get("SELECT 1 AS one"))));
      expect(results).toEqual(["ok", "ok", "ok", "ok", "ok", "ok"]);
    } finally {
      await sql.close();
    }
  }, 30_000);

  test("a server that is down: reads, transactions and batches fail at once with 503 storage_unavailable; back up, the node recovers", async () => {
    const proxy = await startProxy(new URL(db.url));
    const sql = await createPostgresSql({ url: proxy.url(db.url), max: 2, connectionTimeout: 2 });
    try {
      await sql.get("SELECT 1 AS one");
      await proxy.refuse();
      expect(await outcome(sql.get("SELECT 1 AS one"))).toBe("503 storage_unavailable");
      expect(await outcome(sql.transaction(() => sql.get("SELECT 1 AS one")))).toBe("503 storage_unavailable");
      expect(await outcome(sql.batch(() => sql.get("SELECT 1 AS one")))).toBe("503 storage_unavailable");
      await proxy.restore();
      expect(await outcome(sql.get("SELECT 1 AS one"))).toBe("ok");
      expect(await outcome(sql.batch(() => sql.get("SELECT 1 AS one")))).toBe("ok");
    } finally {
      await proxy.close();
      await sql.close();
    }
  }, 30_000);

  test("[storage] query_timeout_ms is the node's statement timeout: a statement slower than it fails with 503", async () => {
    const { defaultConfig } = await import("../src/config/load");
    const { openNodeServices } = await import("../src/server/node-services");
    const { memoryDb } = await import("../src/kb/test/helpers");
    const { createLogger } = await import("../src/log/logger");
    const config = defaultConfig();
    Object.assign(config.storage, { driver: "postgres", url: db.url, pool: 2, query_timeout_ms: 300 });
    const node = await openNodeServices(config, memoryDb(), createLogger({ level: "error", write: () => {} }));
    try {
      const t0 = performance.now();
      const err = await node.sql.get("SELECT pg_sleep(1.5) AS s").catch((e) => e);
      expect(err).toBeInstanceOf(KefuError);
      expect(err).toMatchObject({ code: "storage_unavailable", status: 503 });
      expect(performance.now() - t0).toBeLessThan(1400);
      // Below the limit a statement runs as usual.
      expect(await node.sql.get<{ s: string }>("SELECT pg_sleep(0.05)::text AS s")).toEqual({ s: "" });
    } finally {
      await node.close();
    }
  }, 15_000);

  test("a server that stops answering (paused, half-open link): requests fail with 503 after the query timeout instead of hanging; the pool is usable after", async () => {
    const proxy = await startProxy(new URL(db.url));
    const sql = await createPostgresSql({ url: proxy.url(db.url), max: 1, queryTimeoutMs: 800 });
    try {
      await sql.get("SELECT 1 AS one");
      proxy.freeze(true);
      const t0 = performance.now();
      const [read, tx, batch] = await Promise.all([
        outcome(sql.get("SELECT 1 AS one")),
        outcome(sql.transaction(() => sql.get("SELECT 1 AS one"))),
        outcome(sql.batch(() => sql.get("SELECT 1 AS one"))),
      ]);
      expect([read, tx, batch]).toEqual(["503 storage_unavailable", "503 storage_unavailable", "503 storage_unavailable"]);
      expect(performance.now() - t0).toBeLessThan(6000);
      proxy.freeze(false);
      await proxy.refuse(); // the stuck links are gone for good (as after the network came back)
      await proxy.restore();
      await Bun.sleep(200);
      expect(await outcome(sql.get("SELECT 1 AS one"))).toBe("ok");
      expect(await outcome(sql.transaction(() => sql.get("SELECT 1 AS one")))).toBe("ok");
    } finally {
      await proxy.close();
      await sql.close();
    }
  }, 30_000);
});
