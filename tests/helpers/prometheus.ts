/** Reading /metrics in tests: a parser of the Prometheus text format 0.0.4 and a scrape helper. */
import { expect } from "bun:test";

export interface Family {
  type: string;
  help: string;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}
export type Families = Map<string, Family>;

/** HELP/TYPE lines and samples with labels; a histogram's _bucket/_sum/_count samples belong to its family. */
export function parseExposition(text: string): Families {
  const families: Families = new Map();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { type: "untyped", help: "", samples: [] }));
    return f;
  };
  const sampleRe = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/;
  const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/g;
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      if (meta[1] === "TYPE") family(meta[2]!).type = meta[3]!;
      else family(meta[2]!).help = meta[3]!;
      continue;
    }
    if (line.startsWith("#")) continue;
    const m = sampleRe.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(labelRe)) labels[l[1]!] = l[2]!.replace(/\\n/g, "\n").replace(/\\(["\\])/g, "$1");
    const value = m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : Number(m[3]);
    if (Number.isNaN(value) && m[3] !== "NaN") throw new Error(`bad value: ${line}`);
    const base = m[1]!.replace(/_(bucket|sum|count)$/, "");
    const owner = families.has(m[1]!) ? m[1]! : families.get(base)?.type === "histogram" ? base : m[1]!;
    family(owner).samples.push({ name: m[1]!, labels, value });
  }
  return families;
}

/** The value of the sample `name` (default: the family's own name) whose labels include `labels`; 0 when absent. */
export function sample(fs: Families, family: string, labels: Record<string, string> = {}, name = family): number {
  const f = fs.get(family);
  if (!f) throw new Error(`no family ${family}`);
  const hit = f.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return hit?.value ?? 0;
}

/** GET /metrics with the bearer token, checked and parsed. */
export async function scrapeMetrics(baseUrl: string, token: string): Promise<Families> {
  const res = await fetch(`${baseUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/plain");
  return parseExposition(await res.text());
}

/** How much each sample moved between two scrapes. */
export const delta = (before: Families, after: Families) => (family: string, labels: Record<string, string> = {}, name = family) =>
  sample(after, family, labels, name) - sample(before, family, labels, name);
