import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { TestServer } from "./helpers/server";
import { cid, startChatServer, visitor } from "./helpers/ws-client";

// Issue 12: agents have a display name (kefu user add --display-name, PATCH /api/admin/users/:id), and
// visitors see it instead of the login.
let s: TestServer;
let admin: string;
beforeAll(async () => {
  s = await startChatServer();
  admin = await s.login("admin");
});
afterAll(() => s.stop());

const api = (method: string, path: string, token: string, body?: unknown) =>
  fetch(`${s.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

async function agentAccount(name: string) {
  const token = await s.login("agent", name);
  const me = (await (await api("GET", "/api/auth/me", token)).json()) as { user: { id: number } };
  return { id: me.user.id, token };
}

describe("display names", () => {
  test("PATCH /api/admin/users/:id sets (trimmed) and clears the display name; bad input is 400, unknown id 404", async () => {
    const a = await agentAccount("patch-amy");
    const set = await api("PATCH", `/api/admin/users/${a.id}`, admin, { display_name: "  小林  " });
    expect(set.status).toBe(200);
    expect(((await set.json()) as { user: { display_name: string } }).user).toMatchObject({ id: a.id, name: "patch-amy", display_name: "小林" });
    expect(((await (await api("GET", "/api/auth/me", a.token)).json()) as { user: object }).user).toMatchObject({ display_name: "小林" });

    const bad: [unknown, number][] = [
      [{ display_name: "" }, 400],
      [{ display_name: "   " }, 400],
      [{ display_name: "x".repeat(65) }, 400],
      [{ display_name: "x".repeat(300) }, 400],
      [{ display_name: "a\nb" }, 400],
      [{ display_name: 5 }, 400],
      [{ display_name: "ok", name: "renamed" }, 400], // the login name cannot be changed
      [{}, 400],
      [[], 400],
    ];
    for (const [body, status] of bad) {
      const res = await api("PATCH", `/api/admin/users/${a.id}`, admin, body);
      expect({ body, status: res.status }).toEqual({ body, status });
      expect(((await res.json()) as { error: { code: string } }).error.code).toBeString();
    }
    for (const id of ["999999", "0", "abc", "1.5", "99999999999999999999"]) {
      const res = await api("PATCH", `/api/admin/users/${id}`, admin, { display_name: "x" });
      expect({ id, status: res.status }).toEqual({ id, status: id === "999999" ? 404 : 400 });
    }
    // Unchanged by the refused requests; 64 characters are accepted; null clears.
    const users = (await (await api("GET", "/api/admin/users", admin)).json()) as { users: { id: number; display_name: string | null }[] };
    expect(users.users.find((u) => u.id === a.id)!.display_name).toBe("小林");
    expect((await api("PATCH", `/api/admin/users/${a.id}`, admin, { display_name: "林".repeat(64) })).status).toBe(200);
    const cleared = await api("PATCH", `/api/admin/users/${a.id}`, admin, { display_name: null });
    expect(((await cleared.json()) as { user: object }).user).toMatchObject({ display_name: null });
  });

  test("an agent may not change display names (403), a visitor token not at all", async () => {
    const a = await agentAccount("patch-self");
    expect((await api("PATCH", `/api/admin/users/${a.id}`, a.token, { display_name: "me" })).status).toBe(403);
    const v = await visitor(s.wsUrl);
    expect((await api("PATCH", `/api/admin/users/${a.id}`, v.welcome.token, { display_name: "me" })).status).toBe(401);
    await v.c.close();
  });

  test("the visitor sees the agent's display name when it joins and on its messages, the login once cleared", async () => {
    const a = await agentAccount("lin-login");
    expect((await api("PATCH", `/api/admin/users/${a.id}`, admin, { display_name: "小林" })).status).toBe(200);
    const v = await visitor(s.wsUrl, { lang: "zh" });
    const conversation = v.welcome.conversation_id as string;
    v.c.send({ type: "send", client_id: cid(), text: "你好" });
    await v.c.nextType("message", (f) => f.from === "bot");

    expect((await api("POST", `/api/agent/conversations/${conversation}/claim`, a.token)).status).toBe(200);
    const joined = await v.c.nextType("state", (f) => f.state === "agent");
    expect(joined.agent).toEqual({ id: a.id, name: "小林" });
    expect(joined.text).toContain("小林");
    expect(joined.text).not.toContain("lin-login");

    const reply = async (text: string) => {
      expect((await api("POST", `/api/agent/conversations/${conversation}/messages`, a.token, { text })).status).toBe(200);
      return v.c.nextType("message", (f) => f.from === "agent" && f.text === text);
    };
    expect((await reply("您好")).agent).toEqual({ id: a.id, name: "小林" });
    // A change applies to the next frames at once, without a new login.
    await api("PATCH", `/api/admin/users/${a.id}`, admin, { display_name: "Lin" });
    expect((await reply("again")).agent).toEqual({ id: a.id, name: "Lin" });
    await api("PATCH", `/api/admin/users/${a.id}`, admin, { display_name: null });
    expect((await reply("plain")).agent).toEqual({ id: a.id, name: "lin-login" });
    await v.c.close();
  });
});
