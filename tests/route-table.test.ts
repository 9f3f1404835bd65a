import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "./helpers/server";
import { rawRequest, requestText } from "./helpers/raw-http";
import { visitor } from "./helpers/ws-client";

/**
 * The route table, attacked with a raw TCP client: every registered route, every odd Host header and
 * path spelling. No route that needs a token may ever answer 2xx (or switch protocols) without the right
 * one, and no request may reach a 500. The routes come from the app itself, so a new route is covered
 * without editing this file.
 */

let s: TestServer;
let agentToken: string;
let visitorToken: string;
beforeAll(async () => {
  s = await startTestServer({ log: { level: "error" }, metrics: { token: "route-table-metrics-token" } }); // registers /metrics
  agentToken = await s.login("agent");
  const v = await visitor(s.wsUrl);
  visitorToken = v.welcome.token;
  v.c.close();
});
afterAll(() => s.stop());

type Role = "public" | "visitor" | "staff" | "agent" | "admin" | "ask" | "metrics";

/** The role a route declares (src/auth/access.ts writes it as its OpenAPI security requirement). */
function declared(hooks: unknown): Role | null {
  const security = (hooks as { detail?: { security?: Record<string, unknown>[] } } | undefined)?.detail?.security;
  if (!security) return null;
  return security.length === 0 ? "public" : (Object.keys(security[0]!)[0] as Role);
}

/** What the path says a route must need, whatever it declares: a route cannot opt out by forgetting. */
function policy(path: string): Role | null {
  if (path.startsWith("/api/admin")) return "admin";
  if (path.startsWith("/api/agent") || path === "/ws/agent") return "agent";
  if (path === "/api/ask") return "ask";
  if (path === "/metrics") return "metrics";
  return null;
}

function routes() {
  return s.kefu.app.routes.map((r) => ({
    method: r.method,
    template: r.path,
    path: r.path.replace(/:(\w+)/g, "1").replace(/\*$/, "x") || "/",
    role: declared(r.hooks) ?? policy(r.path) ?? ("public" as Role),
  }));
}

const LONG_HOST = `${"a".repeat(60)}.${"b".repeat(60)}.${"c".repeat(60)}.example.com`;
const HOSTS: (string | null)[] = ["x", "", LONG_HOST, "a".repeat(3000), "127.0.0.1", "127.0.0.1/evil", null];

/** Spellings of one path that a router and a guard could read differently. */
function variants(path: string): string[] {
  const second = path.indexOf("/", 1);
  return [
    path,
    `/xx${path}`,
    `/${path}`,
    second > 0 ? `${path.slice(0, second)}/${path.slice(second)}` : `${path}//`,
    `/.${path}`,
    `/x/..${path}`,
    second > 0 ? `${path.slice(0, second)}%2f${path.slice(second + 1)}` : `${path}%2f`,
    second > 0 ? `${path.slice(0, second)}%2F${path.slice(second + 1)}` : `${path}%2F`,
    `${path}/`,
    path.toUpperCase(),
    `http://evil.example${path}`,
    `${path}?access_token=kfu_x`,
  ];
}

const upgradeHeaders = { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" };

async function send(method: string, target: string, host: string | null, token?: string) {
  const headers: Record<string, string> = target.includes("/ws") ? { ...upgradeHeaders } : {};
  if (token) headers.authorization = `Bearer ${token}`;
  const hasBody = method !== "GET" && method !== "HEAD";
  if (hasBody) headers["content-type"] = "application/json";
  const text = requestText(method, target, host, headers, hasBody ? "{}" : undefined).replace("Connection: close\r\n", target.includes("/ws") ? "" : "Connection: close\r\n");
  return rawRequest(s.kefu.port, text, { waitMs: 2000 });
}

async function pool<T>(items: T[], width: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

const granted = (status: number) => (status >= 200 && status < 300) || status === 101;

describe("route table against a raw HTTP client", () => {
  test("every /api and /ws route declares who may call it, and what its path requires", () => {
    const rs = routes();
    expect(rs.length).toBeGreaterThan(20);
    expect(rs.some((r) => r.template === "/metrics" && r.role === "metrics")).toBe(true);
    for (const r of s.kefu.app.routes) {
      if (!r.path.startsWith("/api") && !r.path.startsWith("/ws") && r.path !== "/metrics") continue;
      expect({ route: `${r.method} ${r.path}`, declares: declared(r.hooks) !== null }).toEqual({ route: `${r.method} ${r.path}`, declares: true });
      const must = policy(r.path);
      if (must) expect({ route: `${r.method} ${r.path}`, role: declared(r.hooks) }).toEqual({ route: `${r.method} ${r.path}`, role: must });
    }
  });

  test("no protected route answers 2xx without its token, whatever the Host and path spelling; nothing answers 500", async () => {
    const offenders: string[] = [];
    const errors: string[] = [];
    const cases = routes().flatMap((r) => variants(r.path).flatMap((target) => HOSTS.map((host) => ({ r, target, host }))));
    // A few connections at a time: fast, and well under any per-IP limit.
    await pool(cases, 8, async ({ r, target, host }) => {
      const res = await send(r.method, target, host);
      const where = `${r.method} ${target} Host=${host === null ? "(none)" : JSON.stringify(host.slice(0, 20))} [${r.role}] -> ${res.status} ${res.body.slice(0, 80)}`;
      if (r.role !== "public" && granted(res.status)) offenders.push(where);
      if (res.status >= 500 || res.status === 0) errors.push(where);
    });
    expect(offenders).toEqual([]);
    expect(errors).toEqual([]);
    expect(cases.length).toBeGreaterThan(1000);
  }, 180_000);

  test("an agent token never opens an admin route; a visitor token never opens an agent or admin route", async () => {
    const offenders: string[] = [];
    for (const r of routes()) {
      const tokens: [string, string][] = [];
      if (r.role === "admin") tokens.push(["agent", agentToken], ["visitor", visitorToken]);
      if (r.role === "agent" || r.role === "staff") tokens.push(["visitor", visitorToken]);
      if (r.role === "metrics") tokens.push(["agent", agentToken], ["visitor", visitorToken]);
      for (const [who, token] of tokens) {
        for (const target of [r.path, `/xx${r.path}`]) {
          for (const host of ["127.0.0.1", "x"]) {
            const res = await send(r.method, target, host, token);
            if (granted(res.status)) offenders.push(`${who} token: ${r.method} ${target} Host=${host} -> ${res.status}`);
            if (r.role === "admin" && who === "agent" && target === r.path && host === "127.0.0.1" && res.status !== 403) offenders.push(`agent token on ${r.method} ${r.path}: ${res.status}, want 403`);
          }
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  test("health probes answer without a Host header (HTTP/1.0 checkers); other routes refuse with 400", async () => {
    const health = await rawRequest(s.kefu.port, "GET /healthz HTTP/1.0\r\n\r\n");
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body).status).toBe("ok");
    const other = await rawRequest(s.kefu.port, "GET /api/auth/me HTTP/1.0\r\n\r\n");
    expect(other.status).toBe(400);
    expect(JSON.parse(other.body).error.code).toBe("bad_request_target");
  });

  test("odd targets are refused with 400 before routing", async () => {
    for (const target of ["/api//auth/me", "/api/auth%2fme", "/api/auth/me%5c", "/api/auth/me%00", "/api/auth/m%2Ee"]) {
      const res = await send("GET", target, "127.0.0.1");
      expect({ target, status: res.status }).toEqual({ target, status: 400 });
    }
  });
});
