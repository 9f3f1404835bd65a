import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { hashToken } from "../src/auth/token-store";
import { apiClient } from "./helpers/admin-api";
import { startTestServer, type TestServer } from "./helpers/server";

/**
 * API tokens for POST /api/ask made in the admin console: shown once, stored as a hash, accepted next to the
 * config's ask_tokens, last use recorded, revoked → 401.
 */

let s: TestServer;
let admin: string;
const CONFIG_TOKEN = "config-ask-token-for-tests";
const api = apiClient(() => s, () => admin);
const ask = (token: string | null) =>
  fetch(`${s.url}/api/ask`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ text: "运费怎么算" }),
  });

beforeAll(async () => {
  s = await startTestServer({ log: { level: "error" }, answer: { ask_tokens: [hashToken(CONFIG_TOKEN)] } });
  admin = await s.login("admin");
});
afterAll(() => s.stop());

describe("API tokens", () => {
  test("create → /api/ask works → listed with last use, never with the token → revoke → 401", async () => {
    expect((await ask(null)).status).toBe(401);
    const res = await api("/api/admin/tokens", { body: { label: "  shop website  " } });
    expect(res.status).toBe(201);
    const made = (await res.json()) as any;
    expect(made).toMatchObject({ label: "shop website", last_used_at: null });
    expect(made.token).toMatch(/^kfa_[A-Za-z0-9_-]{43}$/);

    // Stored hashed: the database never holds the token itself.
    const rows = s.kefu.ctx.db.query<Record<string, unknown>, []>("SELECT * FROM ask_tokens").all();
    expect(JSON.stringify(rows)).not.toContain(made.token);
    expect(rows[0]!.token_hash).toBe(hashToken(made.token));

    expect((await ask(made.token)).status).toBe(200);
    expect((await ask(CONFIG_TOKEN)).status).toBe(200);
    expect((await ask(made.token + "x")).status).toBe(401);

    const listed = ((await (await api("/api/admin/tokens")).json()) as any).tokens;
    expect(listed).toHaveLength(1);
    expect(listed[0].id).toBe(made.id);
    expect(listed[0].token).toBeUndefined();
    expect(Date.parse(listed[0].last_used_at)).toBeGreaterThan(0);
    expect(JSON.stringify(listed)).not.toContain(made.token);

    expect((await api(`/api/admin/tokens/${made.id}`, { method: "DELETE" })).status).toBe(200);
    expect((await ask(made.token)).status).toBe(401);
    expect((await ask(CONFIG_TOKEN)).status).toBe(200);
    expect((await api(`/api/admin/tokens/${made.id}`, { method: "DELETE" })).status).toBe(404);
    expect(((await (await api("/api/admin/tokens")).json()) as any).tokens).toEqual([]);

    const actions = s.kefu.ctx.db.query<{ action: string; target: string }, []>("SELECT action, target FROM audit_log WHERE action LIKE 'token.%' ORDER BY id").all();
    expect(actions).toEqual([
      { action: "token.create", target: "shop website" },
      { action: "token.revoke", target: String(made.id) },
    ]);
  });

  test("an API token is no account token, and an account token no API token", async () => {
    const made = (await (await api("/api/admin/tokens", { body: { label: "integration" } })).json()) as any;
    expect((await api("/api/admin/tokens", { token: made.token })).status).toBe(401);
    expect((await ask(admin)).status).toBe(401);
  });

  test("bad labels and unknown fields are 400s; agents get 403", async () => {
    expect((await api("/api/admin/tokens", { body: { label: "" } })).status).toBe(400);
    expect((await api("/api/admin/tokens", { body: { label: "a\nb" } })).status).toBe(400);
    expect((await api("/api/admin/tokens", { body: { label: "x".repeat(101) } })).status).toBe(400);
    const extra = await api("/api/admin/tokens", { body: { label: "ok", expires: 1 } });
    expect(extra.status).toBe(400);
    expect(JSON.stringify(await extra.json())).toContain("expires");
    const agent = await s.login("agent");
    expect((await api("/api/admin/tokens", { body: { label: "mine" }, token: agent })).status).toBe(403);
    expect((await api("/api/admin/tokens", { token: agent })).status).toBe(403);
  });
});
