import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CALIBRATION_FEATURES } from "../src/kb/calibration";
import { apiClient } from "./helpers/admin-api";
import { startTestServer, type TestServer } from "./helpers/server";

/**
 * The hit test and the thresholds of the admin console against a real server: the decision and its reason at
 * the thresholds in force, every signal the engine computed, and a threshold change (settings table) that
 * changes what a visitor of /api/ask gets at once — and back.
 */

let s: TestServer;
let admin: string;
let agent: string;
const api = apiClient(() => s, () => admin);
const ask = async (text: string) =>
  (await (await fetch(`${s.url}/api/ask`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text, lang: "en" }) })).json()) as {
    path: string;
    answer: string;
  };

beforeAll(async () => {
  s = await startTestServer({ log: { level: "error" }, answer: { ask_open: true } });
  admin = await s.login("admin");
  agent = await s.login("agent");
  await s.kefu.ctx.kb.upsert([
    { id: "gift-wrap", question: "Do you offer gift wrapping?", alts: ["Can you wrap my order as a present?", "gift wrap available?"], answer: "Yes, gift wrapping is free." },
    { id: "opening-hours", question: "What are your opening hours?", alts: ["When are you open?", "what time do you close"], answer: "We are open 9:00-18:00." },
  ]);
  await s.kefu.ctx.kb.calibrate();
}, 60_000);
afterAll(() => s.stop());

describe("hit test", () => {
  test("an entry's own question is answered directly, with its confidence, every signal and the reason", async () => {
    const res = await api("/api/admin/kb/hit-test", { body: { q: "Do you offer gift wrapping?" } });
    expect(res.status).toBe(200);
    const r = (await res.json()) as any;
    expect(r.thresholds).toEqual({ direct: 0.85, suggest: 0.3 });
    expect(r.decision.path).toBe("direct");
    expect(r.decision.entry_id).toBe("gift-wrap");
    expect(r.decision.reason).toMatch(/^confidence 0\.\d\d ≥ direct 0\.85/);
    const top = r.entries[0];
    expect(top).toMatchObject({ id: "gift-wrap", question: "Do you offer gift wrapping?", matched: "Do you offer gift wrapping?" });
    expect(top.confidence).toBeGreaterThanOrEqual(0.85);
    for (const name of ["match", "phrasing", "entry", "query_coverage", "phrasing_coverage", "order", "dense", "unknown", "classifier", "fts", "vector"]) {
      expect(typeof top.signals[name]).toBe("number");
    }
    expect(top.signals.order).toBeGreaterThan(0.99);
    expect(Object.keys(r.calibration.features)).toEqual([...CALIBRATION_FEATURES]);
    expect(r.calibration.features.exact).toBe(1);
  });

  test("an alternative phrasing shows which phrasing matched", async () => {
    const r = (await (await api("/api/admin/kb/hit-test", { body: { q: "when are you open" } })).json()) as any;
    expect(r.entries[0].id).toBe("opening-hours");
    expect(r.entries[0].matched).toBe("When are you open?");
  });

  test("a question nobody answers falls back (no LLM configured) and says why", async () => {
    const r = (await (await api("/api/admin/kb/hit-test", { body: { q: "qwxz vbnm plokij" } })).json()) as any;
    expect(r.decision.path).toBe("fallback");
    expect(r.decision.reason).toMatch(/no entry (is close enough|matched at all)/);
    expect(r.decision.reason).toContain("no LLM configured");
  });

  test("bad input is a 400 naming the problem; agents get 403", async () => {
    const unknown = await api("/api/admin/kb/hit-test", { body: { q: "x", k: 3 } });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(await unknown.json())).toContain("k");
    expect((await api("/api/admin/kb/hit-test", { body: { q: "" } })).status).toBe(400);
    expect((await api("/api/admin/kb/hit-test", { body: { q: " \u3000 " } })).status).toBe(400);
    expect((await api("/api/admin/kb/hit-test", { body: {} })).status).toBe(400);
    expect((await api("/api/admin/kb/hit-test", { body: { q: "x" }, token: agent })).status).toBe(403);
  });
});

describe("thresholds", () => {
  test("GET shows the values, their source and curves from the knowledge base's calibration samples", async () => {
    const r = (await (await api("/api/admin/kb/thresholds")).json()) as any;
    expect(r).toMatchObject({ direct: 0.85, suggest: 0.3, source: "config", config: { direct: 0.85, suggest: 0.3 } });
    expect(r.calibration.status).toBe("ready");
    expect(r.calibration.samples.in_scope).toBeGreaterThan(0);
    expect(r.calibration.samples.out_of_scope).toBeGreaterThan(0);
    expect(r.curve).toHaveLength(95);
    expect(r.curve[0].direct).toBe(0.05);
    expect(r.curve.at(-1).direct).toBe(0.99);
    // A higher bar answers fewer questions directly.
    for (let i = 1; i < r.curve.length; i++) expect(r.curve[i].coverage).toBeLessThanOrEqual(r.curve[i - 1].coverage);
    expect(r.curve[0].coverage).toBeGreaterThan(r.curve.at(-1).coverage);
  });

  test("preview estimates one point; a bad point is a 400", async () => {
    const low = (await (await api("/api/admin/kb/thresholds/preview?direct=0.2&suggest=0.1")).json()) as any;
    const high = (await (await api("/api/admin/kb/thresholds/preview?direct=0.95&suggest=0.3")).json()) as any;
    expect(low.calibration.estimate.coverage).toBeGreaterThan(high.calibration.estimate.coverage);
    expect(high.calibration.estimate.false_direct_rate).toBeLessThanOrEqual(low.calibration.estimate.false_direct_rate);
    const bad = await api("/api/admin/kb/thresholds/preview?direct=0.2&suggest=0.5");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.message).toContain("kb.suggest");
    expect((await api("/api/admin/kb/thresholds/preview?direct=2")).status).toBe(400);
  });

  test("PUT changes what a visitor gets at once, DELETE goes back to the config file; both audited", async () => {
    const q = "Can you wrap my order as a present?";
    expect((await ask(q)).path).toBe("direct");
    expect((await ask(q)).path).toBe("cache");

    const put = await api("/api/admin/kb/thresholds", { method: "PUT", body: { direct: 0.995, suggest: 0.2 } });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ direct: 0.995, suggest: 0.2, source: "settings", config: { direct: 0.85, suggest: 0.3 } });
    // Neither from the knowledge base verbatim nor from the cache of the old decision.
    const after = await ask(q);
    expect(after.path).not.toBe("direct");
    expect(after.path).not.toBe("cache");
    const hit = (await (await api("/api/admin/kb/hit-test", { body: { q } })).json()) as any;
    expect(hit.decision.path).toBe("choices");
    expect(hit.decision.reason).toContain("< direct 0.995");

    const del = await api("/api/admin/kb/thresholds", { method: "DELETE" });
    expect(await del.json()).toMatchObject({ direct: 0.85, suggest: 0.3, source: "config" });
    expect((await ask(q)).path).toBe("direct");

    const rows = s.kefu.ctx.db.query<{ action: string; detail: string }, []>("SELECT action, detail FROM audit_log WHERE action LIKE 'kb.thresholds.%' ORDER BY id").all();
    expect(rows.map((r) => r.action)).toEqual(["kb.thresholds.update", "kb.thresholds.reset"]);
    expect(JSON.parse(rows[0]!.detail)).toEqual({ direct: 0.995, suggest: 0.2 });
  }, 20_000);

  test("PUT refuses what the config file would refuse, and unknown fields", async () => {
    const inverted = await api("/api/admin/kb/thresholds", { method: "PUT", body: { direct: 0.4, suggest: 0.6 } });
    expect(inverted.status).toBe(400);
    expect(((await inverted.json()) as any).error.code).toBe("invalid_setting");
    expect((await api("/api/admin/kb/thresholds", { method: "PUT", body: { direct: 1.2, suggest: 0.3 } })).status).toBe(400);
    const extra = await api("/api/admin/kb/thresholds", { method: "PUT", body: { direct: 0.9, suggest: 0.3, chunk_size: 5 } });
    expect(extra.status).toBe(400);
    expect(JSON.stringify(await extra.json())).toContain("chunk_size");
    expect(s.kefu.ctx.kb.thresholds).toEqual({ direct: 0.85, suggest: 0.3 });
  });
});
