/**
 * The real servers the cluster tests use: the shared PostgreSQL and Redis that scripts/cluster-services.sh
 * starts on loopback, a Redis of a test's own (to stop and start it), and nginx in front of kefu nodes.
 * Nothing here fakes a server: a test that cannot reach one skips with one line saying which and where.
 */
import { SQL } from "bun";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const PG_URL = process.env.KEFU_TEST_PG_URL ?? "postgres://kefu:kefu@127.0.0.1:55432/postgres";
export const REDIS_URL = process.env.KEFU_TEST_REDIS_URL ?? "redis://127.0.0.1:56379";

const withTimeout = <T>(p: Promise<T>, ms: number, fallback: T) =>
  Promise.race([p.catch(() => fallback), new Promise<T>((r) => setTimeout(() => r(fallback), ms))]);

/** The URL without its password, for messages. */
export const redact = (url: string) => url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");

let pgCache: Promise<boolean> | undefined;
/** PostgreSQL at KEFU_TEST_PG_URL answers `SELECT 1` (checked once per process, 3 s at most). */
export function pgAvailable(): Promise<boolean> {
  pgCache ??= withTimeout(
    (async () => {
      const sql = new SQL({ url: PG_URL, max: 1, connectionTimeout: 3 });
      try {
        await sql`SELECT 1`;
        return true;
      } finally {
        await sql.close().catch(() => {});
      }
    })(),
    3000,
    false,
  );
  return pgCache;
}

/** Sends PING to a Redis at `url` over plain TCP; true on +PONG (or an auth error: the server is there). */
export async function redisPing(url: string, timeoutMs = 2000): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return withTimeout(
    new Promise<boolean>((resolve) => {
      let text = "";
      Bun.connect({
        hostname: hostname || "127.0.0.1",
        port: Number(port || 6379),
        socket: {
          open(s) {
            s.write("PING\r\n");
          },
          data(s, chunk) {
            text += chunk.toString();
            if (text.includes("\r\n")) {
              resolve(text.startsWith("+PONG") || text.startsWith("-NOAUTH"));
              s.end();
            }
          },
          close() {
            resolve(false);
          },
          error() {
            resolve(false);
          },
          connectError() {
            resolve(false);
          },
        },
      }).catch(() => resolve(false));
    }),
    timeoutMs,
    false,
  );
}

let redisCache: Promise<boolean> | undefined;
/** Redis at KEFU_TEST_REDIS_URL answers PING (checked once per process). */
export function redisAvailable(): Promise<boolean> {
  redisCache ??= redisPing(REDIS_URL);
  return redisCache;
}

/** The nginx binary: on PATH, else Debian's /usr/sbin/nginx; null when neither exists. */
export function nginxPath(): string | null {
  return Bun.which("nginx") ?? (existsSync("/usr/sbin/nginx") ? "/usr/sbin/nginx" : null);
}

/** The redis-server binary (for a test's own Redis), or null. */
export function redisServerPath(): string | null {
  return Bun.which("redis-server") ?? (existsSync("/usr/bin/redis-server") ? "/usr/bin/redis-server" : null);
}

export interface Needs {
  pg?: boolean;
  redis?: boolean;
  /** A redis-server binary, for tests that start (and restart) their own Redis. */
  redisServer?: boolean;
  nginx?: boolean;
}

/** Why the servers a test needs are not there, or null when they all are. */
export async function missingServices(needs: Needs): Promise<string | null> {
  const missing: string[] = [];
  if (needs.pg && !(await pgAvailable())) missing.push(`PostgreSQL not reachable at ${redact(PG_URL)} (KEFU_TEST_PG_URL)`);
  if (needs.redis && !(await redisAvailable())) missing.push(`Redis not reachable at ${REDIS_URL} (KEFU_TEST_REDIS_URL)`);
  if (needs.redisServer && !redisServerPath()) missing.push("redis-server is not installed");
  if (needs.nginx && !nginxPath()) missing.push("nginx is not installed (neither on PATH nor /usr/sbin/nginx)");
  return missing.length ? missing.join("; ") : null;
}

/**
 * For `describe.skipIf(await skipUnless({ pg: true, ... }, "cluster-delivery"))`: true (after printing ONE
 * line with the reason; run scripts/cluster-services.sh to start the servers) when something is missing.
 */
export async function skipUnless(needs: Needs, what = "cluster tests"): Promise<boolean> {
  const reason = await missingServices(needs);
  if (reason) console.warn(`${what} skipped: ${reason} — start them with scripts/cluster-services.sh`);
  return reason !== null;
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/** A fresh database with a random name on the KEFU_TEST_PG_URL server; drop() removes it (closing its sessions). */
export async function createTestDatabase(prefix = "kefu_test"): Promise<TestDatabase> {
  const name = `${prefix}_${crypto.randomUUID().replace(/-/g, "").slice(0, 16)}`;
  const admin = new SQL({ url: PG_URL, max: 1 });
  try {
    await admin.unsafe(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.close();
  }
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  const url = u.toString();
  return {
    name,
    url,
    async drop() {
      const sql = new SQL({ url: PG_URL, max: 1 });
      try {
        await sql.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await sql.close();
      }
    },
  };
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await withTimeout(
      Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {}, open(s) { s.end(); } } }).then(() => true),
      1000,
      false,
    );
    if (ok) return;
    await Bun.sleep(50);
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

export interface OwnRedis {
  url: string;
  port: number;
  dir: string;
  running(): boolean;
  /** Stops the server (SIGTERM by default; SIGKILL for a crash) and waits for it to exit. */
  stop(signal?: "SIGTERM" | "SIGKILL"): Promise<void>;
  /** Starts it again on the same port; resolves once it answers PING. */
  start(): Promise<void>;
  /** The server's log so far. */
  log(): string;
  /** Stops it and removes its directory. */
  close(): Promise<void>;
}

/** A redis-server of the test's own on a random loopback port, data in a temp dir, no persistence. */
export async function startRedis(): Promise<OwnRedis> {
  const bin = redisServerPath();
  if (!bin) throw new Error("redis-server is not installed");
  const dir = mkdtempSync(join(tmpdir(), "kefu-redis-"));
  const port = await freePort();
  const logFile = join(dir, "redis.log");
  let proc: ReturnType<typeof Bun.spawn> | null = null;
  // A process killed by a signal keeps exitCode null (Bun sets signalCode instead).
  const alive = () => proc !== null && proc.exitCode === null && proc.signalCode === null;
  const start = async () => {
    if (alive()) return;
    proc = Bun.spawn([bin, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--logfile", logFile, "--daemonize", "no"], {
      stdin: "ignore",
      stdout: "ignore",
      stderr: "ignore",
    });
    const deadline = Date.now() + 10_000;
    while (!(await redisPing(`redis://127.0.0.1:${port}`, 500))) {
      if (!alive()) throw new Error(`redis-server exited with ${proc.exitCode ?? proc.signalCode}: ${await Bun.file(logFile).text().catch(() => "")}`);
      if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not answer PING within 10 s`);
      await Bun.sleep(50);
    }
  };
  const stop = async (signal: "SIGTERM" | "SIGKILL" = "SIGTERM") => {
    if (!alive()) return;
    proc!.kill(signal);
    await proc!.exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    running: alive,
    stop,
    start,
    log: () => {
      try {
        return readFileSync(logFile, "utf8");
      } catch {
        return "";
      }
    },
    async close() {
      await stop("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface OwnNginx {
  port: number;
  url: string;
  wsUrl: string;
  dir: string;
  /** nginx's error log so far. */
  errorLog(): string;
  stop(): Promise<void>;
}

/**
 * nginx of the test's own in front of kefu nodes on 127.0.0.1:<upstreams>: round robin, WebSocket upgrades
 * proxied, long read timeout, a dead upstream skipped (connect errors go to the next one). Config, pid, logs
 * and temp files in a temp dir; runs in the foreground as one process (daemon off, master_process off).
 */
export async function startNginx(upstreams: number[], opts: { port?: number } = {}): Promise<OwnNginx> {
  const bin = nginxPath();
  if (!bin) throw new Error("nginx is not installed");
  const dir = mkdtempSync(join(tmpdir(), "kefu-nginx-"));
  for (const d of ["logs", "client_body", "proxy", "fastcgi", "uwsgi", "scgi"]) mkdirSync(join(dir, d), { recursive: true });
  const port = opts.port ?? (await freePort());
  const conf = `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  upstream kefu {
${upstreams.map((p) => `    server 127.0.0.1:${p} max_fails=0;`).join("\n")}
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://kefu;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_connect_timeout 2s;
      proxy_read_timeout 3600s;
      proxy_send_timeout 3600s;
      proxy_buffering off;
      proxy_next_upstream error timeout http_502 http_503;
      proxy_next_upstream_tries ${upstreams.length};
    }
  }
}
`;
  writeFileSync(join(dir, "nginx.conf"), conf);
  const proc = Bun.spawn([bin, "-p", dir, "-e", `${dir}/logs/error.log`, "-c", join(dir, "nginx.conf")], { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const errorLog = () => {
    try {
      return readFileSync(join(dir, "logs/error.log"), "utf8");
    } catch {
      return "";
    }
  };
  try {
    await Promise.race([
      waitForPort(port, 10_000),
      proc.exited.then(async (code) => {
        throw new Error(`nginx exited with ${code}: ${await new Response(proc.stderr as ReadableStream).text()} ${errorLog()}`);
      }),
    ]);
  } catch (err) {
    proc.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    dir,
    errorLog,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill("SIGQUIT");
        const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(3000).then(() => false)]);
        if (!exited) {
          proc.kill("SIGKILL");
          await proc.exited;
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
