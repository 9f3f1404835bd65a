import { Database } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInProcessBus } from "../events/bus";
import type { KnowledgeBase } from "../kb/engine";
import { HookedEmbedder, openKb, SHOP_FAQ } from "../kb/test/helpers";
import { createLogger } from "../log/logger";
import { createSqliteSql } from "../storage/sqlite-driver";
import { createKbSync, type KbSync } from "./kb-sync";
import { applyKbSyncSchema } from "./kb-sync-schema";

/**
 * A pull racing a local write of the same entry (review of #18) — held when reviewed, kept as a guard: node B's admin saves an entry while B's sync
 * applies node A's older edit of it. B's write commits last, so it is the latest write: it must stay on B and
 * reach A, not be overwritten by the pull (and then never pushed, the shadow saying it is in step).
 */
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function cluster() {
  const dir = mkdtempSync(join(tmpdir(), "kefu-kbsync-race-"));
  const shared = new Database(join(dir, "shared.db"), { create: true, strict: true });
  const sql = createSqliteSql(shared);
  await applyKbSyncSchema(sql);
  cleanup.push(() => {
    shared.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const bus = createInProcessBus();
  const log = createLogger({ level: "silent" });
  const node = async (name: string, kb: KnowledgeBase): Promise<KbSync> => {
    const sync = createKbSync({ kb, sql, bus, log, pollMs: 60_000, watchMs: 60_000, nodeId: name });
    cleanup.push(async () => {
      await sync.stop();
      kb.close();
    });
    return sync;
  };
  return { node };
}

describe("kb sync: a pull racing a local write", () => {
  for (const kind of ["edit", "delete"] as const) {
    test(
      `B's ${kind === "edit" ? "edit" : "re-creation"} of an entry in flight while B pulls A's ${kind} of it wins on both nodes`,
      async () => {
        const { node } = await cluster();
        const kbA = await openKb();
        const embedder = new HookedEmbedder();
        const kbB = await openKb({ embedder });
        await kbA.upsert(SHOP_FAQ);
        const a = await node("a", kbA);
        const b = await node("b", kbB);
        await a.start();
        await b.start();
        expect(kbB.get("hours")?.answer).toBe("Mon–Fri 9:00–18:00.");

        // A's change reaches the shared store; B has not pulled it yet.
        const hours = SHOP_FAQ.find((e) => e.id === "hours")!;
        if (kind === "edit") await kbA.upsert([{ ...hours, answer: "A: Mon–Sat 8:00–20:00." }]);
        else await kbA.delete(["hours"]);
        await a.syncNow();

        // B's admin saves the entry; its embedding is held while B's sync pulls A's change.
        let release!: () => void;
        const held = new Promise<void>((r) => (release = r));
        let first = true;
        embedder.before = async () => {
          if (!first) return;
          first = false;
          await held;
        };
        const adminWrite = kbB.upsert([{ ...hours, answer: "B: open around the clock." }]);
        await Bun.sleep(20);
        const pull = b.syncNow();
        await Bun.sleep(100);
        expect(first).toBe(false); // the admin's write is held mid-embedding
        release();
        await adminWrite;
        await pull;
        // Both settle.
        for (let i = 0; i < 2; i++) {
          await b.syncNow();
          await a.syncNow();
        }
        expect(kbB.get("hours")?.answer).toBe("B: open around the clock.");
        expect(kbA.get("hours")?.answer).toBe("B: open around the clock.");
      },
      30_000,
    );
  }
});
