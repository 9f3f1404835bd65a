import { afterAll, beforeAll, expect, test } from "bun:test";
import { type PluginTestServer, startPluginServer } from "./helpers/plugin-server";
import { visitor } from "./helpers/ws-client";

// Review of issue 16: a plugin's public route is open to anyone. A stranger sending it requests it cannot
// handle must not switch the plugin off for the visitors (errors in a row disable a plugin).
let s: PluginTestServer;
beforeAll(async () => {
  s = await startPluginServer("review16-routes", {
    "shop.ts": `export default { name: "shop",
      onMessage: ({ message }) => (message.text === "hi shop" ? { text: "shop here" } : undefined),
      routes: [{ method: "GET", path: "/track/:no", public: true, handler: (ctx, req) => { if (!/^\\d+$/.test(req.params.no)) throw new Error("bad number"); return { no: req.params.no }; } }],
    };`,
  }, { plugins: { watch: false, max_consecutive_errors: 3, public_route_burst: 50 } });
});
afterAll(() => s.stop());

test("failing public-route requests from a stranger do not disable the plugin's hooks", async () => {
  for (let i = 0; i < 6; i++) expect((await fetch(`${s.url}/api/plugins/shop/track/abc${i}`)).status).toBe(502);
  expect((await fetch(`${s.url}/api/plugins/shop/track/123`)).status).toBe(200);
  const { c } = await visitor(s.wsUrl, { lang: "en" });
  c.send({ type: "send", client_id: "s1", text: "hi shop" });
  expect((await c.nextType("message", (f) => f.from === "bot")).text).toBe("shop here");
  c.close();
  const admin = await s.login("admin");
  const { plugins } = (await (await fetch(`${s.url}/api/admin/plugins`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { plugins: { name: string; status: string; counters: { errors: number } }[] };
  // Still counted as errors, so the admin sees them.
  expect(plugins.find((p) => p.name === "shop")).toMatchObject({ status: "active", counters: { errors: 6 } });
}, 10_000);

test("admin actions: an unknown body field is a 400 naming it; an agent's token is refused; each action is audited", async () => {
  const admin = await s.login("admin");
  const agent = await s.login("agent");
  const post = (path: string, token: string, body?: unknown) =>
    fetch(`${s.url}/api/admin/plugins${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  for (const path of ["/shop/reload", "/reload", "/shop/disable"]) {
    const res = await post(path, admin, { force: true });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('"force"');
  }
  expect((await post("/shop/disable", agent)).status).toBe(403);
  expect((await post("/shop/disable", admin, {})).status).toBe(200);
  expect((await post("/shop/enable", admin)).status).toBe(200);
  const audit = (await (await fetch(`${s.url}/api/admin/audit?limit=10`, { headers: { authorization: `Bearer ${admin}` } })).json()) as { entries: { action: string; target: string }[] };
  expect(audit.entries.slice(0, 2).map((e) => `${e.action} ${e.target}`)).toEqual(["plugin.enable shop", "plugin.disable shop"]);
}, 10_000);
