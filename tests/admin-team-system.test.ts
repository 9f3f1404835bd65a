import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SCHEMA_VERSION } from "../src/ops/schema";
import { VERSION } from "../src/version";
import { apiClient } from "./helpers/admin-api";
import { startTestServer, type TestServer } from "./helpers/server";

/**
 * The System page's one call, on a server with an LLM provider configured (never called here) — and the
 * hit test's decision there: what is not answered verbatim goes to the model.
 */

let s: TestServer;
let admin: string;
const api = apiClient(() => s, () => admin);

beforeAll(async () => {
  s = await startTestServer({ log: { level: "error" }, llm: { providers: [{ name: "main", base_url: "http://127.0.0.1:9/v1", model: "m" }] as any } });
  admin = await s.login("admin");
  await s.kefu.ctx.kb.upsert([{ id: "gift-wrap", question: "Do you offer gift wrapping?", alts: ["Can you wrap my order as a present?"], answer: "Yes." }]);
  await s.kefu.ctx.kb.calibrate();
}, 60_000);
afterAll(() => s.stop());

describe("GET /api/admin/system", () => {
  test("version, schema, uptime, storage, providers, plugins, models and the knowledge base", async () => {
    const res = await api("/api/admin/system");
    expect(res.status).toBe(200);
    const sys = (await res.json()) as any;
    expect(sys).toMatchObject({ version: VERSION, schema_version: SCHEMA_VERSION, models: [] });
    expect(sys.uptime_s).toBeGreaterThanOrEqual(0);
    expect(sys.storage.db_bytes).toBeGreaterThan(0);
    expect(sys.storage.wal_bytes).toBeGreaterThan(0);
    // The same provider view as GET /api/admin/llm/providers.
    const providers = ((await (await api("/api/admin/llm/providers")).json()) as any).providers;
    expect(sys.providers.map((p: any) => p.name)).toEqual(["main"]);
    expect(sys.providers[0]).toMatchObject({ name: "main", model: "m", breaker: { state: providers[0].breaker.state } });
    for (const k of ["limit", "gate", "latency_ms", "error_rate", "totals"]) expect(k in sys.providers[0]).toBe(true);
    const plugins = ((await (await api("/api/admin/plugins")).json()) as any).plugins;
    expect(sys.plugins).toEqual(plugins);
    const kb = s.kefu.ctx.kb;
    expect(sys.kb).toEqual({ entries: kb.count(), version: kb.version(), thresholds: { direct: 0.85, suggest: 0.3 }, calibration: "fitted" });
  });

  test("agents get 403, strangers 401", async () => {
    const agent = await s.login("agent");
    expect((await api("/api/admin/system", { token: agent })).status).toBe(403);
    expect((await fetch(`${s.url}/api/admin/system`)).status).toBe(401);
  });
});

describe("hit test with an LLM configured", () => {
  test("an exact question is still direct; anything below direct goes to the LLM, and the reason says so", async () => {
    const direct = (await (await api("/api/admin/kb/hit-test", { body: { q: "Do you offer gift wrapping?" } })).json()) as any;
    expect(direct.decision.path).toBe("direct");
    const far = (await (await api("/api/admin/kb/hit-test", { body: { q: "qwxz vbnm plokij" } })).json()) as any;
    expect(far.decision.path).toBe("llm");
    expect(far.decision.reason).toContain("the LLM answers");
    await api("/api/admin/kb/thresholds", { method: "PUT", body: { direct: 0.999, suggest: 0.01 } });
    const band = (await (await api("/api/admin/kb/hit-test", { body: { q: "Can you wrap my order as a present?" } })).json()) as any;
    expect(band.decision.path).toBe("llm");
    expect(band.decision.reason).toMatch(/< direct 0\.999: the LLM answers, grounded in the top entries \(1 "did you mean" choice if it cannot\)/);
    await api("/api/admin/kb/thresholds", { method: "DELETE" });
  });
});
