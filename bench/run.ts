/**
 * Every benchmark, one after another: `npm run bench` (or `bun bench/run.ts [name ...] [options]`).
 * Each writes its own result files (machine, date, same-run baseline) to bench/results/; the load
 * scenarios (sessions, throughput, echo-baseline, rest, overload — bench/load/README.md) also rebuild
 * bench/results/latest.md.
 *
 *   bun bench/run.ts sessions                 one scenario by name (several names: in this order)
 *   bun bench/run.ts --quick                  the load scenarios at small sizes (~2 min), results to
 *                                             $TMPDIR/kefu-bench-quick/, nothing committed is replaced
 *   bun bench/run.ts throughput --clients 3   options after the names go to every load scenario
 * The binary is built once (npm run build) for all load scenarios of one invocation.
 */
const all: Record<string, string[]> = {
  sessions: ["bench/load/sessions.ts"],
  throughput: ["bench/load/throughput.ts"],
  "echo-baseline": ["bench/load/throughput.ts", "--echo-baseline"],
  rest: ["bench/load/rest.ts"],
  overload: ["bench/load/overload.ts"],
  "cold-start": ["bench/cold-start.ts"],
  "msg-cost": ["bench/msg-cost.ts", "--result"],
  eval: ["bench/eval.ts"],
  retrieval: ["bench/retrieval.ts"],
  "ws-load": ["bench/ws-load.ts"],
  "llm-chain": ["bench/fake-llm/llm-chain.ts"],
  "llm-path": ["bench/llm-path.ts"],
  flood: ["bench/flood.ts"],
  cluster: ["bench/cluster.ts"],
};
const load = new Set(["sessions", "throughput", "echo-baseline", "rest", "overload"]);

const args = Bun.argv.slice(2);
const firstOption = args.findIndex((a) => a.startsWith("-"));
const chosen = firstOption < 0 ? args : args.slice(0, firstOption);
const passed = firstOption < 0 ? [] : args.slice(firstOption);
const quick = passed.includes("--quick");
for (const name of chosen) if (!all[name]) throw new Error(`unknown benchmark ${name}; one of ${Object.keys(all).join(", ")}`);
const root = `${import.meta.dir}/..`;
// --quick alone: the load scenarios but echo-baseline (throughput measures the same baselines).
const names = Object.keys(all).filter((n) => (chosen.length ? chosen.includes(n) : !quick || (load.has(n) && n !== "echo-baseline")));

let built = passed.includes("--no-build");
if (names.some((n) => load.has(n)) && !built) {
  console.log("building dist/kefu (npm run build) ...");
  const b = Bun.spawnSync([process.execPath, "scripts/build.ts"], { cwd: root, stdout: "ignore", stderr: "pipe" });
  built = b.exitCode === 0;
  // Each scenario then tries again and, failing too, runs kefu from source with a note.
  if (!built) console.log(`build failed:\n${b.stderr.toString().trim()}`);
}
const failed: string[] = [];
const t0 = performance.now();
for (const name of names) {
  console.log(`\n=== ${name} ===`);
  const extra = load.has(name) ? [...passed.filter((a) => a !== "--no-build"), ...(built ? ["--no-build"] : [])] : [];
  const t = performance.now();
  const p = Bun.spawnSync([process.execPath, ...all[name], ...extra], { cwd: root, stdout: "inherit", stderr: "inherit" });
  console.log(`=== ${name}: ${p.exitCode === 0 ? "done" : "FAILED"} in ${Math.round((performance.now() - t) / 1000)} s ===`);
  if (p.exitCode !== 0) failed.push(name);
}
console.log(`\nall done in ${Math.round((performance.now() - t0) / 1000)} s`);
if (failed.length) {
  console.error(`failed: ${failed.join(", ")}`);
  process.exit(1);
}
