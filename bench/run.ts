/**
 * Every benchmark, one after another: `npm run bench` (or `bun bench/run.ts [name ...]`).
 * Each writes its own result files (machine, date, same-run baseline) to bench/results/.
 */
const all: Record<string, string[]> = {
  "cold-start": ["bench/cold-start.ts"],
  eval: ["bench/eval.ts"],
  retrieval: ["bench/retrieval.ts"],
  "ws-load": ["bench/ws-load.ts"],
  "llm-chain": ["bench/fake-llm/llm-chain.ts"],
  "llm-path": ["bench/llm-path.ts"],
  flood: ["bench/flood.ts"],
};

const chosen = Bun.argv.slice(2);
for (const name of chosen) if (!all[name]) throw new Error(`unknown benchmark ${name}; one of ${Object.keys(all).join(", ")}`);
const failed: string[] = [];
for (const [name, args] of Object.entries(all)) {
  if (chosen.length && !chosen.includes(name)) continue;
  console.log(`\n=== ${name} ===`);
  const p = Bun.spawnSync([process.execPath, ...args], { cwd: `${import.meta.dir}/..`, stdout: "inherit", stderr: "inherit" });
  if (p.exitCode !== 0) failed.push(name);
}
if (failed.length) {
  console.error(`\nfailed: ${failed.join(", ")}`);
  process.exit(1);
}
