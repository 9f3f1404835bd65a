import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { declaredRole } from "../src/auth/access";
import { eventually } from "./helpers/eventually";
import { startTestServer, type TestServer } from "./helpers/server";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.stop());

/** Every registered route for accounts (staff, agent, admin), with a concrete path for its params. */
function protectedRoutes() {
  return s.kefu.app.routes
    .map((r) => ({ method: r.method, path: r.path.replace(/:(\w+)/g, "1").replace(/\*$/, "x"), role: declaredRole(r.hooks as never) }))
    .filter((r) => r.role === "staff" || r.role === "agent" || r.role === "admin");
}

describe("auth guard", () => {
  test("every admin/agent route answers 401 without a token and with a bad one", async () => {
    const routes = protectedRoutes();
    // Features register their routes under these prefixes; the list grows with them.
    expect(routes.map((r) => `${r.method} ${r.path}`)).toContain("POST /api/admin/users");
    for (const r of routes) {
      for (const headers of [{}, { authorization: "Bearer kfu_not-a-real-token" }, { authorization: "Basic abc" }] as Record<string, string>[]) {
        const res = await fetch(s.url + r.path, { method: r.method, headers: { ...headers, "content-type": "application/json" }, body: r.method === "GET" || r.method === "HEAD" ? undefined : "{}" });
        expect({ route: `${r.method} ${r.path}`, status: res.status }).toEqual({ route: `${r.method} ${r.path}`, status: 401 });
        if (r.method !== "HEAD") expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
      }
    }
  });

  test("unregistered paths under protected prefixes are not found, and say nothing more", async () => {
    expect((await fetch(`${s.url}/api/admin/no-such-thing`)).status).toBe(404);
    expect((await fetch(`${s.url}/api/agent/no-such-thing`)).status).toBe(404);
  });

  test("an agent token cannot use admin routes; an admin token can use agent routes", async () => {
    const agent = await s.login("agent");
    const admin = await s.login("admin");
    const adminRoute = protectedRoutes().find((r) => r.role === "admin" && r.method === "GET");
    if (adminRoute) {
      const res = await fetch(s.url + adminRoute.path, { headers: { authorization: `Bearer ${agent}` } });
      expect(res.status).toBe(403);
    }
    const me = await fetch(`${s.url}/api/auth/me`, { headers: { authorization: `Bearer ${admin}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { user: { role: string } }).user.role).toBe("admin");
  });

  test("login: wrong password and unknown user give the same 401; bad body gives 400", async () => {
    await s.kefu.ctx.auth.addUser("carol", "agent", "a good long password");
    const post = (body: unknown) =>
      fetch(`${s.url}/api/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const wrong = await post({ name: "carol", password: "nope nope nope" });
    const unknown = await post({ name: "nobody", password: "nope nope nope" });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(await wrong.json()).toEqual(await unknown.json());
    const bad = await post({ name: 5 });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("validation_failed");
  });

  test("admins create accounts over REST; the new agent can log in", async () => {
    const admin = await s.login("admin");
    const res = await fetch(`${s.url}/api/admin/users`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "erin", role: "agent", password: "erin-password-1" }),
    });
    expect(res.status).toBe(201);
    const dup = await fetch(`${s.url}/api/admin/users`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "erin", role: "agent", password: "erin-password-1" }),
    });
    expect(dup.status).toBe(409);
    const login = await fetch(`${s.url}/api/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "erin", password: "erin-password-1" }),
    });
    expect(login.status).toBe(200);
  });

  test("repeated failed logins on one account from one address are refused with 429 before the password is checked", async () => {
    await s.kefu.ctx.auth.addUser("frank", "agent", "franks-password-1");
    const post = (name: string, password: string) =>
      fetch(`${s.url}/api/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name, password }) });
    const before = { ...s.kefu.ctx.auth.loginStats };
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await post("frank", `wrong-${i}`)).status);
    // [auth] login_account_ip_burst = 5 by default.
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    expect(s.kefu.ctx.auth.loginStats.verified - before.verified).toBe(5);
    // Even the right password waits until the bucket refills: the guesser cannot tell it was right.
    expect((await post("frank", "franks-password-1")).status).toBe(429);
    // Another account from the same address still gets its own tries.
    expect((await post("erin-not-here", "whatever-password")).status).toBe(401);
  });

  test("logout revokes the token", async () => {
    const token = await s.login("agent");
    const h = { authorization: `Bearer ${token}` };
    expect((await fetch(`${s.url}/api/auth/me`, { headers: h })).status).toBe(200);
    expect((await fetch(`${s.url}/api/auth/logout`, { method: "POST", headers: h })).status).toBe(200);
    expect((await fetch(`${s.url}/api/auth/me`, { headers: h })).status).toBe(401);
  });

  test("passwords and tokens never appear in clear text in the database or the logs", async () => {
    const password = "Zebra-Quartz-Pineapple-42";
    await s.kefu.ctx.auth.addUser("dave", "admin", password);
    const res = await fetch(`${s.url}/api/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "dave", password }),
    });
    const { token } = (await res.json()) as { token: string };
    expect(token).toStartWith("kfu_");
    await fetch(`${s.url}/api/auth/me?access_token=${token}`);
    await fetch(`${s.url}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } });
    await fetch(`${s.url}/api/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "dave", password: "wrong-" + password }),
    });
    // Access log lines are written after the response: wait for the last one before scanning.
    expect(await eventually(() => s.logs.filter((l) => l.includes('"path":"/api/auth/login"') && l.includes('"status":401')).length > 0)).toBe(true);
    s.kefu.ctx.db.run("PRAGMA wal_checkpoint(FULL)");
    const dataDir = join(s.dir, "data");
    const bytes = readdirSync(dataDir).map((f) => readFileSync(join(dataDir, f)));
    for (const secret of [password, token, token.slice(4)]) {
      for (const b of bytes) expect(b.includes(Buffer.from(secret))).toBe(false);
      expect(s.logs.join("\n")).not.toContain(secret);
    }
    expect(s.logs.some((l) => l.includes('"path":"/api/auth/me"'))).toBe(true);
    // The client address, as the limits see it, is on the request line (how an operator checks a proxy).
    expect(s.logs.some((l) => l.includes('"path":"/api/auth/login"') && l.includes('"ip":"127.0.0.1"'))).toBe(true);
  });
});
