import type { Database } from "bun:sqlite";
import { open, type FileHandle } from "node:fs/promises";

/**
 * Makes committed WAL frames durable off the event loop (issue 13). With `synchronous = FULL` every COMMIT
 * fsyncs the WAL inside SQLite, on the thread that runs it: the event loop, blocked ~0.2–0.5 ms per commit
 * (a third of its time under load). The driver commits its transactions at `synchronous = NORMAL` instead (the
 * frames reach the OS, not the disk) and resolves them only after `durable()`: an fdatasync of the WAL file on
 * the runtime's I/O threads. Whatever was committed before `durable()` was called is on disk when it resolves,
 * so an acknowledgement still means "survives power loss", as with FULL.
 *
 * Concurrent callers share syncs: at most one fdatasync runs, and callers that arrive while it runs share the
 * next one (their frames may have missed the running one). fsync acts on the file, not the descriptor, so our
 * own read-only handle on `<db>-wal` covers what SQLite wrote through its own. The handle is opened for each
 * sync and closed after it (two cheap syscalls on the I/O thread, once per group of commits): nothing is left
 * open by a driver nobody closes (a CLI command, a test), and Bun fails a FileHandle closed by the GC.
 */
export interface WalSync {
  durable(): Promise<void>;
  close(): Promise<void>;
}

/** null when the database has no WAL file to sync (in memory, or not in WAL mode): commits stay FULL. */
export function createWalSync(db: Database, sync?: (fh: FileHandle) => Promise<void>): WalSync | null {
  const file = db.filename;
  if (!file || file === ":memory:") return null;
  const mode = db.query<{ journal_mode: string }, []>("PRAGMA journal_mode").get()?.journal_mode;
  if (mode !== "wal") return null;
  const path = `${file}-wal`;
  const flush = sync ?? ((fh: FileHandle) => fh.datasync());
  let running: Promise<void> | null = null;
  let next: Promise<void> | null = null;

  const once = async () => {
    const fh = await open(path, "r");
    try {
      await flush(fh);
    } finally {
      await fh.close();
    }
  };
  const start = (): Promise<void> => {
    running = once().finally(() => {
      running = null;
    });
    return running;
  };
  return {
    durable() {
      if (!running) return start();
      next ??= running
        .catch(() => {})
        .then(() => {
          next = null;
          return start();
        });
      return next;
    },
    /** Waits for the syncs in flight. */
    async close() {
      await Promise.allSettled([running, next]);
    },
  };
}
