import { cpus, freemem, platform, release, totalmem } from "node:os";

/** What a benchmark ran on, written next to every result. */
export function machineInfo() {
  const c = cpus();
  return {
    date: new Date().toISOString(),
    cpu: c[0]?.model ?? "unknown",
    cores: c.length,
    mem_gb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    free_mem_gb: Math.round((freemem() / 2 ** 30) * 10) / 10,
    os: `${platform()} ${release()}`,
    bun: Bun.version,
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);

/** Writes bench/results/<name>-<date>.json and .md; returns the paths. */
export async function writeResult(name: string, data: Record<string, unknown>, markdown: string) {
  const day = new Date().toISOString().slice(0, 10);
  const base = new URL(`../results/${name}-${day}`, import.meta.url).pathname;
  await Bun.write(`${base}.json`, JSON.stringify(data, null, 2) + "\n");
  await Bun.write(`${base}.md`, markdown + "\n");
  return [`${base}.json`, `${base}.md`];
}
