import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { apiClient } from "./helpers/admin-api";
import { startTestServer, type TestServer } from "./helpers/server";
import { agent } from "./helpers/ws-client";

/**
 * The team page's account changes: display name, role, max concurrent and disabled in one PATCH; disabling and a
 * password reset sign the account out everywhere (API tokens and live agent sockets); the server is never left
 * without an enabled admin (409).
 */

let s: TestServer;
let admin: string;
const PASSWORD = "correct horse battery";
const api = apiClient(() => s, () => admin);
const login = async (name: string, password = PASSWORD) =>
  fetch(`${s.url}/api/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name, password }) });
const tokenOf = async (name: string, password = PASSWORD) => ((await (await login(name, password)).json()) as { token: string }).token;
const me = (token: string) => fetch(`${s.url}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } });

let n = 0;
async function newAgent() {
  const name = `team-agent-${++n}`;
  const user = await s.kefu.ctx.auth.addUser(name, "agent", PASSWORD);
  return { id: user.id, name, token: await tokenOf(name) };
}

beforeAll(async () => {
  s = await startTestServer({ log: { level: "error" } });
  admin = await s.login("admin", "boss");
});
afterAll(() => s.stop());

describe("PATCH /api/admin/users/:id", () => {
  test("changes display name, role and max concurrent; the account sees it at once", async () => {
    const a = await newAgent();
    const res = await api(`/api/admin/users/${a.id}`, { method: "PATCH", body: { display_name: " 小李 ", max_concurrent: 9, role: "admin" } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).user).toMatchObject({ id: a.id, name: a.name, display_name: "小李", max_concurrent: 9, role: "admin", disabled: false });
    // Promoted: the same token now opens the admin API.
    expect((await api("/api/admin/users", { token: a.token })).status).toBe(200);
    await api(`/api/admin/users/${a.id}`, { method: "PATCH", body: { role: "agent", display_name: null } });
    expect((await api("/api/admin/users", { token: a.token })).status).toBe(403);
    const listed = ((await (await api("/api/admin/users")).json()) as any).users.find((u: any) => u.id === a.id);
    expect(listed).toMatchObject({ role: "agent", display_name: null, max_concurrent: 9 });
  });

  test("disabling signs the account out everywhere (tokens and live agent sockets); enabling lets it sign in again", async () => {
    const a = await newAgent();
    const ag = await agent(s.wsUrl, a.token);
    const res = await api(`/api/admin/users/${a.id}`, { method: "PATCH", body: { disabled: true } });
    expect(((await res.json()) as any).user.disabled).toBe(true);
    expect((await me(a.token)).status).toBe(401);
    const closed = await Promise.race([ag.c.closed.then((c) => c.code), Bun.sleep(3000).then(() => "still open")]);
    expect(closed).toBe(1008);
    expect((await login(a.name)).status).toBe(401);
    // The old token stays dead after re-enabling: it was revoked, not just refused.
    await api(`/api/admin/users/${a.id}`, { method: "PATCH", body: { disabled: false } });
    expect((await me(a.token)).status).toBe(401);
    expect((await login(a.name)).status).toBe(200);
  }, 10_000);

  test("the last enabled admin can be neither disabled nor demoted (409); with a second admin it can", async () => {
    const boss = (await s.kefu.ctx.auth.users.credentials("boss"))!.user;
    for (const body of [{ disabled: true }, { role: "agent" }, { role: "agent", disabled: true }]) {
      const res = await api(`/api/admin/users/${boss.id}`, { method: "PATCH", body });
      expect(res.status).toBe(409);
      expect(((await res.json()) as any).error.code).toBe("last_admin");
    }
    // A disabled admin does not count.
    const spare = await s.kefu.ctx.auth.addUser("spare-admin", "admin", PASSWORD);
    await api(`/api/admin/users/${spare.id}`, { method: "PATCH", body: { disabled: true } });
    expect((await api(`/api/admin/users/${boss.id}`, { method: "PATCH", body: { role: "agent" } })).status).toBe(409);
    await api(`/api/admin/users/${spare.id}`, { method: "PATCH", body: { disabled: false } });
    expect((await api(`/api/admin/users/${boss.id}`, { method: "PATCH", body: { max_concurrent: 3 } })).status).toBe(200);
    const spareToken = await tokenOf("spare-admin");
    expect((await api(`/api/admin/users/${boss.id}`, { method: "PATCH", body: { role: "agent" }, token: spareToken })).status).toBe(200);
    // Now spare is the last enabled admin: it cannot disable itself; promoting boss again is fine.
    expect((await api(`/api/admin/users/${spare.id}`, { method: "PATCH", body: { disabled: true }, token: spareToken })).status).toBe(409);
    expect((await api(`/api/admin/users/${boss.id}`, { method: "PATCH", body: { role: "admin" }, token: spareToken })).status).toBe(200);
    expect((await s.kefu.ctx.auth.users.list()).filter((u) => u.role === "admin" && !u.disabled).length).toBe(2);
  });

  test("bad input is a 400, an unknown account a 404; each change is one audit row", async () => {
    const a = await newAgent();
    expect((await api(`/api/admin/users/${a.id}`, { method: "PATCH", body: {} })).status).toBe(400);
    const unknown = await api(`/api/admin/users/${a.id}`, { method: "PATCH", body: { disabled: true, name: "x" } });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(await unknown.json())).toContain("name");
    expect((await api(`/api/admin/users/${a.id}`, { method: "PATCH", body: { role: "owner" } })).status).toBe(400);
    expect((await api(`/api/admin/users/${a.id}`, { method: "PATCH", body: { max_concurrent: 0 } })).status).toBe(400);
    expect((await api(`/api/admin/users/${a.id}`, { method: "PATCH", body: { display_name: "   " } })).status).toBe(400);
    expect((await api(`/api/admin/users/999999`, { method: "PATCH", body: { disabled: true } })).status).toBe(404);
    expect((await s.kefu.ctx.auth.users.get(a.id))!.disabled).toBe(false);
    await api(`/api/admin/users/${a.id}`, { method: "PATCH", body: { max_concurrent: 2 } });
    const rows = s.kefu.ctx.db.query<{ detail: string }, [string]>("SELECT detail FROM audit_log WHERE action = 'user.update' AND target = ?").all(a.name);
    expect(rows.map((r) => JSON.parse(r.detail))).toEqual([{ id: a.id, max_concurrent: 2 }]);
  });
});

describe("POST /api/admin/users/:id/password", () => {
  test("sets a new password and revokes every session of the account", async () => {
    const a = await newAgent();
    const ag = await agent(s.wsUrl, a.token);
    const res = await api(`/api/admin/users/${a.id}/password`, { body: { password: "a brand new password" } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).user.id).toBe(a.id);
    expect((await me(a.token)).status).toBe(401);
    const closed = await Promise.race([ag.c.closed.then((c) => c.code), Bun.sleep(3000).then(() => "still open")]);
    expect(closed).toBe(1008);
    expect((await login(a.name)).status).toBe(401);
    expect((await login(a.name, "a brand new password")).status).toBe(200);
    const rows = s.kefu.ctx.db.query<{ n: number }, [string]>("SELECT count(*) AS n FROM audit_log WHERE action = 'user.passwd' AND target = ?").get(a.name);
    expect(rows!.n).toBe(1);
  }, 10_000);

  test("a short password is a 400, an unknown account a 404, an agent a 403", async () => {
    const a = await newAgent();
    expect((await api(`/api/admin/users/${a.id}/password`, { body: { password: "short" } })).status).toBe(400);
    expect((await api(`/api/admin/users/${a.id}/password`, { body: { password: "long enough password", extra: 1 } })).status).toBe(400);
    expect((await api(`/api/admin/users/999999/password`, { body: { password: "long enough password" } })).status).toBe(404);
    expect((await api(`/api/admin/users/${a.id}/password`, { body: { password: "long enough password" }, token: a.token })).status).toBe(403);
    expect((await me(a.token)).status).toBe(200);
  });
});
