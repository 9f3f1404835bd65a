/**
 * RFC 4180 CSV reading and writing. The reader reports the line each record
 * starts on and stops at the first structural error (an unterminated or stray
 * quote), because every later record would be misaligned.
 */

export interface CsvRecord {
  /** 1-based line number where the record starts. */
  line: number;
  fields: string[];
}

export interface CsvParseResult {
  records: CsvRecord[];
  error?: { line: number; message: string };
}

export interface CsvParseOptions {
  /** Longest accepted field in characters (default 1,000,000); longer ones are an error. */
  maxFieldChars?: number;
}

export function parseCsv(text: string, options: CsvParseOptions = {}): CsvParseResult {
  const maxField = options.maxFieldChars ?? 1_000_000;
  const records: CsvRecord[] = [];
  const src = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const n = src.length;
  let i = 0;
  let line = 1;
  while (i < n) {
    const startLine = line;
    const fields: string[] = [];
    for (;;) {
      let value: string;
      if (src[i] === '"') {
        const fieldLine = line;
        i++;
        let buf = "";
        let closed = false;
        while (i < n) {
          const q = src.indexOf('"', i);
          if (q < 0) break;
          const chunk = src.slice(i, q);
          buf += chunk;
          line += countNewlines(chunk);
          if (src[q + 1] === '"') {
            buf += '"';
            i = q + 2;
            continue;
          }
          i = q + 1;
          closed = true;
          break;
        }
        if (!closed) return { records, error: { line: fieldLine, message: "unterminated quoted field" } };
        if (i < n && src[i] !== "," && src[i] !== "\n" && src[i] !== "\r") {
          return { records, error: { line, message: "unexpected character after closing quote" } };
        }
        value = buf;
      } else {
        let j = i;
        while (j < n && src[j] !== "," && src[j] !== "\n" && src[j] !== "\r") j++;
        value = src.slice(i, j);
        if (value.includes('"')) return { records, error: { line, message: "quote inside an unquoted field" } };
        i = j;
      }
      if (value.length > maxField) {
        return { records, error: { line, message: `field longer than ${maxField} characters` } };
      }
      fields.push(value);
      if (src[i] === ",") {
        i++;
        continue;
      }
      break;
    }
    if (src[i] === "\r") i++;
    if (src[i] === "\n") i++;
    line++;
    if (!(fields.length === 1 && fields[0] === "")) records.push({ line: startLine, fields });
  }
  return { records };
}

function countNewlines(s: string): number {
  let c = 0;
  for (let k = s.indexOf("\n"); k >= 0; k = s.indexOf("\n", k + 1)) c++;
  return c;
}

/** Quotes a field when it holds a comma, quote, CR or LF (RFC 4180). */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export function formatCsv(rows: string[][]): string {
  return rows.map((r) => r.map(csvField).join(",")).join("\r\n") + "\r\n";
}

/**
 * A cell an office suite would run as a formula (`=`, `+`, `-`, `@`, tab or CR first: "CSV injection") gets a
 * leading apostrophe, which makes it text; one already starting with apostrophes before such a character gets one
 * more, so `unquoteFormula` gives back exactly the value. Export writes cells through this, import reads them back.
 */
export function quoteFormula(value: string): string {
  return /^'*[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

export function unquoteFormula(value: string): string {
  return /^'+[=+\-@\t\r]/.test(value) ? value.slice(1) : value;
}
