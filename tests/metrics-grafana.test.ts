import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type Families, scrapeMetrics } from "./helpers/prometheus";
import { startTestServer, type TestServer } from "./helpers/server";

/**
 * docs/grafana/kefu.json and docs/grafana/kefu-alerts.yml cannot rot: every kefu_ metric they query, with
 * every label and label value they select on, exists in the /metrics exposition of a running kefu, and every
 * family kefu exposes has a panel. The alert rules docs/operations.md shows are the ones in the rules file.
 */

const root = join(import.meta.dir, "..");
const TOKEN = "grafana-test-token-0123456789";
const dashboard = JSON.parse(readFileSync(join(root, "docs/grafana/kefu.json"), "utf8"));
const rules = (Bun.YAML.parse(readFileSync(join(root, "docs/grafana/kefu-alerts.yml"), "utf8")) as { groups: { rules: { alert: string; expr: string }[] }[] }).groups.flatMap((g) => g.rules);
const operations = readFileSync(join(root, "docs/operations.md"), "utf8");

type Panel = { type: string; title: string; id: number; gridPos?: object; datasource?: { type: string; uid: string }; targets?: { expr: string; refId: string; datasource?: { uid: string } }[]; panels?: Panel[] };
const panels: Panel[] = (dashboard.panels as Panel[]).flatMap((p) => [p, ...(p.panels ?? [])]);
const queries = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
const templated = (dashboard.templating.list as { name: string; type: string; query: unknown; definition?: string }[]);

let s: TestServer;
let exposed: Families;
beforeAll(async () => {
  // A provider is configured (never called) so that the per-provider families have label sets.
  s = await startTestServer({ log: { level: "warn" }, metrics: { token: TOKEN }, llm: { providers: [{ name: "p", base_url: "http://127.0.0.1:9/v1", model: "m" }] } });
  exposed = await scrapeMetrics(s.url, TOKEN);
});
afterAll(() => s.stop());

/** Each `kefu_name{matchers}` in a PromQL expression, with its equality matchers. */
function selectors(expr: string) {
  const out: { metric: string; labels: { name: string; op: string; value: string }[] }[] = [];
  for (const m of expr.matchAll(/\b(kefu_[a-z0-9_]+)(?:\{([^}]*)\})?/g)) {
    const labels = [...(m[2] ?? "").matchAll(/([a-z_]+)\s*(=~|!~|!=|=)\s*"([^"]*)"/g)].map((l) => ({ name: l[1]!, op: l[2]!, value: l[3]! }));
    out.push({ metric: m[1]!, labels });
  }
  return out;
}

/** The exposed family of a metric name: itself, or the histogram a _bucket/_sum/_count sample belongs to. */
function familyOf(metric: string) {
  if (exposed.has(metric)) return { name: metric, family: exposed.get(metric)! };
  const base = metric.replace(/_(bucket|sum|count)$/, "");
  const family = exposed.get(base);
  return family?.type === "histogram" ? { name: base, family } : null;
}

/** Labels Prometheus adds at scrape time. */
const TARGET_LABELS = new Set(["instance", "job"]);

function checkExpr(where: string, expr: string) {
  const problems: string[] = [];
  for (const sel of selectors(expr)) {
    const found = familyOf(sel.metric);
    if (!found) {
      problems.push(`${where}: ${sel.metric} is not in /metrics`);
      continue;
    }
    const samples = found.family.samples.filter((x) => x.name === sel.metric);
    for (const l of sel.labels) {
      if (TARGET_LABELS.has(l.name)) continue;
      const values = new Set(samples.map((x) => x.labels[l.name]).filter((v) => v !== undefined));
      if (values.size === 0) problems.push(`${where}: ${sel.metric} has no label ${l.name}`);
      else if (l.op === "=" && !values.has(l.value)) problems.push(`${where}: ${sel.metric}{${l.name}="${l.value}"} never exposed (has ${[...values].join(", ")})`);
      else if (l.op === "=~" || l.op === "!~") {
        for (const alt of l.value.split("|")) if (/^[a-z_]+$/.test(alt) && !values.has(alt)) problems.push(`${where}: ${sel.metric} label ${l.name} has no value ${alt}`);
      }
    }
  }
  // Counters are read as rates; histograms through their buckets.
  for (const m of expr.matchAll(/(\w*\()?\s*(kefu_[a-z0-9_]+_total)\b/g)) if (!/^(rate|increase|irate)\($/.test(m[1] ?? "")) problems.push(`${where}: counter ${m[2]} used without rate()`);
  for (const m of expr.matchAll(/histogram_quantile\(\s*[\d.]+\s*,\s*sum by \(([^)]*)\)\s*\(rate\((kefu_[a-z0-9_]+)/g)) {
    if (!m[1]!.split(",").map((x) => x.trim()).includes("le")) problems.push(`${where}: histogram_quantile without le`);
    if (!m[2]!.endsWith("_bucket")) problems.push(`${where}: histogram_quantile over ${m[2]}, not its _bucket`);
  }
  return problems;
}

describe("docs/grafana/kefu.json", () => {
  test("importable: a Prometheus datasource variable used by every panel and query, unique ids, a place for each panel", () => {
    expect(dashboard.title).toBe("kefu");
    expect(typeof dashboard.uid).toBe("string");
    expect(dashboard.id).toBeNull();
    expect(templated.find((v) => v.name === "datasource")).toMatchObject({ type: "datasource", query: "prometheus" });
    expect(templated.find((v) => v.name === "instance")?.definition).toContain("kefu_uptime_seconds");
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) {
      expect({ title: p.title, grid: Boolean(p.gridPos) }).toEqual({ title: p.title, grid: true });
      if (p.type === "row" || p.type === "alertlist") continue;
      expect({ title: p.title, ds: p.datasource?.uid, targets: (p.targets ?? []).length > 0 }).toEqual({ title: p.title, ds: "${datasource}", targets: true });
      for (const t of p.targets!) expect({ title: p.title, ds: t.datasource?.uid }).toEqual({ title: p.title, ds: "${datasource}" });
    }
    // No Prometheus datasource pinned to someone's Grafana, anywhere (panels, targets, variables).
    const pinned: string[] = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) return v.forEach(walk);
      if (!v || typeof v !== "object") return;
      for (const [k, x] of Object.entries(v)) {
        const ds = x as { type?: string; uid?: string };
        if (k === "datasource" && ds && typeof ds === "object" && ds.type === "prometheus" && ds.uid !== "${datasource}") pinned.push(JSON.stringify(ds));
        walk(x);
      }
    };
    walk(dashboard);
    expect(pinned).toEqual([]);
  });

  test("every metric, label and label value a panel queries is in /metrics; counters through rate(), quantiles over buckets", () => {
    expect(queries.length).toBeGreaterThan(20);
    const problems = queries.flatMap((q) => checkExpr(`panel "${q.panel}"`, q.expr));
    expect(problems).toEqual([]);
    const quantiles = queries.filter((q) => q.expr.includes("histogram_quantile"));
    expect(quantiles.map((q) => q.expr.match(/histogram_quantile\(([\d.]+)/)![1]).sort()).toEqual(["0.5", "0.5", "0.95", "0.95"]);
  });

  test("every family kefu exposes has a panel", () => {
    const queried = new Set(queries.flatMap((q) => selectors(q.expr).map((sel) => familyOf(sel.metric)?.name)));
    const families = [...exposed.keys()].filter((n) => n.startsWith("kefu_"));
    expect(families.length).toBeGreaterThan(20);
    expect(families.filter((n) => !queried.has(n))).toEqual([]);
  });
});

describe("docs/grafana/kefu-alerts.yml", () => {
  test("every rule's expression queries metrics, labels and values that exist", () => {
    expect(rules.length).toBeGreaterThanOrEqual(8);
    expect(rules.flatMap((r) => checkExpr(`alert ${r.alert}`, r.expr))).toEqual([]);
    expect(rules.every((r) => r.alert.startsWith("Kefu"))).toBe(true);
  });

  test("the rules docs/operations.md shows are the ones in the file", () => {
    const block = /```yaml\n(groups:[\s\S]*?)```/.exec(operations);
    expect(block).not.toBeNull();
    const shown = (Bun.YAML.parse(block![1]!) as { groups: { rules: { alert: string; expr: string }[] }[] }).groups.flatMap((g) => g.rules);
    expect(shown.length).toBeGreaterThan(0);
    const byName = new Map(rules.map((r) => [r.alert, r.expr]));
    for (const r of shown) expect({ alert: r.alert, expr: r.expr }).toEqual({ alert: r.alert, expr: byName.get(r.alert)! });
  });

  test("every kefu_ metric docs/operations.md names exists", () => {
    const named = new Set([...operations.matchAll(/\bkefu_[a-z0-9_]+/g)].map((m) => m[0]));
    expect([...named].filter((n) => !familyOf(n))).toEqual([]);
  });
});
