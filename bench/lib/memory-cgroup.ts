/**
 * A memory cgroup for one server process, so a scenario can run kefu the way an operator bounds it
 * (systemd `MemoryMax=`, `docker run -m`): Bun sizes its garbage collector to the limit of the process's own
 * cgroup (`process.constrainedMemory()`, read at start-up), so the same load runs in less memory.
 *
 * Made beside this process, not at the hierarchy's root, so the server stays inside whatever bounds the caller
 * (CI, a session's cgroup): cgroup v1, a child of this process's memory cgroup (`memory.limit_in_bytes`; the
 * parent's limit still applies); cgroup v2, a sibling of this process's cgroup (the no-internal-processes rule
 * keeps a cgroup with processes from having children with controllers), when the parent already delegates the
 * memory controller (nothing is written to a parent's `cgroup.subtree_control`). Needs write access there
 * (root, or a delegated subtree); without it `createMemoryLimit` says why and callers skip.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ownCgroups } from "../../src/platform/memory-limit";

export interface MemoryLimit {
  mib: number;
  /** "v1" or "v2". */
  version: string;
  /** The file a process writes its pid to, to join (before it starts: the limit is read at start-up). */
  procsFile: string;
  /** Times the limit was hit (v1 `memory.failcnt`, v2 `max` in `memory.events`). */
  limitHits(): number | null;
  /** Processes the kernel's OOM killer ended in the cgroup. */
  oomKills(): number | null;
  /** Removes the cgroup (once its processes have exited; a cgroup with processes stays). */
  remove(): void;
}

const V2_ROOT = "/sys/fs/cgroup";
const V1_ROOT = "/sys/fs/cgroup/memory";

const counter = (file: string, key: string) => {
  try {
    const m = new RegExp(`^${key} (\\d+)`, "m").exec(readFileSync(file, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
};

const number = (file: string) => {
  try {
    return Number(readFileSync(file, "utf8").trim());
  } catch {
    return null;
  }
};

let made = 0;

export function createMemoryLimit(mib: number): MemoryLimit | { error: string } {
  if (!Number.isInteger(mib) || mib <= 0) return { error: `not a size in MiB: ${mib}` };
  const name = `kefu-bench-${process.pid}-${Date.now()}-${made++}`;
  const bytes = String(mib * 2 ** 20);
  const make = (version: string, parent: string, limitFile: string, hits: (dir: string) => number | null, ooms: (dir: string) => number | null): MemoryLimit => {
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
      oomKills: () => ooms(dir),
      remove: () => {
        try {
          rmdirSync(dir);
        } catch {
          // a process still in it, or already gone
        }
      },
    };
  };
  const errors: string[] = [];
  const { v1, v2 } = ownCgroups();
  if (v1 !== null && existsSync(join(V1_ROOT, "memory.limit_in_bytes"))) {
    try {
      return make("v1", join(V1_ROOT, v1), "memory.limit_in_bytes", (dir) => number(join(dir, "memory.failcnt")), (dir) => counter(join(dir, "memory.oom_control"), "oom_kill"));
    } catch (e) {
      errors.push(`cgroup v1 beside ${v1}: ${(e as Error).message}`);
    }
  }
  if (v2 !== null && existsSync(join(V2_ROOT, "cgroup.controllers"))) {
    const parent = join(V2_ROOT, dirname(v2));
    try {
      if (!readFileSync(join(parent, "cgroup.subtree_control"), "utf8").split(/\s+/).includes("memory")) throw new Error(`${parent} does not delegate the memory controller`);
      return make("v2", parent, "memory.max", (dir) => counter(join(dir, "memory.events"), "max"), (dir) => counter(join(dir, "memory.events"), "oom_kill"));
    } catch (e) {
      errors.push(`cgroup v2 beside ${v2}: ${(e as Error).message}`);
    }
  }
  return { error: errors.length ? errors.join("; ") : "no memory cgroup hierarchy under /sys/fs/cgroup" };
}

/** Null when a memory cgroup can be made here (one is made and removed at once), else why not. */
export function memoryLimitUnavailable(): string | null {
  const probe = createMemoryLimit(64);
  if ("error" in probe) return probe.error;
  probe.remove();
  return null;
}
