/**
 * Cold start of the compiled binary: launch → first 200 from /healthz, median of
 * several runs, on a fresh data dir each time (the first start creates and migrates
 * the database and loads the demo knowledge). Baseline measured in the same run: a
 * compiled minimal Bun HTTP server, the floor any Bun binary pays.
 *
 *   bun bench/cold-start.ts [--runs 15]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { machineInfo, median, percentile, writeResult } from "./lib/machine";
import { freePort } from "./lib/net";

const { values } = parseArgs({ args: Bun.argv.slice(2), options: { runs: { type: "string", default: "15" } } });
const runs = Number(values.runs);
const root = resolve(import.meta.dir, "..");
const work = mkdtempSync(join(tmpdir(), "kefu-cold-"));

function run(cmd: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const p = Bun.spawnSync(cmd, { cwd: opts.cwd ?? root, env: { ...process.env, ...opts.env }, stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${p.stderr}`);
}

async function timeToFirst200(cmd: string[], cwd: string, env: Record<string, string>, port: number): Promise<number> {
  const t0 = performance.now();
  const proc = Bun.spawn(cmd, { cwd, env: { PATH: "/usr/bin:/bin", HOME: cwd, ...env }, stdout: "ignore", stderr: "ignore" });
  try {
    for (;;) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`);
        if (res.status === 200) return performance.now() - t0;
      } catch {
        // not listening yet
      }
      if (performance.now() - t0 > 15_000) throw new Error(`${cmd[0]} did not answer within 15 s`);
      await Bun.sleep(1);
    }
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
  }
}

console.log("building dist/kefu and the baseline binary ...");
run([process.execPath, "scripts/build.ts"]);
const baselineSrc = join(work, "baseline.ts");
writeFileSync(baselineSrc, `Bun.serve({ port: Number(process.env.PORT), hostname: "127.0.0.1", fetch: () => Response.json({ ok: true }) });\n`);
const baselineExe = join(work, "baseline");
run([process.execPath, "build", "--compile", baselineSrc, "--outfile", baselineExe]);

const kefuTimes: number[] = [];
const baseTimes: number[] = [];
for (let i = 0; i < runs; i++) {
  const dir = mkdtempSync(join(work, "run-"));
  const port = await freePort();
  kefuTimes.push(await timeToFirst200([join(root, "dist/kefu")], dir, { KEFU_SERVER_PORT: String(port), KEFU_SERVER_HOST: "127.0.0.1", KEFU_LOG_LEVEL: "warn" }, port));
  const bport = await freePort();
  baseTimes.push(await timeToFirst200([baselineExe], dir, { PORT: String(bport) }, bport));
  rmSync(dir, { recursive: true, force: true });
}
// Warm data dir: second start of the same instance (database exists already).
const warmDir = mkdtempSync(join(work, "warm-"));
const warmTimes: number[] = [];
for (let i = 0; i < runs; i++) {
  const port = await freePort();
  warmTimes.push(await timeToFirst200([join(root, "dist/kefu")], warmDir, { KEFU_SERVER_PORT: String(port), KEFU_SERVER_HOST: "127.0.0.1", KEFU_LOG_LEVEL: "warn" }, port));
}
rmSync(work, { recursive: true, force: true });

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median_ms: +median(s).toFixed(1), p90_ms: +percentile(s, 90).toFixed(1), min_ms: +s[0].toFixed(1), runs: s.length };
};
const result = {
  machine: machineInfo(),
  target_ms: 150,
  kefu_first_start: stats(kefuTimes),
  kefu_existing_db: stats(warmTimes),
  baseline_minimal_bun_binary: stats(baseTimes),
};
const md = [
  `# Cold start (${result.machine.date})`,
  "",
  `Machine: ${result.machine.cpu}, ${result.machine.cores} cores, ${result.machine.memGiB} GB, ${result.machine.os}, Bun ${result.machine.bun}`,
  "",
  "Launch of the compiled binary → first HTTP 200 from /healthz.",
  "",
  "| what | median | p90 | min | runs |",
  "|---|---|---|---|---|",
  ...(
    [
      ["kefu, fresh data dir (creates DB, migrates, loads demo KB)", result.kefu_first_start],
      ["kefu, existing data dir", result.kefu_existing_db],
      ["baseline: minimal compiled Bun.serve", result.baseline_minimal_bun_binary],
    ] as const
  ).map(([n, s]) => `| ${n} | ${s.median_ms} ms | ${s.p90_ms} ms | ${s.min_ms} ms | ${s.runs} |`),
  "",
  `Target: under ${result.target_ms} ms (the product we replace claims 300 ms).`,
].join("\n");
const files = await writeResult("cold-start", result, md);
console.log(md);
console.log(`\nwrote ${files.join(", ")}`);
