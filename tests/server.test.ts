import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eventually } from "./helpers/eventually";
import { startTestServer, type TestServer } from "./helpers/server";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(() => s.stop());

describe("server basics", () => {
  test("/healthz reports version, uptime and database", async () => {
    const res = await fetch(`${s.url}/healthz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.status).toBe("ok");
    expect(body.db).toBe("ok");
    expect(typeof body.version).toBe("string");
    expect(typeof body.uptime_s).toBe("number");
  });

  test("/readyz is 503 while start-up work is pending, then 200", async () => {
    let finish!: () => void;
    const work = s.kefu.ctx.lifecycle.track("warm-up", new Promise<void>((r) => (finish = r)));
    const pending = await fetch(`${s.url}/readyz`);
    expect(pending.status).toBe(503);
    expect(((await pending.json()) as { waiting_for: string[] }).waiting_for).toEqual(["warm-up"]);
    finish();
    await work;
    expect((await fetch(`${s.url}/readyz`)).status).toBe(200);
  });

  test("unknown routes and bad bodies get the JSON error shape", async () => {
    const nf = await fetch(`${s.url}/api/nope`);
    expect(nf.status).toBe(404);
    expect(((await nf.json()) as { error: { code: string } }).error.code).toBe("not_found");
    const bad = await fetch(`${s.url}/api/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error).toBeDefined();
  });

  test("request ids are echoed and logged", async () => {
    const res = await fetch(`${s.url}/healthz`, { headers: { "x-request-id": "abc-123" } });
    expect(res.headers.get("x-request-id")).toBe("abc-123");
    expect(await eventually(() => s.logs.some((l) => l.includes('"rid":"abc-123"')))).toBe(true);
    const generated = (await fetch(`${s.url}/healthz`)).headers.get("x-request-id");
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
  });

  test("static front page is served", async () => {
    const res = await fetch(`${s.url}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("kefu");
  });

  test("schema version is recorded in meta", () => {
    const row = s.kefu.ctx.db.query<{ value: string }, []>("SELECT value FROM meta WHERE key = 'schema_version'").get();
    expect(Number(row?.value)).toBeGreaterThan(0);
  });
});
