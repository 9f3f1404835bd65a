import type { Database } from "bun:sqlite";
import { AsyncLocalStorage } from "node:async_hooks";
import type { Sql, SqlRunResult, SqlValue } from "./sql";
import { createWalSync, type WalSync } from "./wal-sync";

/**
 * The embedded driver: the `Sql` interface over kefu's one bun:sqlite connection. Everything underneath
 * is synchronous, so outside a transaction a call runs at once and returns a settled promise.
 *
 * A transaction (or a group-commit batch) owns the connection until it ends, across the awaits of its
 * code: SQLite has one transaction per connection, so a statement from other code that happened to run
 * between those awaits would silently become part of it (and be rolled back with it). Code running inside
 * is recognised by its async context; anything else waits until the transaction has ended.
 *
 * Transactions and batches commit without SQLite's own fsync and resolve after `walSync.durable()` (the
 * fsync on an I/O thread, src/storage/wal-sync.ts), so the event loop goes on while the disk writes. A lone
 * statement outside a transaction keeps the connection's `synchronous = FULL`: SQLite fsyncs it in place.
 */
export function createSqliteSql(db: Database, opts: { walSync?: WalSync | null } = {}): Sql {
  const wal = opts.walSync === undefined ? createWalSync(db) : opts.walSync;
  type Token = object;
  const context = new AsyncLocalStorage<Token>();
  /** The transaction that owns the connection right now. */
  let active: Token | null = null;
  const waiters: (() => void)[] = [];

  /** Held from the moment the connection is claimed until its new owner runs, so nobody slips in between. */
  const handover: Token = {};
  /** Claims the connection (synchronously when it is free: an `await` later is too late). */
  const acquire = (): Promise<void> | void => {
    if (active === null && waiters.length === 0) {
      active = handover;
      return;
    }
    return new Promise<void>((resolve) => waiters.push(resolve));
  };
  const release = () => {
    const next = waiters.shift();
    active = next ? handover : null;
    next?.();
  };
  /** Runs a statement now when the connection is free or ours; otherwise after the transaction that owns it. */
  const exec = <T>(op: () => T): Promise<T> => {
    if (active === null || context.getStore() === active) {
      try {
        return Promise.resolve(op());
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return owned(op);
  };
  /** Takes the connection for `fn` (no BEGIN: a lone statement is its own transaction). */
  const owned = async <T>(fn: () => T): Promise<T> => {
    await acquire();
    const token = {};
    active = token;
    try {
      return fn();
    } finally {
      release();
    }
  };

  // Control statements prepared once (db.run would compile them on every call: several per message). One
  // savepoint name serves every level: RELEASE and ROLLBACK TO act on the innermost savepoint of that name.
  const control = (text: string) => {
    const stmt = db.prepare(text);
    return () => void stmt.run();
  };
  const begin = control("BEGIN IMMEDIATE");
  const commit = control("COMMIT");
  const rollback = control("ROLLBACK");
  const savepoint = control("SAVEPOINT kefu_sp");
  const releaseSavepoint = control("RELEASE kefu_sp");
  const rollbackToSavepoint = control("ROLLBACK TO kefu_sp");
  const relaxed = control("PRAGMA synchronous = NORMAL");
  const strict = control("PRAGMA synchronous = FULL");

  const inSavepoint = async <T>(fn: () => Promise<T> | T): Promise<T> => {
    savepoint();
    try {
      const value = await fn();
      releaseSavepoint();
      return value;
    } catch (err) {
      rollbackToSavepoint();
      releaseSavepoint();
      throw err;
    }
  };

  /** BEGIN IMMEDIATE … COMMIT around `body`; the write lock first, so another process's write (a kefu command) cannot fail it with SQLITE_BUSY later. */
  const inTransaction = async <T>(body: (token: Token) => Promise<T>): Promise<T> => {
    await acquire();
    const token = {};
    active = token;
    let value: T;
    try {
      // The safety level can only change outside a transaction; nothing else commits on this connection
      // until we release it, so only this transaction's COMMIT skips SQLite's fsync (`wal` does it next).
      if (wal) relaxed();
      begin();
      try {
        value = await body(token);
      } catch (err) {
        rollback();
        throw err;
      }
      try {
        commit();
      } catch (err) {
        if (db.inTransaction) rollback();
        throw err;
      }
    } finally {
      if (wal && !db.inTransaction) strict();
      release();
    }
    // The connection is free for the next transaction while the disk catches up; nobody is told "stored" before.
    if (wal) await wal.durable();
    return value;
  };

  type Job = { fn: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void };
  let queue: Job[] = [];
  let scheduled = false;
  const flush = async () => {
    scheduled = false;
    const jobs = queue;
    queue = [];
    const results: { ok: boolean; value: unknown }[] = [];
    try {
      await inTransaction(async (token) => {
        for (const job of jobs) {
          try {
            results.push({ ok: true, value: await context.run(token, () => inSavepoint(job.fn)) });
          } catch (err) {
            results.push({ ok: false, value: err });
          }
        }
      });
    } catch (err) {
      // BEGIN, COMMIT or the fsync after it failed (disk full, I/O error): no job is told it is stored.
      for (const job of jobs) job.reject(err);
      return;
    }
    jobs.forEach((job, i) => (results[i]!.ok ? job.resolve(results[i]!.value) : job.reject(results[i]!.value)));
  };

  const inside = () => active !== null && context.getStore() === active;

  return {
    dialect: "sqlite",
    get<T>(sql: string, params: SqlValue[] = []) {
      return exec(() => db.query<T, SqlValue[]>(sql).get(...params) ?? null);
    },
    all<T>(sql: string, params: SqlValue[] = []) {
      return exec(() => db.query<T, SqlValue[]>(sql).all(...params));
    },
    run(sql: string, params: SqlValue[] = []) {
      return exec((): SqlRunResult => ({ changes: db.query(sql).run(...params).changes }));
    },
    transaction<T>(fn: () => Promise<T> | T): Promise<T> {
      if (inside()) return inSavepoint(fn);
      return inTransaction((token) => context.run(token, async () => fn()));
    },
    batch<T>(fn: () => Promise<T> | T): Promise<T> {
      if (inside()) return inSavepoint(fn);
      return new Promise<T>((resolve, reject) => {
        queue.push({ fn, resolve: resolve as (v: unknown) => void, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    /** Waits for running work; the connection itself belongs to whoever opened it (they checkpoint and close it). */
    async close() {
      while (scheduled || queue.length) await new Promise((r) => setTimeout(r, 1));
      await owned(() => undefined);
      await wal?.close();
    },
  };
}
