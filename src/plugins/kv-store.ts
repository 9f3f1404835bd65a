import type { Sql } from "../storage/sql";

/** Keys and values a plugin may store: enough for sample tables and flows, not a dumping ground. */
export const KV_LIMITS = { keyChars: 200, valueBytes: 64 * 1024, list: 1000 };

/** The least string above every string starting with `prefix`, in code point order; null when there is none (no bound). */
export function successor(prefix: string): string | null {
  const cps = [...prefix].map((c) => c.codePointAt(0)!);
  while (cps.length) {
    const last = cps.pop()!;
    if (last < 0x10ffff) {
      const next = last + 1 === 0xd800 ? 0xe000 : last + 1; // surrogates are no characters
      return String.fromCodePoint(...cps, next);
    }
  }
  return null;
}

/** The per-plugin key/value store behind `ctx.kv` (table plugin_kv). Keys are checked; values are JSON. */
export interface KvStore {
  /** The value, or null (none, or expired: then deleted). */
  get(plugin: string, key: unknown): Promise<unknown>;
  /** `ttlS`: seconds until it expires (null or 0: never). */
  set(plugin: string, key: unknown, value: unknown, ttlS: number | null): Promise<void>;
  /** True when there was a value. */
  delete(plugin: string, key: unknown): Promise<boolean>;
  /** Live keys starting with `prefix`, in key order, at most `limit` (1-1000, default 100). */
  list(plugin: string, prefix: unknown, limit: unknown): Promise<{ key: string; value: unknown }[]>;
}

const PUT =
  "INSERT INTO plugin_kv (plugin, key, value, expires_at, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, updated_at = excluded.updated_at";
const DELETE = "DELETE FROM plugin_kv WHERE plugin = ? AND key = ?";

export function createKvStore(sql: Sql, now: () => number = Date.now): KvStore {
  // Keys with a prefix are the range [prefix, the prefix's successor): keys compare as UTF-8 bytes, which
  // is code point order (`prefix + '\uffff'` as the bound missed keys whose next character is an emoji).
  // PostgreSQL compares text by its collation unless told otherwise: COLLATE "C" is byte (code point) order.
  const key = sql.dialect === "postgres" ? 'key COLLATE "C"' : "key";
  const LIST_FROM = `SELECT key, value FROM plugin_kv WHERE plugin = ? AND ${key} >= ? AND (expires_at IS NULL OR expires_at > ?)`;
  const LIST_RANGE = `SELECT key, value FROM plugin_kv WHERE plugin = ? AND ${key} >= ? AND ${key} < ? AND (expires_at IS NULL OR expires_at > ?)`;
  const ORDER = `ORDER BY ${key} LIMIT ?`;
  const checkKey = (key: unknown): string => {
    if (typeof key !== "string" || key.length === 0 || key.length > KV_LIMITS.keyChars) throw new Error(`kv keys are strings of 1-${KV_LIMITS.keyChars} characters`);
    return key;
  };
  return {
    async get(plugin, key) {
      const row = await sql.get<{ value: string; expires_at: number | null }>("SELECT value, expires_at FROM plugin_kv WHERE plugin = ? AND key = ?", [plugin, checkKey(key)]);
      if (!row) return null;
      if (row.expires_at !== null && row.expires_at <= now()) {
        await sql.run(`${DELETE} AND expires_at = ?`, [plugin, key as string, row.expires_at]);
        return null;
      }
      return JSON.parse(row.value);
    },
    async set(plugin, key, value, ttlS) {
      const text = JSON.stringify(value ?? null);
      if (Buffer.byteLength(text) > KV_LIMITS.valueBytes) throw new Error(`kv values are at most ${KV_LIMITS.valueBytes} bytes of JSON`);
      const t = now();
      await sql.run(PUT, [plugin, checkKey(key), text, ttlS && ttlS > 0 ? t + ttlS * 1000 : null, t]);
    },
    async delete(plugin, key) {
      return (await sql.run(DELETE, [plugin, checkKey(key)])).changes > 0;
    },
    async list(plugin, prefix, limit) {
      const p = typeof prefix === "string" ? prefix : "";
      const t = now();
      await sql.run("DELETE FROM plugin_kv WHERE plugin = ? AND expires_at IS NOT NULL AND expires_at <= ?", [plugin, t]);
      const n = Math.max(1, Math.min(KV_LIMITS.list, Number(limit) || 100));
      const end = successor(p);
      const rows =
        end === null
          ? await sql.all<{ key: string; value: string }>(`${LIST_FROM} ${ORDER}`, [plugin, p, t, n])
          : await sql.all<{ key: string; value: string }>(`${LIST_RANGE} ${ORDER}`, [plugin, p, end, t, n]);
      return rows.map((r) => ({ key: r.key, value: JSON.parse(r.value) }));
    },
  };
}
