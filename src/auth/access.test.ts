import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import type { Database } from "bun:sqlite";
import { Elysia, t } from "elysia";
import { KefuError } from "../errors/kefu-error";
import { createLogger } from "../log/logger";
import { createClientIp } from "../server/client-ip";
import { errorsPlugin } from "../server/errors-plugin";
import { openDatabase } from "../storage/database";
import { createSqliteSql } from "../storage/sqlite-driver";
import { accessPlugin, declaredRole, readJson } from "./access";
import { createTokenStore } from "./token-store";
import { createUserStore, type User } from "./user-store";

const admin: User = { id: 1, name: "root", role: "admin", displayName: null, maxConcurrent: 5, disabled: false, createdAt: 0 };
const agent: User = { id: 2, name: "amy", role: "agent", displayName: null, maxConcurrent: 5, disabled: false, createdAt: 0 };

/** One small app with a route per role, behind the real access plugin and error mapping. */
const calls = { authenticate: 0, askAllowed: 0 };

function app(maxBody = 1024) {
  const access = accessPlugin({
    authenticate: (token) => (calls.authenticate++, token === "kfu_admin" ? admin : token === "kfu_agent" ? agent : null),
    isVisitorToken: (token) => token.startsWith("kfv_"),
    askAllowed: (token) => (calls.askAllowed++, token === "ask-secret"),
    clientIp: createClientIp({ trustedProxies: [], header: "x-forwarded-for" }),
    maxBody,
  });
  return new Elysia()
    .use(errorsPlugin(createLogger({ level: "silent" }), false))
    .use(access)
    .get("/public", ({ user, token }) => ({ user: user?.name ?? null, token }), { access: "public" })
    .get("/visitor", ({ user, token }) => ({ user: user?.name ?? null, token }), { access: "visitor" })
    .get("/staff", ({ user }) => ({ user: user!.name }), { access: "staff" })
    .get("/agent", ({ user }) => ({ user: user!.name }), { access: "agent" })
    .get("/admin", ({ user }) => ({ user: user!.name }), { access: "admin" })
    .post("/ask", () => ({ ok: true }), { access: "ask" })
    .get("/socket", ({ user }) => ({ user: user!.name }), { access: { role: "agent", queryToken: true } })
    .post("/admin/echo", ({ body }) => ({ body }), { access: "admin", body: t.Object({ x: t.Number() }, { additionalProperties: false }) })
    .post("/public/echo", ({ body }) => ({ body }), { access: { role: "public", maxBody: 32 } });
}

const get = (a: ReturnType<typeof app>, path: string, headers: Record<string, string> = {}) =>
  a.handle(new Request(`http://localhost${path}`, { headers }));
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function status(res: Response) {
  return { status: res.status, code: res.status >= 400 ? ((await res.json()) as { error: { code: string } }).error.code : "ok" };
}

/** A request body that counts how often a reader asked for more (highWaterMark 0: nothing is pulled unread). */
function countingBody(chunks: string[]) {
  const seen = { pulls: 0 };
  let i = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(c) {
        seen.pulls++;
        if (i < chunks.length) c.enqueue(new TextEncoder().encode(chunks[i++]!));
        else c.close();
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, seen };
}

describe("roles", () => {
  const a = app();
  const table: [string, Record<string, string>, number][] = [
    ["/public", {}, 200],
    ["/visitor", {}, 401],
    ["/visitor", bearer("kfv_some-visitor"), 200],
    ["/visitor", bearer("kfu_agent"), 200],
    ["/visitor", bearer("kfu_unknown"), 401],
    ["/staff", {}, 401],
    ["/staff", bearer("kfv_some-visitor"), 401],
    ["/staff", bearer("kfu_agent"), 200],
    ["/agent", bearer("kfv_some-visitor"), 401],
    ["/agent", bearer("kfu_agent"), 200],
    ["/agent", bearer("kfu_admin"), 200],
    ["/admin", {}, 401],
    ["/admin", bearer("kfu_unknown"), 401],
    ["/admin", bearer("kfv_some-visitor"), 401],
    ["/admin", bearer("kfu_agent"), 403],
    ["/admin", bearer("kfu_admin"), 200],
    ["/admin", { authorization: "Basic a2Z1X2FkbWlu" }, 401],
    ["/admin", { authorization: "kfu_admin" }, 401],
    ["/admin", { authorization: "Bearer kfu_admin extra" }, 401],
    ["/admin", { authorization: "bearer   kfu_admin" }, 200],
  ];
  for (const [path, headers, want] of table) {
    test(`${path} with ${JSON.stringify(headers)} → ${want}`, async () => {
      expect((await get(a, path, headers)).status).toBe(want);
    });
  }

  test("ask: only a listed ask token", async () => {
    const post = (headers: Record<string, string>) => a.handle(new Request("http://localhost/ask", { method: "POST", headers }));
    expect((await post({})).status).toBe(401);
    expect((await post(bearer("kfu_admin"))).status).toBe(401);
    expect((await post(bearer("ask-secret"))).status).toBe(200);
  });

  test("?access_token= is ignored on routes without queryToken, accepted where it is set", async () => {
    expect((await get(a, "/admin?access_token=kfu_admin")).status).toBe(401);
    expect((await get(a, "/staff?access_token=kfu_agent")).status).toBe(401);
    expect(await (await get(a, "/public?access_token=kfu_admin")).json()).toEqual({ user: null, token: null });
    expect((await get(a, "/socket?access_token=kfu_agent")).status).toBe(200);
    expect((await get(a, "/socket?access_token=kfu_nope")).status).toBe(401);
    // A header, even a malformed one, is the credential: the query is not a fallback.
    expect((await get(a, "/socket?access_token=kfu_agent", { authorization: "Basic x" })).status).toBe(401);
  });

  test("the role a route declared is readable from its hooks", () => {
    const roles = Object.fromEntries(a.routes.map((r) => [`${r.method} ${r.path}`, declaredRole(r.hooks as never)]));
    expect(roles).toMatchObject({ "GET /public": "public", "GET /visitor": "visitor", "GET /admin": "admin", "POST /ask": "ask", "GET /socket": "agent" });
    expect(declaredRole(undefined)).toBeNull();
    expect(declaredRole({})).toBeNull();
  });
});

describe("authorization runs before the body is read", () => {
  test("an unauthenticated caller's body is never pulled; an admin's is", async () => {
    const a = app();
    const anon = countingBody(['{"x":', "1}"]);
    const res = await a.handle(
      new Request("http://localhost/admin/echo", { method: "POST", headers: { "content-type": "application/json" }, body: anon.stream, duplex: "half" } as RequestInit),
    );
    expect(await status(res)).toEqual({ status: 401, code: "unauthorized" });
    expect(anon.seen.pulls).toBe(0);

    const agentBody = countingBody(['{"x":', "1}"]);
    const res2 = await a.handle(
      new Request("http://localhost/admin/echo", { method: "POST", headers: { "content-type": "application/json", ...bearer("kfu_agent") }, body: agentBody.stream, duplex: "half" } as RequestInit),
    );
    expect(await status(res2)).toEqual({ status: 403, code: "forbidden" });
    expect(agentBody.seen.pulls).toBe(0);

    const ok = countingBody(['{"x":', "1}"]);
    const res3 = await a.handle(
      new Request("http://localhost/admin/echo", { method: "POST", headers: { "content-type": "application/json", ...bearer("kfu_admin") }, body: ok.stream, duplex: "half" } as RequestInit),
    );
    expect(res3.status).toBe(200);
    expect(await res3.json()).toEqual({ body: { x: 1 } });
    expect(ok.seen.pulls).toBeGreaterThan(0);
  });

  test("a body streamed past the route's limit is cut off, not read to the end", async () => {
    const a = app();
    const chunks = Array.from({ length: 1000 }, () => "x".repeat(100));
    const big = countingBody(chunks);
    const res = await a.handle(
      new Request("http://localhost/public/echo", { method: "POST", headers: { "content-type": "application/json" }, body: big.stream, duplex: "half" } as RequestInit),
    );
    expect(await status(res)).toEqual({ status: 413, code: "body_too_large" });
    expect(big.seen.pulls).toBeLessThan(5);
  });

  test("hostile bodies on a validated route are 400s with the standard error shape", async () => {
    const a = app();
    for (const body of ['{"x":{"toString":1}}', '{"x":{"toString":{"x":1}},"y":1}', "[]", "null", '"x"', '{"__proto__":{"x":1}}', "{"]) {
      const res = await a.handle(new Request("http://localhost/admin/echo", { method: "POST", headers: { "content-type": "application/json", ...bearer("kfu_admin") }, body }));
      const text = await res.text();
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      const json = JSON.parse(text) as { error: { code: string; message: string } };
      expect(typeof json.error.code).toBe("string");
      expect(typeof json.error.message).toBe("string");
    }
  });
});

describe("readJson", () => {
  const req = (body: RequestInit["body"], headers: Record<string, string> = { "content-type": "application/json" }) =>
    new Request("http://localhost/x", { method: "POST", headers, body, duplex: "half" } as RequestInit);
  const error = async (p: Promise<unknown>) => {
    try {
      await p;
      return "no error";
    } catch (e) {
      return e instanceof KefuError ? `${e.status} ${e.code}` : `not a KefuError: ${String(e)}`;
    }
  };

  test("JSON bodies within the limit are parsed; JSON content types with a suffix or parameters count", async () => {
    expect(await readJson(req('{"a":1}'), 100)).toEqual({ a: 1 });
    expect(await readJson(req('{"a":1}', { "content-type": "application/json; charset=utf-8" }), 100)).toEqual({ a: 1 });
    expect(await readJson(req('{"a":1}', { "content-type": "APPLICATION/JSON" }), 100)).toEqual({ a: 1 });
    expect(await readJson(req('{"a":1}', { "content-type": "application/merge-patch+json" }), 100)).toEqual({ a: 1 });
  });

  test("an empty body is null (the schema then says what is missing)", async () => {
    expect(await readJson(req(null), 100)).toBeNull();
    expect(await readJson(req(""), 100)).toBeNull();
  });

  test("a Content-Length over the limit is refused before anything is read", async () => {
    const { stream, seen } = countingBody(["{}"]);
    expect(await error(readJson(req(stream, { "content-type": "application/json", "content-length": "101" }), 100))).toBe("413 body_too_large");
    expect(seen.pulls).toBe(0);
  });

  test("an unannounced body is refused once it passes the limit", async () => {
    const { stream } = countingBody(["[", "1,".repeat(60), "1]"]);
    expect(await error(readJson(req(stream), 100))).toBe("413 body_too_large");
  });

  test("a body of exactly the limit is read", async () => {
    const body = `"${"x".repeat(98)}"`;
    expect(await readJson(req(body), 100)).toBe("x".repeat(98));
  });

  test("anything but JSON is 415, whatever the body looks like", async () => {
    for (const ct of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/json", "application/jsonp", "application/json-seq", ""]) {
      const { stream } = countingBody(['{"a":1}']);
      expect({ ct, e: await error(readJson(req(stream, ct ? { "content-type": ct } : {}), 100)) }).toEqual({ ct, e: "415 unsupported_media_type" });
    }
  });

  test("invalid JSON is a 400 bad_body", async () => {
    for (const body of ["{", "{'a':1}", "\u0000", "undefined", '{"a":1}{"b":2}']) {
      expect({ body, e: await error(readJson(req(body), 100)) }).toEqual({ body, e: "400 bad_body" });
    }
  });
});

describe("token lifetimes (token store with a test clock)", () => {
  const HOUR = 3600_000;
  let db: Database;
  let clock = 0;
  let userId: number;
  beforeEach(async () => {
    db = await openDatabase({ dir: ":memory:" });
    userId = (await createUserStore(createSqliteSql(db)).add({ name: "tess", role: "agent", passwordHash: "x" })).id;
    clock = 1_000_000_000_000;
  });
  afterEach(() => db.close());
  const store = () => createTokenStore(createSqliteSql(db), { ttlMs: 168 * HOUR, idleMs: 24 * HOUR, now: () => clock });

  test("a token unused for token_idle_hours is refused", async () => {
    const tokens = store();
    const { token } = await tokens.issue(userId);
    clock += 24 * HOUR - 60_000;
    // Not used since login, 1 minute short of the idle limit: alive (and this use is recorded).
    expect(await tokens.resolve(token)).toBe(userId);
    const { token: idle } = await tokens.issue(userId);
    clock += 24 * HOUR;
    expect(await tokens.resolve(idle)).toBeNull();
  });

  test("exactly token_idle_hours without use is already too long", async () => {
    const tokens = store();
    const { token } = await tokens.issue(userId);
    clock += 24 * HOUR;
    expect(await tokens.resolve(token)).toBeNull();
  });

  test("a token in use stays alive past token_idle_hours, until its absolute lifetime ends", async () => {
    const tokens = store();
    const { token, expiresAt } = await tokens.issue(userId);
    expect(expiresAt).toBe(clock + 168 * HOUR);
    // Used every 12 hours for a week: never idle.
    for (let h = 12; h < 168; h += 12) {
      clock += 12 * HOUR;
      expect({ h, user: await tokens.resolve(token) }).toEqual({ h, user: userId });
    }
    clock = expiresAt;
    expect(await tokens.resolve(token)).toBeNull();
  });

  test("an idle token stays refused (trying it does not record a use), and the next login prunes it", async () => {
    const tokens = store();
    const { token } = await tokens.issue(userId);
    clock += 25 * HOUR;
    expect(await tokens.resolve(token)).toBeNull();
    expect(await tokens.resolve(token)).toBeNull();
    await tokens.issue(userId); // pruning runs on issue
    expect(await tokens.resolve(token)).toBeNull();
    const rows = db.query<{ n: number }, []>("SELECT count(*) AS n FROM auth_tokens").get()!.n;
    expect(rows).toBe(1);
  });

  test("revoke ends one token; revokeAll every token of the account", async () => {
    const tokens = store();
    const a = (await tokens.issue(userId)).token;
    const b = (await tokens.issue(userId)).token;
    const c = (await tokens.issue(userId)).token;
    await tokens.revoke(a);
    expect([await tokens.resolve(a), await tokens.resolve(b), await tokens.resolve(c)]).toEqual([null, userId, userId]);
    await tokens.revokeAll(userId);
    expect([await tokens.resolve(b), await tokens.resolve(c)]).toEqual([null, null]);
  });

  test("unknown tokens and look-alikes resolve to nothing", async () => {
    const tokens = store();
    const { token } = await tokens.issue(userId);
    for (const t of ["", "kfu_", token.slice(0, -1), `${token} `, token.toUpperCase()]) expect({ t, user: await tokens.resolve(t) }).toEqual({ t, user: null });
  });
});

describe("work per request", () => {
  test("a request is authorized once; public and ask routes never look the token up as an account", async () => {
    const a = app();
    calls.authenticate = calls.askAllowed = 0;
    const echo = await a.handle(new Request("http://localhost/admin/echo", { method: "POST", headers: { ...bearer("kfu_admin"), "content-type": "application/json" }, body: '{"x":1}' }));
    expect(echo.status).toBe(200);
    expect(calls.authenticate).toBe(1);
    calls.authenticate = 0;
    const ask = await a.handle(new Request("http://localhost/ask", { method: "POST", headers: { ...bearer("ask-secret"), "content-type": "application/json" }, body: "{}" }));
    expect(ask.status).toBe(200);
    expect(calls).toEqual({ authenticate: 0, askAllowed: 1 });
    expect((await get(a, "/public", bearer("kfu_admin"))).status).toBe(200);
    expect(calls.authenticate).toBe(0);
  });
});
