import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, REDIS_URL, skipUnless } from "../helpers/services";
import { ChatVisitor, type Cluster, startCluster, within } from "./harness";

/**
 * docs/cluster.md, "PostgreSQL unreachable", on a PostgreSQL of the test's own (initdb + pg_ctl as the user
 * postgres, in a temp dir, on a free port) that it stops and starts: visitors get an error frame instead of an
 * acknowledgement, HTTP requests a 503 storage_unavailable JSON (no 500, no hang), /readyz says not ready (the
 * node cannot serve anything) while /healthz stays up, and the node recovers by itself when PostgreSQL is back.
 */
const BIN = "/usr/lib/postgresql/15/bin";
const canRunPg = existsSync(`${BIN}/initdb`) && process.getuid?.() === 0 && Bun.spawnSync(["id", "-u", "postgres"]).exitCode === 0;
if (!canRunPg) console.warn(`review-pg-down skipped: needs root, the user postgres and ${BIN}/initdb`);
const skip = !canRunPg || (await skipUnless({ redis: true }, "review-pg-down"));

const asPostgres = (args: string[]) => {
  const p = Bun.spawnSync(["runuser", "-u", "postgres", "--", ...args], { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${args.join(" ")}: ${p.stdout.toString()}${p.stderr.toString()}`);
};

let dir = "";
let port = 0;
let cluster: Cluster;
const pgStart = () => asPostgres([`${BIN}/pg_ctl`, "-D", join(dir, "data"), "-l", join(dir, "log"), "-w", "-o", `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`, "start"]);
const pgStop = () => asPostgres([`${BIN}/pg_ctl`, "-D", join(dir, "data"), "-m", "immediate", "-w", "stop"]);

beforeAll(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), "kefu-pg-"));
  chmodSync(dir, 0o755);
  chownSync(dir, Number(Bun.spawnSync(["id", "-u", "postgres"]).stdout.toString()), Number(Bun.spawnSync(["id", "-g", "postgres"]).stdout.toString()));
  port = await freePort();
  asPostgres([`${BIN}/initdb`, "-D", join(dir, "data"), "-U", "kefu", "--auth=trust", "-E", "UTF8"]);
  pgStart();
  cluster = await startCluster({ nodes: 1, pgUrl: `postgres://kefu@127.0.0.1:${port}/postgres`, redisUrl: REDIS_URL });
}, 120_000);
afterAll(async () => {
  if (skip) return;
  await cluster?.stop();
  try {
    pgStop();
  } catch {
    // already stopped
  }
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

const get = (path: string, token?: string) =>
  fetch(`${cluster.nodes[0]!.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(20_000) });

describe.skipIf(skip)("PostgreSQL unreachable", () => {
  test(
    "error frame instead of an ack, 503 storage_unavailable JSON, /readyz 503 and /healthz 200; all well again when it is back",
    async () => {
      const admin = await cluster.user("admin");
      const v = await ChatVisitor.open(cluster.nodes[0]!.wsUrl);
      expect(await v.sendAndAck("first message")).toBe(1);
      const path = `/api/conversations/${v.conversationId}/messages`;
      expect((await get(path, admin.token)).status).toBe(200);

      pgStop();
      const id = v.send("written while the database is down");
      await within(20_000, "an error frame for the send", () => v.frames.some((f) => f.type === "error" && f.client_id === id));
      expect(v.acked.has(id)).toBe(false);

      const res = await get(path, admin.token);
      const body = (await res.json()) as { error?: { code?: string } };
      expect({ status: res.status, code: body.error?.code }).toEqual({ status: 503, code: "storage_unavailable" });
      await within(10_000, "/readyz 503", async () => (await get("/readyz")).status === 503);
      const ready = (await (await get("/readyz")).json()) as Record<string, unknown>;
      expect(ready.storage).toBe("unreachable");
      expect((await get("/healthz")).status).toBe(200);

      pgStart();
      await within(30_000, "/readyz 200 again", async () => (await get("/readyz")).status === 200);
      await within(30_000, "HTTP works again", async () => (await get(path, admin.token)).status === 200);
      // The widget resends what was not acknowledged on its next connection; a send on the open socket works too.
      await v.close();
      await v.connect(cluster.nodes[0]!.wsUrl);
      await within(30_000, "the resent message is acked", () => v.acked.has(id));
      expect(await v.sendAndAck("and one more")).toBeGreaterThan(v.acked.get(id)!);
      await v.close();
    },
    180_000,
  );
});
