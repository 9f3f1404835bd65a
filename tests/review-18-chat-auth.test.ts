import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "./helpers/server";

// Review of issue 18 (auth on the async Sql interface), single node on SQLite: token revocation races.
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ log: { level: "warn" } });
});
afterAll(() => server.stop());

const json = (body: object, token?: string) => ({
  method: "POST",
  headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
  body: JSON.stringify(body),
});
const me = async (token: string) => (await fetch(`${server.url}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } })).status;

describe("a sign-in racing a password reset", () => {
  test("a login with the old password, verified while an admin resets it, gets no token that outlives the reset", async () => {
    const admin = await server.login("admin");
    for (let i = 0; i < 4; i++) {
      const name = `reset-race-${i}`;
      const user = await server.kefu.ctx.auth.addUser(name, "agent", "old password 123");
      // The reset hashes the new password (argon2, slow) while the login reads the old hash and verifies it.
      const reset = fetch(`${server.url}/api/admin/users/${user.id}/password`, json({ password: "new password 456" }, admin));
      await Bun.sleep(i * 3);
      const login = await fetch(`${server.url}/api/auth/login`, json({ name, password: "old password 123" }));
      expect((await reset).status).toBe(200);
      if (login.status === 200) {
        // Verified before the reset committed: the reset revokes it like every other token of the account.
        const { token } = (await login.json()) as { token: string };
        expect(await me(token)).toBe(401);
      } else expect(login.status).toBe(401);
      // The new password works.
      expect((await fetch(`${server.url}/api/auth/login`, json({ name, password: "new password 456" }))).status).toBe(200);
    }
  }, 30_000);
});
