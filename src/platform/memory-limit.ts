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
 * This process's cgroup paths (from /proc/self/cgroup): its v1 memory controller's, and its v2 (unified) one;
 * null where it has none.
 */
export function ownCgroups(procCgroup = "/proc/self/cgroup"): { v1: string | null; v2: string | null } {
  let v1: string | null = null;
  let v2: string | null = null;
  for (const line of readFileSync(procCgroup, "utf8").split("\n")) {
    const fields = line.split(":");
    if (fields.length < 3) continue;
    const path = fields.slice(2).join(":");
    if (fields[0] === "0" && fields[1] === "") v2 = path;
    else if (fields[1]!.split(",").includes("memory")) v1 = path;
  }
  return { v1, v2 };
}

/**
 * The lowest memory limit on the way from this process's cgroup up to the root (a slice's `MemoryMax=`, a
 * container's limit outside it), below the machine's RAM; null when there is none or the files cannot be read.
 * The kernel enforces it, but the garbage collector does not size the heap to it: a process limited only there
 * grows as if unlimited until the kernel kills it.
 */
export function inheritedMemoryLimitBytes(root = "/sys/fs/cgroup", procCgroup = "/proc/self/cgroup"): number | null {
  try {
    const { v1, v2 } = ownCgroups(procCgroup);
    const ram = totalmem();
    const below = (n: number) => (Number.isFinite(n) && n > 0 && n < ram ? n : null);
    if (v1 !== null) {
      // v1: memory.stat's hierarchical limit is the lowest limit of the cgroup and its ancestors.
      const stat = readFileSync(join(root, "memory", v1, "memory.stat"), "utf8");
      const m = /^hierarchical_memory_limit (\d+)$/m.exec(stat);
      return m ? below(Number(m[1])) : null;
    }
    if (v2 === null) return null;
    let lowest = Infinity;
    for (let dir = join(root, v2); dir.startsWith(root) && dir !== root; dir = dirname(dir)) {
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
