import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "./helpers/server";
import { visitor } from "./helpers/ws-client";

// Issue 12: canned replies of the agent console (src/canned/README.md), against the real server.
let s: TestServer;
let amy: string;
let bob: string;
let admin: string;
let ids: { amy: number; bob: number; admin: number };

type Canned = { id: number; shortcut: string; title?: string; text: string; shared: boolean; owner_id: number; owner_name: string };

const api = async (method: string, path: string, token: string | null, body?: unknown) => {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${s.url}/api/agent/canned${path}`, { method, headers, body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
};
const list = async (token: string) => (await api("GET", "", token)).body.canned as Canned[];
const create = async (token: string, body: object) => {
  const res = await api("POST", "", token, body);
  expect(res.status).toBe(201);
  return res.body.canned as Canned;
};
const idOf = async (token: string) => ((await (await fetch(`${s.url}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } })).json()) as { user: { id: number } }).user.id;

beforeAll(async () => {
  s = await startTestServer({ log: { level: "warn" } });
  amy = await s.login("agent", "canned-amy");
  bob = await s.login("agent", "canned-bob");
  admin = await s.login("admin", "canned-admin");
  ids = { amy: await idOf(amy), bob: await idOf(bob), admin: await idOf(admin) };
  s.kefu.ctx.auth.setDisplayName(ids.amy, "小艾");
});
afterAll(() => s.stop());

describe("canned replies", () => {
  test("create, list, update, delete my own", async () => {
    expect(await list(amy)).toEqual([]);
    const hi = await create(amy, { shortcut: "hi", text: "  您好，请问有什么可以帮您？ " });
    expect(hi).toEqual({ id: expect.any(Number), shortcut: "hi", text: "您好，请问有什么可以帮您？", shared: false, owner_id: ids.amy, owner_name: "小艾" });
    const ship = await create(amy, { shortcut: "ship-time_2", title: "Shipping", text: "We ship within 24 hours.", shared: false });
    expect(ship.title).toBe("Shipping");
    expect((await list(amy)).map((c) => c.shortcut)).toEqual(["hi", "ship-time_2"]);

    const patched = await api("PATCH", `/${ship.id}`, amy, { text: "Within 48 hours.", title: null });
    expect(patched.status).toBe(200);
    expect(patched.body.canned).toEqual({ ...ship, text: "Within 48 hours.", title: undefined });
    expect(patched.body.canned).not.toHaveProperty("title");
    const renamed = await api("PATCH", `/${ship.id}`, amy, { shortcut: "ship", title: " Shipping time " });
    expect(renamed.body.canned).toMatchObject({ shortcut: "ship", title: "Shipping time", text: "Within 48 hours." });
    // An empty patch changes nothing.
    expect((await api("PATCH", `/${ship.id}`, amy, {})).body.canned).toEqual(renamed.body.canned);

    expect((await api("DELETE", `/${ship.id}`, amy)).status).toBe(204);
    expect((await api("DELETE", `/${ship.id}`, amy)).status).toBe(404);
    expect((await api("PATCH", `/${ship.id}`, amy, { text: "x" })).status).toBe(404);
    expect((await list(amy)).map((c) => c.shortcut)).toEqual(["hi"]);
  });

  test("another agent neither sees nor changes my private replies; shared ones are seen by all, changed by the owner or an admin", async () => {
    const mine = await create(amy, { shortcut: "private", text: "only mine" });
    const shared = await create(amy, { shortcut: "refund", title: "Refunds", text: "Refunds take 3-5 days.", shared: true });

    const bobSees = await list(bob);
    expect(bobSees.map((c) => c.id)).toContain(shared.id);
    expect(bobSees.map((c) => c.id)).not.toContain(mine.id);
    expect(bobSees.find((c) => c.id === shared.id)).toEqual({ ...shared, owner_name: "小艾" });

    // Private: not found for anyone else (admins too). Shared: 403 for another agent.
    for (const token of [bob, admin]) {
      expect((await api("PATCH", `/${mine.id}`, token, { text: "hacked" })).status).toBe(404);
      expect((await api("DELETE", `/${mine.id}`, token)).status).toBe(404);
    }
    const bobPatch = await api("PATCH", `/${shared.id}`, bob, { text: "hacked" });
    expect(bobPatch.status).toBe(403);
    expect(bobPatch.body.error.code).toBe("forbidden");
    expect((await api("DELETE", `/${shared.id}`, bob)).status).toBe(403);
    expect((await list(amy)).find((c) => c.id === shared.id)!.text).toBe("Refunds take 3-5 days.");

    // Bob's own replies may use the same shortcut; the owner's come first in each list.
    const bobs = await create(bob, { shortcut: "refund", text: "Bob's refund text" });
    expect((await list(bob)).filter((c) => c.shortcut === "refund").map((c) => c.owner_id)).toEqual([ids.bob, ids.amy]);
    expect((await list(amy)).map((c) => c.id)).not.toContain(bobs.id);

    // An admin edits and deletes a shared reply of someone else; the owner stays the owner.
    const byAdmin = await api("PATCH", `/${shared.id}`, admin, { text: "Refunds take 3 days." });
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.body.canned).toMatchObject({ owner_id: ids.amy, text: "Refunds take 3 days." });
    expect((await api("DELETE", `/${shared.id}`, admin)).status).toBe(204);
    expect((await list(bob)).map((c) => c.id)).not.toContain(shared.id);

    // Unsharing hides it again.
    const temp = await create(amy, { shortcut: "temp", text: "t", shared: true });
    expect((await list(bob)).map((c) => c.id)).toContain(temp.id);
    expect((await api("PATCH", `/${temp.id}`, amy, { shared: false })).status).toBe(200);
    expect((await list(bob)).map((c) => c.id)).not.toContain(temp.id);
  });

  test("a duplicate shortcut of the same owner is 409 conflict, on create and on rename", async () => {
    const a = await create(amy, { shortcut: "dup", text: "first" });
    const again = await api("POST", "", amy, { shortcut: "dup", text: "second" });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("conflict");
    const b = await create(amy, { shortcut: "dup2", text: "other" });
    const rename = await api("PATCH", `/${b.id}`, amy, { shortcut: "dup" });
    expect(rename.status).toBe(409);
    expect(rename.body.error.code).toBe("conflict");
    // Renaming to its own shortcut is no conflict.
    expect((await api("PATCH", `/${a.id}`, amy, { shortcut: "dup" })).status).toBe(200);
  });

  test("bad input is 400 (unknown fields, bad shortcut, empty or too long text/title), never 500", async () => {
    const bad: unknown[] = [
      { shortcut: "ok", text: "x", owner_id: ids.bob },
      { shortcut: "ok", text: "x", extra: 1 },
      { shortcut: "Hi", text: "x" },
      { shortcut: "", text: "x" },
      { shortcut: "a".repeat(33), text: "x" },
      { shortcut: "a b", text: "x" },
      { shortcut: "/hi", text: "x" },
      { shortcut: "ok", text: "" },
      { shortcut: "ok", text: "   \n " },
      { shortcut: "ok", text: "x".repeat(4001) },
      { shortcut: "ok", text: "😀".repeat(4001) },
      { shortcut: "ok", text: "x".repeat(9000) },
      { shortcut: "ok", text: "x", title: "t".repeat(101) },
      { shortcut: "ok", text: "x", shared: "yes" },
      { shortcut: "ok" },
      { text: "x" },
      { shortcut: 5, text: "x" },
      { shortcut: "ok", text: { toString: "x" } },
      [],
      "null",
      "{not json",
    ];
    for (const body of bad) {
      const res = await api("POST", "", amy, body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
      expect(res.body.error.code).toBeString();
    }
    const mine = await create(amy, { shortcut: "limits", text: "😀".repeat(4000), title: "題".repeat(100) });
    for (const body of [{ owner_id: ids.bob }, { shortcut: "BAD" }, { text: "" }, { title: "t".repeat(101) }, { shared: 1 }]) {
      const res = await api("PATCH", `/${mine.id}`, amy, body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
    }
    for (const id of ["0", "-1", "abc", "1.5", "99999999999999999999"]) {
      expect({ id, status: (await api("PATCH", `/${id}`, amy, { text: "x" })).status }).toEqual({ id, status: 400 });
      expect({ id, status: (await api("DELETE", `/${id}`, amy)).status }).toEqual({ id, status: 400 });
    }
    expect((await api("PATCH", "/999999", amy, { text: "x" })).status).toBe(404);
    expect((await list(amy)).find((c) => c.id === mine.id)!.owner_id).toBe(ids.amy);
  });

  test("an account owns at most 500 replies (409 too_many_canned), and may add again after deleting one", async () => {
    const carl = await s.login("agent", "canned-carl");
    let last: Canned | null = null;
    for (let i = 0; i < 500; i++) last = await create(carl, { shortcut: `c${i}`, text: `reply ${i}` });
    const over = await api("POST", "", carl, { shortcut: "one-more", text: "x" });
    expect(over.status).toBe(409);
    expect(over.body.error.code).toBe("too_many_canned");
    expect((await api("DELETE", `/${last!.id}`, carl)).status).toBe(204);
    await create(carl, { shortcut: "one-more", text: "x" });
  });

  test("a visitor token or none is refused on every route", async () => {
    const own = await create(amy, { shortcut: "guarded", text: "x", shared: true });
    const v = await visitor(s.wsUrl);
    const calls: [string, string, unknown?][] = [["GET", ""], ["POST", "", { shortcut: "v", text: "x" }], ["PATCH", `/${own.id}`, { text: "x" }], ["DELETE", `/${own.id}`]];
    for (const [method, path, body] of calls) {
      for (const token of [v.welcome.token as string, null, "kfu_nope"]) {
        const res = await api(method, path, token, body);
        expect({ method, token: token?.slice(0, 4), status: res.status }).toEqual({ method, token: token?.slice(0, 4), status: 401 });
      }
    }
    await v.c.close();
    expect((await list(amy)).find((c) => c.id === own.id)!.text).toBe("x");
  });
});
