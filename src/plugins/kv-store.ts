import type { Database } from "bun:sqlite";

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

/** The per-plugin key/value store behind `ctx.kv` (table plugin_kv). */
export function createKvStore(db: Database, now: () => number = Date.now) {
  const get = db.query<{ value: string; expires_at: number | null }, [string, string]>("SELECT value, expires_at FROM plugin_kv WHERE plugin = ? AND key = ?");
  const put = db.query<null, [string, string, string, number | null, number]>(
    "INSERT INTO plugin_kv (plugin, key, value, expires_at, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at, updated_at = excluded.updated_at",
  );
  const del = db.query<null, [string, string]>("DELETE FROM plugin_kv WHERE plugin = ? AND key = ?");
  // Keys with a prefix are the range [prefix, the prefix's successor): keys compare as UTF-8 bytes, which
  // is code point order (`prefix + '\uffff'` as the bound missed keys whose next character is an emoji).
  const list = db.query<{ key: string; value: string }, [string, string, string | null, number, number]>(
    "SELECT key, value FROM plugin_kv WHERE plugin = ? AND key >= ? AND (?3 IS NULL OR key < ?3) AND (expires_at IS NULL OR expires_at > ?) ORDER BY key LIMIT ?",
  );
  const purge = db.query<null, [string, number]>("DELETE FROM plugin_kv WHERE plugin = ? AND expires_at IS NOT NULL AND expires_at <= ?");
  const checkKey = (key: unknown): string => {
    if (typeof key !== "string" || key.length === 0 || key.length > KV_LIMITS.keyChars) throw new Error(`kv keys are strings of 1-${KV_LIMITS.keyChars} characters`);
    return key;
  };
  return {
    get(plugin: string, key: unknown): unknown {
      const row = get.get(plugin, checkKey(key));
      if (!row) return null;
      if (row.expires_at !== null && row.expires_at <= now()) {
        del.run(plugin, key as string);
        return null;
      }
      return JSON.parse(row.value);
    },
    set(plugin: string, key: unknown, value: unknown, ttlS: number | null): void {
      const text = JSON.stringify(value ?? null);
      if (Buffer.byteLength(text) > KV_LIMITS.valueBytes) throw new Error(`kv values are at most ${KV_LIMITS.valueBytes} bytes of JSON`);
      const t = now();
      put.run(plugin, checkKey(key), text, ttlS && ttlS > 0 ? t + ttlS * 1000 : null, t);
    },
    delete(plugin: string, key: unknown): boolean {
      return del.run(plugin, checkKey(key)).changes > 0;
    },
    list(plugin: string, prefix: unknown, limit: unknown): { key: string; value: unknown }[] {
      const p = typeof prefix === "string" ? prefix : "";
      purge.run(plugin, now());
      const n = Math.max(1, Math.min(KV_LIMITS.list, Number(limit) || 100));
      return list.all(plugin, p, successor(p), now(), n).map((r) => ({ key: r.key, value: JSON.parse(r.value) }));
    },
  };
}
export type KvStore = ReturnType<typeof createKvStore>;
