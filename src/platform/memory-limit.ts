import { readFileSync } from "node:fs";
import { totalmem } from "node:os";
import { dirname, join } from "node:path";

/**
 * The memory this process may use when something bounds it below the machine's RAM: its own cgroup's limit
 * (systemd `MemoryMax=`, `docker run -m`), else null. Bun sizes its garbage collector to the same figure, read
 * once at start-up, so under a limit the heap is collected sooner and the process stays well inside it
 * (docs/performance.md). A limit set only on a parent cgroup is seen by neither: `inheritedMemoryLimitBytes`.
 */
export function memoryLimitBytes(): number | null {
  const limit = process.constrainedMemory?.() ?? 0;
  return limit > 0 && limit < totalmem() ? limit : null;
}

/**
 * The lowest memory limit on the way from this process's cgroup up to the root (a slice's `MemoryMax=`, a
 * container's limit outside it), below the machine's RAM; null when there is none or the files cannot be read.
 * The kernel enforces it, but the garbage collector does not size the heap to it: a process limited only there
 * grows as if unlimited until the kernel kills it.
 */
export function inheritedMemoryLimitBytes(root = "/sys/fs/cgroup", procCgroup = "/proc/self/cgroup"): number | null {
  try {
    const lines = readFileSync(procCgroup, "utf8").split("\n");
    const ram = totalmem();
    const below = (n: number) => (Number.isFinite(n) && n > 0 && n < ram ? n : null);
    const v1 = lines.map((l) => l.split(":")).find((f) => f.length >= 3 && f[1]!.split(",").includes("memory"));
    if (v1) {
      // v1: memory.stat's hierarchical limit is the lowest limit of the cgroup and its ancestors.
      const stat = readFileSync(join(root, "memory", v1.slice(2).join(":"), "memory.stat"), "utf8");
      const m = /^hierarchical_memory_limit (\d+)$/m.exec(stat);
      return m ? below(Number(m[1])) : null;
    }
    const v2 = lines.find((l) => l.startsWith("0::"));
    if (!v2) return null;
    let lowest = Infinity;
    for (let dir = join(root, v2.slice(3)); dir.startsWith(root) && dir !== root; dir = dirname(dir)) {
      try {
        const max = readFileSync(join(dir, "memory.max"), "utf8").trim();
        if (max !== "max") lowest = Math.min(lowest, Number(max));
      } catch {
        // no memory controller at this level
      }
    }
    return below(lowest);
  } catch {
    return null;
  }
}

/** What the "kefu started" line says about memory, and the warning to log first when only a parent cgroup limits it. */
export function memoryLimitReport(): { fields: { memory_limit_mb?: number }; warning: { msg: string; fields: Record<string, number> } | null } {
  const mb = (n: number) => Math.round(n / 2 ** 20);
  const own = memoryLimitBytes();
  const inherited = inheritedMemoryLimitBytes();
  const warning =
    inherited !== null && (own === null || inherited < own)
      ? {
          msg: "a parent cgroup limits memory below what the garbage collector sizes the heap to: set the limit on kefu's own unit or container (docs/operations.md, Sizing)",
          fields: { parent_limit_mb: mb(inherited), ...(own ? { own_limit_mb: mb(own) } : {}) },
        }
      : null;
  return { fields: own ? { memory_limit_mb: mb(own) } : {}, warning };
}
