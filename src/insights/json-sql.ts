import type { Sql } from "../storage/sql";

/**
 * The SQL of one text value inside a JSON column (`meta`, `$.agent.name`), in the store's dialect: json_extract on
 * SQLite, the jsonb path operator on PostgreSQL (the cast serves a TEXT column and a jsonb one alike).
 */
export function jsonText(sql: Pick<Sql, "dialect">, column: string, ...path: string[]): string {
  return sql.dialect === "postgres" ? `(${column}::jsonb #>> '{${path.join(",")}}')` : `json_extract(${column}, '$.${path.join(".")}')`;
}
