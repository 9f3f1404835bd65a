import type { Sql } from "../storage/sql";

/**
 * The SQL of one text value inside a JSON column (`meta`, `$.agent.name`), in the store's dialect: json_extract on
 * SQLite, the jsonb path operator on PostgreSQL (the cast serves a TEXT column and a jsonb one alike).
 */
export function jsonText(sql: Pick<Sql, "dialect">, column: string, ...path: string[]): string {
  return sql.dialect === "postgres" ? `(${column}::jsonb #>> '{${path.join(",")}}')` : `json_extract(${column}, '$.${path.join(".")}')`;
}

/** A lone UTF-16 surrogate (half of a pair): JSON.stringify writes it as the escape \udXXX. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** `s` with U+0000 and lone surrogates as U+FFFD (the one it is when nothing needs it). */
export function wellFormedText(s: string): string {
  const clean = s.includes("\0") ? s.replaceAll("\0", "\uFFFD") : s;
  return (clean as string & { isWellFormed(): boolean }).isWellFormed() ? clean : clean.replace(LONE_SURROGATE, "\uFFFD");
}

/**
 * JSON text for a column a query looks into on both backends (chat_messages.meta, chat_conversations.tags).
 * JSON.stringify writes a NUL as \u0000 and a lone surrogate as \udXXX; SQLite's json functions read both,
 * PostgreSQL's `::jsonb` refuses them (22P05 / 22P02) — and one such row fails every query casting that
 * column (a tag filter scans them all). Strings are written with U+FFFD in their place, on both backends.
 */
export function storableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "string" ? wellFormedText(v) : v));
}

/** Stored JSON text that `::jsonb` may refuse (an escaped NUL or surrogate), re-written by storableJson; else as it is. */
export function repairedJson(text: string): string {
  if (!/\\u(0000|[dD][89a-fA-F])/.test(text)) return text;
  try {
    return storableJson(JSON.parse(text));
  } catch {
    return text;
  }
}
