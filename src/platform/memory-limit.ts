import { totalmem } from "node:os";

/**
 * The memory this process may use when something bounds it below the machine's RAM: its own cgroup's limit
 * (systemd `MemoryMax=`, `docker run -m`), else null. Bun sizes its garbage collector to the same figure, read
 * once at start-up, so under a limit the heap is collected sooner and the process stays well inside it
 * (docs/performance.md). A limit set only on a parent cgroup is seen by neither.
 */
export function memoryLimitBytes(): number | null {
  const limit = process.constrainedMemory?.() ?? 0;
  return limit > 0 && limit < totalmem() ? limit : null;
}
