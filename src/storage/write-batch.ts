import type { Database } from "bun:sqlite";

/**
 * Group commit. With synchronous=FULL every transaction costs an fsync (milliseconds on
 * most disks), so writes that arrive in the same event-loop turn are committed together
 * in one transaction: one fsync for all of them. Each job runs in order inside its own
 * savepoint-free slot: a job that throws only rejects its own promise. Callers await
 * the promise before acknowledging anything, so nothing is acknowledged before it is
 * on disk.
 */
export function createWriteBatcher(db: Database) {
  type Job = { run: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void };
  let queue: Job[] = [];
  let scheduled = false;

  const flush = () => {
    scheduled = false;
    const jobs = queue;
    queue = [];
    const results: { ok: boolean; value: unknown }[] = [];
    try {
      db.transaction(() => {
        for (const job of jobs) {
          try {
            results.push({ ok: true, value: job.run() });
          } catch (err) {
            results.push({ ok: false, value: err });
          }
        }
      }).immediate(); // IMMEDIATE: the write lock first, so another process's write (a kefu command) cannot fail the batch with SQLITE_BUSY (snapshot)
    } catch (err) {
      // The commit itself failed (disk full, I/O error): nothing of this batch is stored.
      for (const job of jobs) job.reject(err);
      return;
    }
    jobs.forEach((job, i) => (results[i]!.ok ? job.resolve(results[i]!.value) : job.reject(results[i]!.value)));
  };

  return {
    /** Runs `run` inside the next group transaction; resolves after that transaction committed. */
    write<T>(run: () => T): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ run, resolve: resolve as (v: unknown) => void, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
  };
}
export type WriteBatcher = ReturnType<typeof createWriteBatcher>;
