/** Machine description stored with every benchmark result. */
import { cpus, freemem, platform, release, totalmem } from "node:os";

export interface MachineInfo {
  cpu: string;
  cores: number;
  memGiB: number;
  freeMemGiB: number;
  os: string;
  bun: string;
  date: string;
}

export function machineInfo(): MachineInfo {
  const c = cpus();
  return {
    cpu: c[0]?.model.trim() ?? "unknown",
    cores: c.length,
    memGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    freeMemGiB: Math.round((freemem() / 2 ** 30) * 10) / 10,
    os: `${platform()} ${release()}`,
    bun: Bun.version,
    date: new Date().toISOString(),
  };
}

/** YYYY-MM-DD for result file names. */
export function today(): string {
  return new Date().toISOString().slice(0, 10);
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);

/** Writes bench/results/<name>-<date>.json and .md; returns the paths. */
export async function writeResult(name: string, data: Record<string, unknown>, markdown: string) {
  const base = new URL(`../results/${name}-${today()}`, import.meta.url).pathname;
  await Bun.write(`${base}.json`, JSON.stringify(data, null, 2) + "\n");
  await Bun.write(`${base}.md`, markdown + "\n");
  return [`${base}.json`, `${base}.md`];
}
