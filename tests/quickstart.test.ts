import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "..");
const dataDir = mkdtempSync(join(tmpdir(), "kefu-quickstart-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/**
 * The README's first command after install: `npm start` serves /healthz on :8080 with the demo
 * knowledge in the database. The data dir is redirected so a developer's ./data is left alone.
 */
test("npm start serves /healthz on port 8080 and loads the demo knowledge base", async () => {
  const probe = await fetch("http://127.0.0.1:8080/healthz").catch(() => null);
  expect(probe, "port 8080 is already taken on this machine; stop whatever listens there").toBeNull();

  const proc = Bun.spawn(["npm", "start", "--silent"], {
    cwd: root,
    env: { ...process.env, KEFU_STORAGE_DIR: dataDir, KEFU_LOG_LEVEL: "warn" },
    stdout: "pipe",
    stderr: "pipe",
    // Own process group: npm does not pass SIGTERM on to the server it started.
    detached: true,
  });
  try {
    let health: Response | null = null;
    const deadline = Date.now() + 30_000;
    while (!health && Date.now() < deadline && proc.exitCode === null) {
      health = await fetch("http://127.0.0.1:8080/healthz").catch(() => null);
      if (!health) await Bun.sleep(50);
    }
    expect(health?.status, await (proc.exitCode !== null ? new Response(proc.stderr).text() : Promise.resolve("still running"))).toBe(200);
    expect(((await health!.json()) as { db: string }).db).toBe("ok");
  } finally {
    process.kill(-proc.pid, "SIGTERM");
    await proc.exited;
  }
  const db = new Database(join(dataDir, "kefu.db"), { readonly: true });
  const demo = db.query<{ n: number }, []>("SELECT count(*) AS n FROM kb_entries WHERE id LIKE 'demo-%'").get()!.n;
  db.close();
  expect(demo).toBeGreaterThanOrEqual(30);
});
