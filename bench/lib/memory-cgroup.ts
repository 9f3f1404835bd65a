/**
 * A memory cgroup for one server process, so a scenario can run kefu the way an operator bounds it
 * (systemd `MemoryMax=`, `docker run -m`): Bun sizes its garbage collector to the limit it finds
 * (`process.constrainedMemory()`), so the same load runs in less memory. cgroup v2 (`memory.max` under
 * /sys/fs/cgroup, the memory controller enabled for children) or v1 (`memory.limit_in_bytes` under
 * /sys/fs/cgroup/memory). Needs write access to the hierarchy (root, or a delegated subtree); without it
 * `createMemoryLimit` says why and the scenario skips that pass.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface MemoryLimit {
  mib: number;
  /** "v1" or "v2". */
  version: string;
  /** The file a process writes its pid to, to join (`echo $$ > …` before exec). */
  procsFile: string;
  /** Times the limit was hit (the kernel reclaimed or refused memory), where the hierarchy reports it. */
  limitHits(): number | null;
  /** Removes the cgroup (once its process has exited). */
  remove(): void;
}

export function createMemoryLimit(mib: number): MemoryLimit | { error: string } {
  const name = `kefu-bench-${process.pid}-${Date.now()}`;
  const bytes = String(mib * 2 ** 20);
  const attempt = (version: string, parent: string, limitFile: string, hits: (dir: string) => number | null): MemoryLimit => {
    const dir = join(parent, name);
    mkdirSync(dir);
    try {
      writeFileSync(join(dir, limitFile), bytes);
    } catch (e) {
      rmdirSync(dir);
      throw e;
    }
    return {
      mib,
      version,
      procsFile: join(dir, "cgroup.procs"),
      limitHits: () => hits(dir),
      remove: () => {
        try {
          rmdirSync(dir);
        } catch {
          // still has a process (it is killed later by the caller) or already gone
        }
      },
    };
  };
  const v2 = "/sys/fs/cgroup";
  const errors: string[] = [];
  if (existsSync(join(v2, "cgroup.controllers"))) {
    try {
      if (!readFileSync(join(v2, "cgroup.subtree_control"), "utf8").includes("memory")) writeFileSync(join(v2, "cgroup.subtree_control"), "+memory");
      return attempt("v2", v2, "memory.max", (dir) => {
        const m = /^max (\d+)/m.exec(readFileSync(join(dir, "memory.events"), "utf8"));
        return m ? Number(m[1]) : null;
      });
    } catch (e) {
      errors.push(`cgroup v2: ${(e as Error).message}`);
    }
  }
  const v1 = "/sys/fs/cgroup/memory";
  if (existsSync(join(v1, "memory.limit_in_bytes"))) {
    try {
      return attempt("v1", v1, "memory.limit_in_bytes", (dir) => Number(readFileSync(join(dir, "memory.failcnt"), "utf8")));
    } catch (e) {
      errors.push(`cgroup v1: ${(e as Error).message}`);
    }
  }
  return { error: errors.length ? errors.join("; ") : "no writable memory cgroup hierarchy under /sys/fs/cgroup" };
}
