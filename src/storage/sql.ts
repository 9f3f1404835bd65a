/**
 * The one async SQL interface every shared store is written against. Two drivers implement it:
 * SQLite (`./sqlite-driver.ts`, the embedded default; synchronous underneath, so its promises are
 * already settled) and PostgreSQL (`./postgres/driver.ts`, cluster mode). Stores keep ONE set of SQL,
 * written in the SQLite dialect with `?` / `?N` placeholders; the PostgreSQL driver rewrites the
 * placeholders, and the few constructs that differ branch on `dialect` (see `dialectOf` helpers below).
 * One set of SQL means the two backends cannot drift apart; the store contract suite runs on both.
 */
export type SqlValue = string | number | null | Uint8Array;
export type Dialect = "sqlite" | "postgres";

export interface SqlRunResult {
  /** Rows inserted, updated or deleted. */
  changes: number;
}

export interface Sql {
  readonly dialect: Dialect;
  /** The first row, or null. Integer columns come back as numbers on both drivers. */
  get<T>(sql: string, params?: SqlValue[]): Promise<T | null>;
  all<T>(sql: string, params?: SqlValue[]): Promise<T[]>;
  run(sql: string, params?: SqlValue[]): Promise<SqlRunResult>;
  /**
   * Runs `fn` in one transaction (SQLite: BEGIN IMMEDIATE). Every query made through this Sql while
   * `fn` runs, however deep in the call stack, joins the transaction (async context); a nested call
   * joins the outer one. A throw rolls everything back and rethrows. `fn` must only do storage work:
   * on SQLite the transaction holds the one connection until it ends.
   */
  transaction<T>(fn: () => Promise<T> | T): Promise<T>;
  /**
   * A durable write job: the promise resolves after `fn`'s writes committed (with synchronous=FULL: after
   * the fsync), and a throwing `fn` rejects only its own promise with none of its writes kept. SQLite: group
   * commit — the jobs of one event-loop turn share one transaction (a savepoint each), one fsync for all;
   * a failed commit rejects every job of it. PostgreSQL: each job is a transaction of its own (the server
   * groups concurrent WAL flushes itself; a shared transaction would hold every job's row locks until the
   * slowest ended), so jobs of a turn may commit in any order. Inside a transaction or another job, `fn`
   * simply runs in it.
   */
  batch<T>(fn: () => Promise<T> | T): Promise<T>;
  close(): Promise<void>;
}

/** A unique or primary-key constraint failed (either driver). */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: unknown; errno?: unknown } | null;
  if (!e || typeof e !== "object") return false;
  if (typeof e.code === "string" && (e.code === "SQLITE_CONSTRAINT_UNIQUE" || e.code === "SQLITE_CONSTRAINT_PRIMARYKEY")) return true;
  return e.errno === "23505" || e.code === "23505";
}
