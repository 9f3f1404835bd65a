/**
 * What every load scenario shares: its options (--quick, --clients, --no-build, --note), the run's
 * context (machine, date, load average, fd limits, phrasings), and writing the results — JSON + .md per
 * scenario in bench/results/, and bench/results/latest.md rebuilt from the newest result of each
 * scenario. --quick results go to $TMPDIR/kefu-bench-quick/ and never replace the committed ones.
 */
import { closeSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { machineInfo, today, writeResult, type MachineInfo } from "../lib/machine";
import { loadPhrasings } from "./phrasings";

export interface Options {
  quick: boolean;
  clients: number;
  noBuild: boolean;
  note: string;
  rest: Record<string, string | boolean | undefined>;
}

/** Parses the common options plus the scenario's own string options. */
export function options(own: Record<string, string> = {}): Options {
  const { values } = parseArgs({
    args: Bun.argv.slice(2),
    options: {
      quick: { type: "boolean", default: false },
      clients: { type: "string" },
      "no-build": { type: "boolean", default: false },
      note: { type: "string", default: "" },
      ...Object.fromEntries(Object.entries(own).map(([k, d]) => [k, { type: "string" as const, default: d }])),
    },
  });
  return {
    quick: values.quick as boolean,
    // Two client processes by default: on two cores one process per core; more with --clients.
    clients: Number(values.clients ?? Math.max(2, Math.min(4, cpus().length))),
    noBuild: values["no-build"] as boolean,
    note: values.note as string,
    rest: values,
  };
}

export interface Context {
  machine: MachineInfo;
  load_average_start: number[];
  load_average_end?: number[];
  /** /proc/pressure/cpu "some avg60": % of the last minute in which a runnable task waited for a core. */
  cpu_pressure_pct_start: number | null;
  cpu_pressure_pct_end?: number | null;
  /** A 4 KiB write + fsync in the temporary directory (where the servers keep their data), 20 times. */
  fsync_ms: { p50: number; max: number };
  quick: boolean;
  client_processes: number;
  phrasings: { count: number; sources: Record<string, number>; note: string | null };
  note: string;
}

export function context(opts: Options): Context {
  const p = loadPhrasings();
  if (p.note) console.log(`note: ${p.note}`);
  return {
    machine: machineInfo(),
    load_average_start: loadavg().map((x) => Math.round(x * 100) / 100),
    cpu_pressure_pct_start: cpuPressure(),
    fsync_ms: fsyncProbe(),
    quick: opts.quick,
    client_processes: opts.clients,
    phrasings: { count: p.texts.length, sources: p.sources, note: p.note },
    note: opts.note,
  };
}

function cpuPressure(): number | null {
  try {
    const m = /some avg10=[\d.]+ avg60=([\d.]+)/.exec(readFileSync("/proc/pressure/cpu", "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function fsyncProbe() {
  const dir = mkdtempSync(join(tmpdir(), "kefu-fsync-"));
  const fd = openSync(join(dir, "probe"), "w");
  const times: number[] = [];
  const block = Buffer.alloc(4096, 1);
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    writeSync(fd, block);
    fsyncSync(fd);
    times.push(performance.now() - t);
  }
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
  times.sort((a, b) => a - b);
  return { p50: Math.round(times[9] * 100) / 100, max: Math.round(times[19] * 100) / 100 };
}

/** The paragraph every scenario's .md ends with. */
export function contextLines(ctx: Context): string[] {
  const m = ctx.machine;
  const la = (x: number[] | undefined) => (x ? x.join(" / ") : "?");
  return [
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GB, ${m.os}, Bun ${m.bun}; ${m.date}. Load average (1/5/15 min) ${la(ctx.load_average_start)} at the start, ${la(ctx.load_average_end)} at the end; CPU pressure (share of the last minute a runnable task waited for a core) ${ctx.cpu_pressure_pct_start ?? "?"}% → ${ctx.cpu_pressure_pct_end ?? "?"}% — well above 0 means other work shared the cores and the figures are pessimistic. fsync of 4 KiB in ${tmpdir()}: p50 ${ctx.fsync_ms.p50} ms, max ${ctx.fsync_ms.max} ms.`,
    `Load client: ${ctx.client_processes} processes of its own (bench/load/client.ts), open loop; ${ctx.phrasings.count} distinct phrasings (${Object.entries(ctx.phrasings.sources)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")})${ctx.phrasings.note ? ` — ${ctx.phrasings.note}` : ""}. Percentiles over all samples after the warm-up.`,
    ...(ctx.note ? [`Note: ${ctx.note}`] : []),
  ];
}

const resultsDir = resolve(import.meta.dir, "../results");

/** Writes the scenario's JSON and .md (and rebuilds latest.md), or with --quick to a temporary directory. */
export async function finish(name: string, ctx: Context, data: Record<string, unknown>, md: string[]) {
  ctx.load_average_end = loadavg().map((x) => Math.round(x * 100) / 100);
  ctx.cpu_pressure_pct_end = cpuPressure();
  const text = [...md, "", ...contextLines(ctx)].join("\n");
  const all = { context: ctx, ...data };
  let files: string[];
  if (ctx.quick) {
    const dir = join(tmpdir(), "kefu-bench-quick");
    mkdirSync(dir, { recursive: true });
    files = [join(dir, `${name}.json`), join(dir, `${name}.md`)];
    writeFileSync(files[0], JSON.stringify(all, null, 2) + "\n");
    writeFileSync(files[1], text + "\n");
  } else {
    files = await writeResult(name, all, text);
    writeLatest();
    files.push(join(resultsDir, "latest.md"));
  }
  console.log(`\n${text}\n\nwrote ${files.join(", ")}`);
}

/** The load scenarios, in the order latest.md shows them; then links to the newest of the other benchmarks. */
export const loadScenarios = ["sessions", "throughput", "echo-baseline", "rest", "overload"];
const otherBenchmarks = ["cold-start", "retrieval", "eval", "llm-path", "llm-chain", "flood", "ws-load"];

function newest(name: string): string | null {
  const re = new RegExp(`^${name}-(\\d{4}-\\d{2}-\\d{2})\\.md$`);
  const hits = readdirSync(resultsDir)
    .filter((f) => re.test(f))
    .sort();
  return hits.length ? hits[hits.length - 1] : null;
}

export function writeLatest() {
  const out = [
    "# kefu performance: latest results",
    "",
    `Rebuilt ${today()} from the newest result of each load scenario (bench/load/README.md says how to run them).`,
    "Each section names its machine, date and load average; the ratios are to baselines measured in the same run.",
    "",
  ];
  for (const name of loadScenarios) {
    const f = newest(name);
    if (!f) {
      out.push(`## ${name}`, "", "Not run yet: `bun bench/run.ts " + name + "`.", "");
      continue;
    }
    const body = readFileSync(join(resultsDir, f), "utf8").trim().replace(/^# /, "## ").replace(/\n## /g, "\n### ");
    out.push(body, "", `(${f}, ${f.replace(/\.md$/, ".json")})`, "");
  }
  // Where the CPU goes (what limits the figures above): the server's CPU per message by thread and statement,
  // and stage by stage inside the knowledge-base search.
  const cost = newest("msg-cost");
  if (cost) {
    const body = readFileSync(join(resultsDir, cost), "utf8").trim().replace(/^# /, "## Where the time goes: ").replace(/\n## /g, "\n### ");
    const kb = newest("kb-cost");
    out.push(body, "", `(${cost}${kb ? `; the search stage by stage: [${kb}](${kb})` : ""})`, "");
  }
  const others = otherBenchmarks.map((n) => [n, newest(n)] as const).filter(([, f]) => f);
  if (others.length) out.push("## Other benchmarks (newest)", "", ...others.map(([n, f]) => `- ${n}: [${f}](${f})`), "");
  writeFileSync(join(resultsDir, "latest.md"), out.join("\n"));
}

/** Markdown table from a header and rows. */
export function table(header: string[], rows: (string | number | null)[][]): string[] {
  return [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.map((c) => c ?? "—").join(" | ")} |`)];
}

/** a / b as "N×" (or — when either is missing). */
export function ratio(a: number | null | undefined, b: number | null | undefined, digits = 1): string {
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return "—";
  return `${Math.round((a / b) * 10 ** digits) / 10 ** digits}×`;
}
