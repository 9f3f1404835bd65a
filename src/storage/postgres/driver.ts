import { SQL } from "bun";
import { AsyncLocalStorage } from "node:async_hooks";
import { KefuError } from "../../errors/kefu-error";
import type { Logger } from "../../log/logger";
import type { Sql, SqlRunResult, SqlValue } from "../sql";
import { rewritePlaceholders } from "./placeholders";

/**
 * The cluster driver: the `Sql` interface over PostgreSQL with Bun's built-in client (`Bun.SQL`: no
 * dependency, pooled, prepared statements cached per connection, binary-safe bytea).
 *
 * - Placeholders: the stores' SQLite-dialect `?` / `?N` are rewritten to `$N` (cached by SQL text).
 * - Values: BIGINT (ids, ms timestamps, count(*), sum()) comes back as BigInt (`bigint: true`, so nothing
 *   above 2^31 is silently rounded by the wire decoder) and is turned into a Number here; bytea comes back
 *   as a plain Uint8Array; json/jsonb values (a PG branch selecting `x::jsonb -> 'k'`) come back as their
 *   JSON text, like SQLite's json_extract of an object; timestamps as ms numbers; NUMERIC (what sum() of a
 *   BIGINT and avg() return) as a Number, found by the result's column types.
 * - Text parameters: PostgreSQL's text cannot hold U+0000 (SQLite's can); a NUL in a string parameter is
 *   sent as U+FFFD, so a message or reply with one is stored instead of failing (and so is a copied row).
 * - Transactions: `transaction(fn)` reserves one pooled connection, and every query made while `fn` runs
 *   (found by async context) goes to it. Nested transactions are savepoints (a nested throw rolls back only
 *   its own part), run one after another. Queries made by code that outlives the transaction (a timer
 *   started inside) go to the pool again.
 * - `batch(fn)` is `fn` in a transaction of its own, many at once on the pool. PostgreSQL already flushes the
 *   WAL of concurrent commits together; one application-level transaction per event-loop turn (the SQLite
 *   driver's group commit) would hold every job's row locks until the slowest job ended and make lock cycles
 *   between batches (measured before this: 1-s deadlock_timeout stalls, ack p50 3.5 s at 80 msg/s on one
 *   node). A job PostgreSQL aborts as a deadlock's victim (40P01/40001) runs again, up to 3 times: jobs only
 *   do storage work (the batch contract), so that is safe. A plain `transaction` is not retried.
 * - Errors are PostgreSQL's, unchanged: `errno` holds the SQLSTATE ('23505' unique violation, …) — except
 *   a lost server: a refused or dropped connection (class 08, 57P01-57P03 shutdown, 53300 too many
 *   connections) and a statement, BEGIN/COMMIT or wait for a pooled connection with no answer within
 *   `queryTimeoutMs` (a paused server, a half-open link) become KefuError `storage_unavailable` (503, the
 *   original SQLSTATE in `errno`, the error as `cause`), so a request gets a clear 503 instead of a 500 or a
 *   request that never ends. A transaction whose connection failed that way is given up at once (its later
 *   statements fail without waiting again) and its connection is closed, not returned to the pool.
 */
export interface PostgresSqlOptions {
  /** postgres://user:password@host:port/database */
  url: string;
  /** Pool size. Default 10. */
  max?: number;
  /** Seconds to wait for a connection. Default 10. */
  connectionTimeout?: number;
  /** Milliseconds a statement (or the wait for a pooled connection) may go unanswered before it fails with
   *  503 storage_unavailable. Default 30000; 0 waits for ever. */
  queryTimeoutMs?: number;
  log?: Logger;
}

export interface PostgresSql extends Sql {
  readonly dialect: "postgres";
  /** The underlying pool (tests, migrate-storage's bulk copy). */
  readonly pool: SQL;
}

/** postgres://user:***@host/db — for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@]*@/, "//$1:***@");
  }
}

const RETRYABLE = new Set(["40P01", "40001"]);
const MAX_RETRIES = 3;

type Conn = Pick<SQL, "unsafe">;

interface TxContext {
  conn: Conn;
  /** root.broken: the connection failed or stopped answering; every later statement fails at once. */
  /** False once the transaction (or this savepoint) ended: late queries from it go to the pool. */
  open: boolean;
  /** Nested savepoints of this level run one after another. */
  chain: Promise<unknown>;
  root: { savepoints: number; broken?: unknown };
  /** The enclosing transaction or savepoint (code that outlives a savepoint goes on in it). */
  parent?: TxContext;
}

function convertValue(v: unknown): unknown {
  if (typeof v === "bigint") return Number(v);
  if (v === null || typeof v !== "object") return v;
  if (v instanceof Uint8Array) return v.constructor === Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  if (v instanceof Date) return v.getTime();
  return JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? Number(x) : x));
}

const NUMERIC_OID = 1700;

/** String parameters without U+0000, which PostgreSQL text cannot store (22021); the array itself when none has one. */
function textSafe(params: SqlValue[]): unknown[] {
  let out: unknown[] | undefined;
  for (let i = 0; i < params.length; i++) {
    const p = params[i];
    if (typeof p === "string" && p.includes("\0")) (out ??= params.slice())[i] = p.replaceAll("\0", "\uFFFD");
  }
  return out ?? params;
}

/** A refused, dropped or terminated connection (the server is down, restarting or out of connections). */
function isConnectionFailure(err: unknown): boolean {
  const e = err as { code?: unknown; errno?: unknown } | null;
  if (!e || typeof e !== "object") return false;
  if (typeof e.errno === "string" && (e.errno.startsWith("08") || /^57P0[123]$/.test(e.errno) || e.errno === "53300")) return true;
  return typeof e.code === "string" && /^ERR_POSTGRES_(CONNECTION_|IDLE_TIMEOUT|LIFETIME_TIMEOUT|TLS|SOCKET)/.test(e.code);
}

function unavailable(cause: unknown, why: string): KefuError {
  const errno = (cause as { errno?: unknown } | null)?.errno;
  return Object.assign(new KefuError("storage_unavailable", 503, "the shared database is unavailable; try again shortly"), {
    errno: typeof errno === "string" ? errno : undefined,
    cause,
    why,
  });
}

type Rows = Record<string, unknown>[] & { affectedRows?: number | null; count?: number; command?: string; columns?: { name: string; type: number }[] | null };

/** Rows as the stores expect them; NUMERIC columns (sum() of BIGINT, avg()) become Numbers like SQLite's. */
function convertRows<T>(rows: Rows, limit = rows.length): T[] {
  const numeric = rows.columns?.filter((c) => c.type === NUMERIC_OID).map((c) => c.name) ?? [];
  const n = Math.min(limit, rows.length);
  const out: T[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const row = rows[i]!;
    const o: Record<string, unknown> = {};
    for (const k in row) o[k] = convertValue(row[k]);
    for (const k of numeric) if (typeof o[k] === "string") o[k] = Number(o[k]);
    out[i] = o as T;
  }
  return out;
}

export async function createPostgresSql(opts: PostgresSqlOptions): Promise<PostgresSql> {
  const max = Math.max(1, Math.floor(opts.max ?? 10));
  const timeoutMs = Math.max(0, opts.queryTimeoutMs ?? 30_000);
  const log = opts.log;
  let pool: SQL;
  try {
    pool = new SQL({ url: opts.url, bigint: true, max, connectionTimeout: opts.connectionTimeout ?? 10 });
  } catch (e) {
    throw new KefuError("storage_connect_failed", 500, `storage.url ${redactUrl(opts.url)} is not a usable PostgreSQL URL: ${(e as Error).message}`);
  }
  try {
    await pool.unsafe("SELECT 1");
  } catch (e) {
    await pool.close().catch(() => {});
    const err = e as { message?: string; errno?: string; code?: string };
    const why = (err.message ?? String(e)).split(opts.url).join(redactUrl(opts.url));
    throw new KefuError("storage_connect_failed", 500, `cannot connect to PostgreSQL at storage.url ${redactUrl(opts.url)}: ${why}${err.errno ? ` (${err.errno})` : ""}; check [storage] url / KEFU_STORAGE_URL and that the server runs`);
  }

  let lastWarn = 0;
  const lost = (err: unknown, why: string) => {
    const now = Date.now();
    if (now - lastWarn > 5000) {
      lastWarn = now;
      log?.warn("storage unavailable", { why, errno: (err as { errno?: unknown })?.errno, code: (err as { code?: unknown })?.code, error: (err as Error)?.message });
    }
    return unavailable(err, why);
  };
  /** `p` with the query timeout; a lost server becomes storage_unavailable (and breaks `ctx`'s transaction). */
  const guard = <T>(p: Promise<T>, ctx?: TxContext): Promise<T> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const raced =
      timeoutMs > 0
        ? Promise.race([
            p,
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(lost(new Error(`no answer within ${timeoutMs} ms`), `PostgreSQL did not answer within ${timeoutMs} ms`)), timeoutMs);
            }),
          ])
        : p;
    return raced.then(
      (v) => {
        clearTimeout(timer);
        return v;
      },
      (err) => {
        clearTimeout(timer);
        const mapped = err instanceof KefuError ? err : isConnectionFailure(err) ? lost(err, (err as Error).message) : err;
        if (ctx && mapped instanceof KefuError && mapped.code === "storage_unavailable") ctx.root.broken ??= mapped;
        throw mapped;
      },
    );
  };
  /** A statement on a transaction's connection (fails at once when that connection was lost). */
  const onConn = (ctx: TxContext, text: string, params?: unknown[]) =>
    ctx.root.broken ? Promise.reject(ctx.root.broken) : guard(ctx.conn.unsafe(text, params) as Promise<Rows>, ctx);

  const context = new AsyncLocalStorage<TxContext>();
  const rewrites = new Map<string, string>();
  const rewrite = (sql: string): string => {
    let text = rewrites.get(sql);
    if (text === undefined) {
      text = rewritePlaceholders(sql).text;
      if (rewrites.size > 5000) rewrites.clear(); // dynamic SQL (IN lists of varying length) must not grow it forever
      rewrites.set(sql, text);
    }
    return text;
  };
  const current = (): TxContext | undefined => {
    let ctx = context.getStore();
    while (ctx && !ctx.open) ctx = ctx.parent;
    return ctx;
  };
  const query = (sql: string, params: SqlValue[]) => {
    const ctx = current();
    const values = textSafe(params);
    if (ctx) return onConn(ctx, rewrite(sql), values);
    return guard(pool.unsafe(rewrite(sql), values) as Promise<Rows>);
  };

  /** A savepoint inside `parent`; runs after the parent's earlier savepoints ended. */
  const inSavepoint = <T>(parent: TxContext, fn: () => Promise<T> | T): Promise<T> => {
    const run = async (): Promise<T> => {
      const name = `kefu_sp${++parent.root.savepoints}`;
      await onConn(parent, `SAVEPOINT ${name}`);
      const ctx: TxContext = { conn: parent.conn, open: true, chain: Promise.resolve(), root: parent.root, parent };
      try {
        const value = await context.run(ctx, async () => fn());
        ctx.open = false;
        await ctx.chain;
        await onConn(parent, `RELEASE SAVEPOINT ${name}`);
        return value;
      } catch (err) {
        ctx.open = false;
        await ctx.chain;
        if (parent.root.broken) throw err instanceof KefuError ? err : parent.root.broken;
        await onConn(parent, `ROLLBACK TO SAVEPOINT ${name}`);
        await onConn(parent, `RELEASE SAVEPOINT ${name}`);
        throw err;
      }
    };
    const p = parent.chain.then(run, run);
    parent.chain = p.catch(() => {});
    return p;
  };

  /** BEGIN … COMMIT on a reserved connection around `body`. */
  const inTransaction = async <T>(body: (ctx: TxContext) => Promise<T>): Promise<T> => {
    const reserving = pool.reserve();
    let conn: Awaited<typeof reserving>;
    try {
      conn = await guard(reserving);
    } catch (err) {
      // A connection that arrives after the wait gave up goes straight back.
      reserving.then((c) => c.release()).catch(() => {});
      throw err;
    }
    const ctx: TxContext = { conn, open: true, chain: Promise.resolve(), root: { savepoints: 0 } };
    try {
      await onConn(ctx, "BEGIN");
      let value: T;
      try {
        value = await context.run(ctx, () => body(ctx));
        ctx.open = false;
        await ctx.chain;
      } catch (err) {
        ctx.open = false;
        await ctx.chain.catch(() => {});
        if (!ctx.root.broken) await onConn(ctx, "ROLLBACK").catch(() => {});
        throw ctx.root.broken && !(err instanceof KefuError) ? ctx.root.broken : err;
      }
      const done = await onConn(ctx, "COMMIT");
      // COMMIT of a transaction that failed (an error swallowed by `fn`) answers ROLLBACK, not an error.
      if ((done as { command?: string }).command === "ROLLBACK") {
        throw Object.assign(new Error("transaction rolled back: a statement in it failed earlier"), { errno: "25P02", code: "ERR_POSTGRES_SERVER_ERROR" });
      }
      return value;
    } finally {
      ctx.open = false;
      // A lost or stuck connection is closed, never handed to the next transaction.
      if (ctx.root.broken) conn.close().catch(() => {});
      else conn.release();
    }
  };

  const running = new Set<Promise<unknown>>();
  let closed = false;
  const retryable = (err: unknown) => {
    const code = (err as { errno?: unknown } | null)?.errno;
    return typeof code === "string" && RETRYABLE.has(code);
  };
  /** A batch job: its own transaction, run again when PostgreSQL picked it as a deadlock's victim (storage work only, so it is safe to repeat). */
  const job = async <T>(fn: () => Promise<T> | T): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await inTransaction(async () => fn());
      } catch (err) {
        if (attempt >= MAX_RETRIES || !retryable(err)) throw err;
        log?.warn("storage write retried after a deadlock", { errno: (err as { errno?: string }).errno, attempt: attempt + 1 });
        await Bun.sleep(Math.random() * 20 * (attempt + 1));
      }
    }
  };

  const sql: PostgresSql = {
    dialect: "postgres",
    pool,
    async get<T>(text: string, params: SqlValue[] = []) {
      const rows = await query(text, params);
      return rows.length ? convertRows<T>(rows, 1)[0]! : null;
    },
    async all<T>(text: string, params: SqlValue[] = []) {
      return convertRows<T>(await query(text, params));
    },
    async run(text: string, params: SqlValue[] = []): Promise<SqlRunResult> {
      const res = await query(text, params);
      return { changes: Number(res.affectedRows ?? res.count ?? 0) };
    },
    transaction<T>(fn: () => Promise<T> | T): Promise<T> {
      const ctx = current();
      if (ctx) return inSavepoint(ctx, fn);
      return inTransaction(async () => fn());
    },
    batch<T>(fn: () => Promise<T> | T): Promise<T> {
      const ctx = current();
      if (ctx) return inSavepoint(ctx, fn);
      if (closed) return Promise.reject(new KefuError("storage_closed", 503, "storage is closed"));
      const p = job(fn);
      running.add(p);
      void p.finally(() => running.delete(p)).catch(() => {});
      return p;
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([...running]);
      await pool.close();
    },
  };
  return sql;
}
