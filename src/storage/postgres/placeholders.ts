/**
 * SQLite-dialect placeholders (`?`, `?NNN`) to PostgreSQL's (`$N`). Numbering follows SQLite: `?NNN` is
 * parameter NNN, a bare `?` is one more than the largest number assigned so far. Nothing inside a
 * single-quoted literal (with '' escapes, E'' strings with backslash escapes), a double-quoted identifier,
 * a dollar-quoted body ($$…$$, $tag$…$tag$), a -- line comment or a /* block comment *\/ is touched.
 * Consequence: PostgreSQL's jsonb `?`, `?|`, `?&` operators cannot be written in a PG branch; use
 * jsonb_exists(), jsonb_exists_any(), jsonb_exists_all() instead.
 */
export function rewritePlaceholders(sql: string): { text: string; count: number } {
  let out = "";
  let max = 0;
  let i = 0;
  let from = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    if (c === "'") {
      // E'…' (or e'…') allows backslash escapes.
      const escapes = i > 0 && (sql[i - 1] === "E" || sql[i - 1] === "e") && (i < 2 || !/[A-Za-z0-9_]/.test(sql[i - 2]!));
      i++;
      while (i < n) {
        if (escapes && sql[i] === "\\") {
          i += 2;
          continue;
        }
        if (sql[i] === "'") {
          if (sql[i + 1] === "'") {
            i += 2;
            continue;
          }
          break;
        }
        i++;
      }
      i++;
    } else if (c === '"') {
      i++;
      while (i < n) {
        if (sql[i] === '"') {
          if (sql[i + 1] === '"') {
            i += 2;
            continue;
          }
          break;
        }
        i++;
      }
      i++;
    } else if (c === "-" && sql[i + 1] === "-") {
      const end = sql.indexOf("\n", i);
      i = end < 0 ? n : end + 1;
    } else if (c === "/" && sql[i + 1] === "*") {
      // PostgreSQL block comments nest.
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === "/" && sql[i + 1] === "*") {
          depth++;
          i += 2;
        } else if (sql[i] === "*" && sql[i + 1] === "/") {
          depth--;
          i += 2;
        } else i++;
      }
    } else if (c === "$" && (i === 0 || !/[A-Za-z0-9_]/.test(sql[i - 1]!))) {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64));
      if (m) {
        const tag = m[0];
        const end = sql.indexOf(tag, i + tag.length);
        i = end < 0 ? n : end + tag.length;
      } else i++;
    } else if (c === "?") {
      let j = i + 1;
      while (j < n && sql.charCodeAt(j) >= 48 && sql.charCodeAt(j) <= 57) j++;
      let num: number;
      if (j > i + 1) {
        num = Number(sql.slice(i + 1, j));
        if (num < 1) throw new Error(`bad placeholder ${sql.slice(i, j)} in: ${sql}`);
      } else num = max + 1;
      if (num > max) max = num;
      out += sql.slice(from, i) + "$" + num;
      i = j;
      from = j;
    } else i++;
  }
  out += sql.slice(from);
  return { text: out, count: max };
}
