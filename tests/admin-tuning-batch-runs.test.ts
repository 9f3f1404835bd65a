import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { MAX_CASES } from "../src/kb/tuning/batch-runs";
import { apiClient } from "./helpers/admin-api";
import { startTestServer, type TestServer } from "./helpers/server";

/**
 * Batch hit tests: a list of questions with their expected entries (or none) run at the thresholds in force,
 * with `kefu eval`'s figures and each question's outcome, saved, listed, compared with a later run and deleted;
 * the size bounds and bad input are 4xx.
 */

let s: TestServer;
let admin: string;
const api = apiClient(() => s, () => admin);

const cases = [
  { question: "Do you offer gift wrapping?", expected: "gift-wrap" },
  { question: "Can you wrap my order as a present?", expected: "gift-wrap" },
  { question: "When are you open?", expected: "opening-hours" },
  { question: "what is the capital of france", expected: null },
  { question: "qwxz vbnm plokij", expected: null },
];

beforeAll(async () => {
  s = await startTestServer({ log: { level: "error" } });
  admin = await s.login("admin");
  await s.kefu.ctx.kb.upsert([
    { id: "gift-wrap", question: "Do you offer gift wrapping?", alts: ["Can you wrap my order as a present?", "gift wrap available?"], answer: "Yes, gift wrapping is free." },
    { id: "opening-hours", question: "What are your opening hours?", alts: ["When are you open?", "what time do you close"], answer: "We are open 9:00-18:00." },
  ]);
  await s.kefu.ctx.kb.calibrate();
}, 60_000);
afterAll(() => s.stop());

describe("batch runs", () => {
  let first: any;
  test("a run gives kefu eval's figures and every question's outcome, saved with the version and thresholds", async () => {
    const res = await api("/api/admin/kb/batch-runs", { body: { name: "baseline", cases } });
    expect(res.status).toBe(201);
    first = await res.json();
    expect(first).toMatchObject({ name: "baseline", kb_version: s.kefu.ctx.kb.version(), thresholds: { direct: 0.85, suggest: 0.3 }, llm: false, cases: 5 });
    for (const k of ["direct_precision", "direct_coverage", "false_direct_rate", "coverage_at_p90", "suggest_hit_rate", "top1", "mrr"]) expect(k in first.figures).toBe(true);
    expect(first.figures.n).toBe(5);
    expect(first.figures.false_direct_rate).toBe(0);
    expect(first.outcomes).toHaveLength(5);
    expect(first.outcomes[0]).toMatchObject({ question: "Do you offer gift wrapping?", expected: "gift-wrap", top: "gift-wrap", decision: "direct", correct: true });
    const oos = first.outcomes[4];
    expect(oos.expected).toBeNull();
    expect(oos.correct).toBe(true);
    expect(oos.decision).not.toBe("direct");
    expect(first.unknown_expected).toEqual([]);

    const listed = (await (await api("/api/admin/kb/batch-runs")).json()) as any;
    expect(listed.runs.map((r: any) => r.id)).toEqual([first.id]);
    expect(listed.runs[0].outcomes).toBeUndefined();
    expect(await (await api(`/api/admin/kb/batch-runs/${first.id}`)).json()).toEqual(first);
  });

  test("CSV text works too (header optional, empty expected = out of scope); unknown expected ids are named", async () => {
    const text = 'question,expected\n"When are you open?",opening-hours\nwhat is the capital of france,\nDo you sell bikes?,no-such-entry\n';
    const res = await api("/api/admin/kb/batch-runs", { body: { text } });
    expect(res.status).toBe(201);
    const run = (await res.json()) as any;
    expect(run.cases).toBe(3);
    expect(run.outcomes.map((o: any) => o.expected)).toEqual(["opening-hours", null, "no-such-entry"]);
    expect(run.unknown_expected).toEqual(["no-such-entry"]);
    expect(run.name).toMatch(/^run \d{4}-/);
    expect((await api(`/api/admin/kb/batch-runs/${run.id}`, { method: "DELETE" })).status).toBe(200);
  });

  test("compare: after a threshold change the questions whose decision moved are listed, with the figures side by side", async () => {
    await api("/api/admin/kb/thresholds", { method: "PUT", body: { direct: 0.995, suggest: 0.2 } });
    const second = (await (await api("/api/admin/kb/batch-runs", { body: { name: "strict", cases } })).json()) as any;
    expect(second.thresholds).toEqual({ direct: 0.995, suggest: 0.2 });
    await api("/api/admin/kb/thresholds", { method: "DELETE" });

    const cmp = (await (await api(`/api/admin/kb/batch-runs/${first.id}/compare/${second.id}`)).json()) as any;
    expect(cmp.run.id).toBe(first.id);
    expect(cmp.other.id).toBe(second.id);
    const moved = cmp.changed.find((c: any) => c.question === "Do you offer gift wrapping?");
    expect(moved.run.decision).toBe("direct");
    expect(moved.other.decision).toBe("choices");
    // Unchanged questions are not listed.
    expect(cmp.changed.some((c: any) => c.question === "qwxz vbnm plokij")).toBe(false);
    expect(cmp.figures.direct_coverage.run).toBeGreaterThan(cmp.figures.direct_coverage.other ?? 0);
    expect(cmp.only_in_run).toEqual([]);

    // The latest run draws the batch curve of the thresholds view.
    const th = (await (await api("/api/admin/kb/thresholds")).json()) as any;
    expect(th.batch_run.id).toBe(second.id);
    expect(th.batch_curve).toHaveLength(95);
    const pv = (await (await api("/api/admin/kb/thresholds/preview?direct=0.85&suggest=0.3")).json()) as any;
    expect(pv.batch_run.figures.direct_coverage).toBe(first.figures.direct_coverage);

    expect((await api(`/api/admin/kb/batch-runs/${second.id}`, { method: "DELETE" })).status).toBe(200);
    expect((await api(`/api/admin/kb/batch-runs/${second.id}`)).status).toBe(404);
    expect((await api(`/api/admin/kb/batch-runs/${second.id}`, { method: "DELETE" })).status).toBe(404);
    expect((await api(`/api/admin/kb/batch-runs/${first.id}/compare/${second.id}`)).status).toBe(404);
  }, 20_000);

  test("bounds and bad input are 4xx, nothing saved", async () => {
    const before = ((await (await api("/api/admin/kb/batch-runs")).json()) as any).runs.length;
    const big = Array.from({ length: MAX_CASES + 1 }, (_, i) => ({ question: `q${i}`, expected: null }));
    const tooMany = await api("/api/admin/kb/batch-runs", { body: { cases: big } });
    expect(tooMany.status).toBe(413);
    expect(((await tooMany.json()) as any).error.code).toBe("too_many_cases");
    const csv = Array.from({ length: MAX_CASES + 1 }, (_, i) => `q${i},`).join("\n");
    expect((await api("/api/admin/kb/batch-runs", { body: { text: csv } })).status).toBe(413);
    expect((await api("/api/admin/kb/batch-runs", { body: {} })).status).toBe(400);
    expect((await api("/api/admin/kb/batch-runs", { body: { cases, text: "a,b" } })).status).toBe(400);
    expect((await api("/api/admin/kb/batch-runs", { body: { cases: [] } })).status).toBe(400);
    expect((await api("/api/admin/kb/batch-runs", { body: { cases: [{ question: "  ", expected: null }] } })).status).toBe(400);
    expect((await api("/api/admin/kb/batch-runs", { body: { cases: [{ question: "a" }] } })).status).toBe(400);
    const extra = await api("/api/admin/kb/batch-runs", { body: { cases, dry_run: true } });
    expect(extra.status).toBe(400);
    expect(JSON.stringify(await extra.json())).toContain("dry_run");
    const badCsv = await api("/api/admin/kb/batch-runs", { body: { text: 'a,b\n"unterminated,x\n' } });
    expect(badCsv.status).toBe(400);
    expect(((await badCsv.json()) as any).error.message).toContain("line 2");
    expect((await api("/api/admin/kb/batch-runs", { body: { text: "a,b,c\n" } })).status).toBe(400);
    expect((await api("/api/admin/kb/batch-runs/abc")).status).toBe(400);
    expect(((await (await api("/api/admin/kb/batch-runs")).json()) as any).runs.length).toBe(before);
  }, 20_000);

  test("a long run lets other requests through while it searches", async () => {
    const many = Array.from({ length: 600 }, (_, i) => ({ question: `question number ${i} about gift wrapping and opening hours`, expected: i % 2 ? "gift-wrap" : null }));
    const running = api("/api/admin/kb/batch-runs", { body: { name: "long", cases: many } });
    let answeredMeanwhile = false;
    const health = (async () => {
      await Bun.sleep(5);
      const r = await fetch(`${s.url}/healthz`);
      answeredMeanwhile = r.status === 200;
      return performance.now();
    })();
    const [res, healthAt] = await Promise.all([running.then((r) => [r, performance.now()] as const), health]);
    expect(res[0].status).toBe(201);
    expect(answeredMeanwhile).toBe(true);
    expect(healthAt).toBeLessThan(res[1]);
    const run = (await res[0].json()) as any;
    expect(run.outcomes).toHaveLength(600);
  }, 30_000);
});
