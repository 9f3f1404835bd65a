import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inheritedMemoryLimitBytes } from "./memory-limit";

// The cgroup files as the kernel lays them out, in a temporary directory standing in for /sys/fs/cgroup.
const root = mkdtempSync(join(tmpdir(), "kefu-cgroup-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const MiB = 2 ** 20;
const write = (path: string, text: string) => {
  mkdirSync(join(root, path, ".."), { recursive: true });
  writeFileSync(join(root, path), text);
};

describe("inheritedMemoryLimitBytes", () => {
  test("cgroup v1: the hierarchical limit of memory.stat (a parent's limit over an unlimited child)", () => {
    write("v1/memory/slice/kefu/memory.stat", `cache 0\nhierarchical_memory_limit ${300 * MiB}\nhierarchical_memsw_limit 9223372036854771712\n`);
    write("v1/self", "5:pids:/slice/kefu\n4:memory:/slice/kefu\n0::/\n");
    expect(inheritedMemoryLimitBytes(join(root, "v1"), join(root, "v1/self"))).toBe(300 * MiB);
    write("v1/memory/slice/kefu/memory.stat", "hierarchical_memory_limit 9223372036854771712\n");
    expect(inheritedMemoryLimitBytes(join(root, "v1"), join(root, "v1/self"))).toBeNull();
  });

  test("cgroup v2: the lowest memory.max from the process's cgroup up to the root", () => {
    write("v2/app.slice/memory.max", `${400 * MiB}\n`);
    write("v2/app.slice/kefu.service/memory.max", "max\n");
    write("v2/self", "0::/app.slice/kefu.service\n");
    expect(inheritedMemoryLimitBytes(join(root, "v2"), join(root, "v2/self"))).toBe(400 * MiB);
    write("v2/app.slice/kefu.service/memory.max", `${200 * MiB}\n`);
    expect(inheritedMemoryLimitBytes(join(root, "v2"), join(root, "v2/self"))).toBe(200 * MiB);
    write("v2/app.slice/memory.max", "max\n");
    write("v2/app.slice/kefu.service/memory.max", "max\n");
    expect(inheritedMemoryLimitBytes(join(root, "v2"), join(root, "v2/self"))).toBeNull();
  });

  test("unreadable or missing files: null, never a throw", () => {
    expect(inheritedMemoryLimitBytes(join(root, "nothing"), join(root, "nothing/self"))).toBeNull();
    write("v1b/self", "4:memory:/gone\n");
    expect(inheritedMemoryLimitBytes(join(root, "v1b"), join(root, "v1b/self"))).toBeNull();
  });
});
