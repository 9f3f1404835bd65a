/**
 * Pure parsers from import file formats to entry / document inputs. Each record
 * keeps the line it came from so reports can point at it; problems are collected,
 * not thrown, so one report lists all of them.
 */
import { tidyText } from "../../text/normalize.ts";
import { defaultEntryId } from "../engine.ts";
import type { DocumentInput, EntryInput } from "../types.ts";
import { type CsvRecord, parseCsv, unquoteFormula } from "./csv.ts";
import { readXlsxRows, XlsxError } from "./xlsx.ts";

/** `xlsx`: the text is the workbook in base64 (an upload is converted by the route). */
export type ImportFormat = "csv" | "xlsx" | "json" | "jsonl" | "markdown" | "document";

export interface ParsedRecord {
  line: number;
  entry: EntryInput;
}

export interface Rejection {
  line: number;
  error: string;
  /** The record's id, when it has one (a replace import keeps that entry rather than deleting it). */
  id?: string;
}

export interface ParseResult {
  records: ParsedRecord[];
  documents: { line: number; doc: DocumentInput }[];
  rejected: Rejection[];
  /** A problem that makes the whole file unusable (bad quoting, missing column). */
  fatal?: Rejection;
}

export interface ParseOptions {
  /** Longest accepted line / field, in characters (default 1,000,000). */
  maxLineChars?: number;
  /** Title and id for a plain document (default: first heading or file name). */
  documentTitle?: string;
  documentId?: string;
}

const HEADER_ALIASES: Record<string, "id" | "question" | "answer" | "alts" | "tags" | "enabled"> = {
  id: "id",
  编号: "id",
  question: "question",
  问题: "question",
  answer: "answer",
  答案: "answer",
  alt_questions: "alts",
  alts: "alts",
  alternatives: "alts",
  相似问题: "alts",
  相似问法: "alts",
  tags: "tags",
  标签: "tags",
  enabled: "enabled",
  启用: "enabled",
};

/** Alternatives are separated by " || " or newlines. */
export function splitAlts(value: string): string[] {
  return value
    .split(/\s\|\|\s|\r?\n/)
    .map((s) => s.trim())
    .filter(Boolean);
}

function splitTags(value: string): string[] {
  return value
    .split(/[,;|，；]/)
    .map((s) => s.trim())
    .filter(Boolean);
}

function parseEnabled(value: string | boolean | undefined): boolean | undefined | "invalid" {
  if (value === undefined || value === "") return undefined;
  if (typeof value === "boolean") return value;
  const v = value.trim().toLowerCase();
  if (["1", "true", "yes", "y", "是"].includes(v)) return true;
  if (["0", "false", "no", "n", "否"].includes(v)) return false;
  return "invalid";
}

/**
 * The id of a rejected record's entry, for a replace import to keep it: the one given, else the one its question
 * gives (as cleanEntry derives it) — most files have no id column, and a typo must not delete the entry.
 */
function keyOf(id: string | null | undefined, question: string | null | undefined): { id?: string } {
  if (id?.trim()) return { id: id.trim() };
  const q = tidyText(question ?? "");
  return q ? { id: defaultEntryId(q) } : {};
}

function checkEntry(line: number, e: EntryInput, out: ParseResult): void {
  const id = keyOf(e.id, e.question);
  if (!e.question?.trim()) out.rejected.push({ line, error: "empty question", ...id });
  else if (!e.answer?.trim()) out.rejected.push({ line, error: "empty answer", ...id });
  else out.records.push({ line, entry: e });
}

export function parseEntryCsv(text: string, options: ParseOptions = {}): ParseResult {
  const { records, error } = parseCsv(text, { maxFieldChars: options.maxLineChars ?? 1_000_000 });
  if (error) return { records: [], documents: [], rejected: [], fatal: { line: error.line, error: `CSV: ${error.message}` } };
  return parseEntryRows(records);
}

/** An Excel workbook (its first sheet), given as base64: the same columns as a CSV file, rows as lines. */
export function parseEntryXlsx(base64: string, options: ParseOptions = {}): ParseResult {
  let rows: CsvRecord[];
  try {
    rows = readXlsxRows(Buffer.from(base64, "base64"));
  } catch (err) {
    return { records: [], documents: [], rejected: [], fatal: { line: 1, error: err instanceof XlsxError ? err.message : "not a readable .xlsx file" } };
  }
  const max = options.maxLineChars ?? 1_000_000;
  const long = rows.find((r) => r.fields.some((f) => f.length > max));
  if (long) return { records: [], documents: [], rejected: [], fatal: { line: long.line, error: `field longer than ${max} characters` } };
  return parseEntryRows(rows);
}

/** Rows of fields, the first the header (CSV and XLSX). */
function parseEntryRows(records: CsvRecord[]): ParseResult {
  const out: ParseResult = { records: [], documents: [], rejected: [] };
  const header = records[0];
  if (!header) {
    out.fatal = { line: 1, error: "empty file" };
    return out;
  }
  const cols = header.fields.map((h) => HEADER_ALIASES[h.trim().toLowerCase()]);
  // `question,answer,问题`: which one is the question? (Reading the last one silently imported the wrong column.)
  const twice = cols.find((c, i) => c !== undefined && cols.indexOf(c) !== i);
  if (twice) {
    out.fatal = { line: 1, error: `two columns are "${twice === "alts" ? "alt_questions" : twice}" (header: ${header.fields.join(",")})` };
    return out;
  }
  for (const need of ["question", "answer"] as const) {
    if (!cols.includes(need)) {
      out.fatal = { line: 1, error: `missing "${need}" column (header: ${header.fields.join(",")})` };
      return out;
    }
  }
  const idColumn = cols.indexOf("id");
  for (const r of records.slice(1)) {
    const id = r.fields[idColumn]?.trim() ? { id: r.fields[idColumn]!.trim() } : {};
    if (r.fields.length !== header.fields.length) {
      out.rejected.push({ line: r.line, error: `expected ${header.fields.length} fields, found ${r.fields.length}`, ...id });
      continue;
    }
    const e: EntryInput = { question: "", answer: "" };
    let bad: string | undefined;
    cols.forEach((c, i) => {
      // The export's apostrophe before a formula-like cell (csv.ts quoteFormula), also after a trip through Excel.
      const v = unquoteFormula(r.fields[i]!);
      if (c === "id") e.id = v.trim() || undefined;
      else if (c === "question") e.question = v;
      else if (c === "answer") e.answer = v;
      else if (c === "alts") e.alts = splitAlts(v);
      else if (c === "tags") e.tags = splitTags(v);
      else if (c === "enabled") {
        const en = parseEnabled(v);
        if (en === "invalid") bad = `enabled must be true or false, got "${v}"`;
        else e.enabled = en;
      }
    });
    if (bad) out.rejected.push({ line: r.line, error: bad, ...keyOf(e.id, e.question) });
    else checkEntry(r.line, e, out);
  }
  return out;
}

function entryFromObject(line: number, o: unknown, out: ParseResult): void {
  if (typeof o !== "object" || o === null || Array.isArray(o)) {
    out.rejected.push({ line, error: "not an object" });
    return;
  }
  const r = o as Record<string, unknown>;
  const str = (k: string) => (typeof r[k] === "string" ? (r[k] as string) : r[k] === undefined ? undefined : null);
  const list = (k: string): string[] | undefined | null => {
    const v = r[k];
    if (v === undefined) return undefined;
    if (typeof v === "string") return k === "tags" ? splitTags(v) : splitAlts(v);
    if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v as string[];
    return null;
  };
  const id = r.id === undefined ? undefined : typeof r.id === "number" ? String(r.id) : str("id");
  const question = str("question") ?? str("问题");
  const answer = str("answer") ?? str("答案");
  const alts = list("alt_questions") ?? list("alts") ?? list("相似问法") ?? list("相似问题");
  const tags = list("tags");
  const enabled = parseEnabled(r.enabled as string | boolean | undefined);
  const key = keyOf(id, question);
  if (id === null) return void out.rejected.push({ line, error: "id must be a string", ...keyOf(undefined, question) });
  if (question === null || answer === null) return void out.rejected.push({ line, error: "question and answer must be strings", ...key });
  if (alts === null || tags === null) return void out.rejected.push({ line, error: "alt_questions and tags must be strings or string arrays", ...key });
  if (enabled === "invalid") return void out.rejected.push({ line, error: "enabled must be a boolean", ...key });
  checkEntry(line, { id: id ?? undefined, question: question ?? "", answer: answer ?? "", alts, tags, enabled }, out);
}

export function parseEntryJsonl(text: string, options: ParseOptions = {}): ParseResult {
  const out: ParseResult = { records: [], documents: [], rejected: [] };
  const max = options.maxLineChars ?? 1_000_000;
  text.split("\n").forEach((raw, i) => {
    const line = i + 1;
    const s = raw.trim();
    if (!s) return;
    if (s.length > max) return void out.rejected.push({ line, error: `line longer than ${max} characters` });
    let o: unknown;
    try {
      o = JSON.parse(s);
    } catch (err) {
      return void out.rejected.push({ line, error: `invalid JSON: ${(err as Error).message}` });
    }
    entryFromObject(line, o, out);
  });
  return out;
}

/** A JSON array of entries, or an object with an `entries` array. */
export function parseEntryJson(text: string, options: ParseOptions = {}): ParseResult {
  const out: ParseResult = { records: [], documents: [], rejected: [] };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    out.fatal = { line: 1, error: `invalid JSON: ${(err as Error).message}` };
    return out;
  }
  const list = Array.isArray(data) ? data : (data as { entries?: unknown })?.entries;
  if (!Array.isArray(list)) {
    out.fatal = { line: 1, error: "expected an array of entries or {\"entries\": [...]}" };
    return out;
  }
  // Line numbers of array items: each item's position in the text is unknown after
  // JSON.parse, so report the 1-based item index as the line.
  const max = options.maxLineChars ?? 1_000_000;
  list.forEach((o, i) => {
    if (JSON.stringify(o).length > max) out.rejected.push({ line: i + 1, error: `item longer than ${max} characters` });
    else entryFromObject(i + 1, o, out);
  });
  return out;
}

/**
 * Markdown FAQ: each heading is a question, the text up to the next heading of
 * the same or higher level is its answer. Lines "- alt: ..." / "相似问题: ..."
 * directly under a heading add alternative phrasings.
 */
export function parseMarkdownFaq(text: string): ParseResult {
  const out: ParseResult = { records: [], documents: [], rejected: [] };
  const lines = text.split(/\r?\n/);
  let current: { line: number; question: string; body: string[]; alts: string[] } | null = null;
  let inFence = false;
  const flush = () => {
    if (!current) return;
    const answer = current.body.join("\n").trim();
    checkEntry(current.line, { question: current.question, answer, alts: current.alts }, out);
    current = null;
  };
  lines.forEach((l, i) => {
    if (/^\s*(```|~~~)/.test(l)) inFence = !inFence;
    const h = inFence ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(l);
    if (h) {
      flush();
      current = { line: i + 1, question: h[1]!, body: [], alts: [] };
      return;
    }
    if (!current) return;
    const alt = /^\s*[-*]?\s*(?:alt|alternative|相似问题|相似问法)\s*[:：]\s*(.+)$/i.exec(l);
    if (alt && current.body.every((b) => !b.trim())) current.alts.push(...splitAlts(alt[1]!));
    else current.body.push(l);
  });
  flush();
  return out;
}

/** A plain text or Markdown document, chunked later by the document indexer. */
export function parseDocument(text: string, options: ParseOptions = {}): ParseResult {
  const out: ParseResult = { records: [], documents: [], rejected: [] };
  const body = text.trim();
  if (!body) {
    out.fatal = { line: 1, error: "empty document" };
    return out;
  }
  const heading = /^#{1,6}\s+(.+)$/m.exec(body)?.[1]?.trim();
  const title = options.documentTitle ?? heading ?? body.split("\n")[0]!.slice(0, 80);
  out.documents.push({ line: 1, doc: { id: options.documentId, title, source: options.documentTitle ?? "", text: body } });
  return out;
}

export function parseImport(text: string, format: ImportFormat, options: ParseOptions = {}): ParseResult {
  // A photo or PDF picked by mistake decodes to "text" too, and as a document the bot would quote it.
  if (format !== "xlsx" && looksBinary(text)) {
    return {
      records: [],
      documents: [],
      rejected: [],
      fatal: { line: 1, error: "not a text file (binary content): import CSV, Excel (.xlsx), JSON, JSONL, Markdown or plain text" },
    };
  }
  switch (format) {
    case "csv":
      return parseEntryCsv(text, options);
    case "xlsx":
      return parseEntryXlsx(text, options);
    case "json":
      return parseEntryJson(text, options);
    case "jsonl":
      return parseEntryJsonl(text, options);
    case "markdown":
      return parseMarkdownFaq(text);
    case "document":
      return parseDocument(text, options);
  }
}

/** A NUL, or more than 1 in 50 control characters (not tab or line breaks) or undecodable bytes, in the first 8,000. */
function looksBinary(text: string): boolean {
  const head = text.slice(0, 8000);
  if (head.includes("\0")) return true;
  const odd = head.match(/[\x01-\x08\x0B\x0C\x0E-\x1F\x7F\uFFFD]/g)?.length ?? 0;
  return odd * 50 > head.length;
}

/** Guesses the format from a file name. Markdown defaults to FAQ (headings = questions). */
export function formatFromName(name: string): ImportFormat | undefined {
  const ext = name.toLowerCase().split(".").pop();
  if (ext === "csv") return "csv";
  if (ext === "xlsx") return "xlsx";
  if (ext === "json") return "json";
  if (ext === "jsonl" || ext === "ndjson") return "jsonl";
  if (ext === "md" || ext === "markdown") return "markdown";
  if (ext === "txt") return "document";
  return undefined;
}

export const XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/** The format a request body's content type names (`text/csv`, `application/x-ndjson`, ...), if any. */
export function formatFromContentType(contentType: string | null | undefined): ImportFormat | undefined {
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  if (type === "text/csv") return "csv";
  if (type === XLSX_TYPE) return "xlsx";
  if (type === "application/json") return "json";
  if (type === "application/x-ndjson" || type === "application/jsonl" || type === "application/x-jsonlines") return "jsonl";
  if (type === "text/markdown" || type === "text/x-markdown") return "markdown";
  if (type === "text/plain") return "document";
  return undefined;
}

/**
 * The format of a text given without one, from its first characters: a JSON array or object (one object per line
 * is JSONL), a Markdown heading, a CSV header naming a question column, else a plain document.
 */
export function sniffFormat(text: string): ImportFormat {
  const s = text.replace(/^\uFEFF/, "").trimStart();
  if (s.startsWith("[")) return "json";
  if (s.startsWith("{")) {
    const first = s.split("\n", 1)[0]!.trim();
    try {
      JSON.parse(first);
      return s.trim().includes("\n") ? "jsonl" : "json";
    } catch {
      return "json";
    }
  }
  if (/^#{1,6}\s/.test(s)) return "markdown";
  const header = s.split(/\r?\n/, 1)[0]!;
  const cols = header.split(",").map((h) => HEADER_ALIASES[h.trim().replace(/^"|"$/g, "").toLowerCase()]);
  if (cols.includes("question") && cols.includes("answer")) return "csv";
  return "document";
}

/**
 * UTF-8 (a byte-order mark dropped), else GB18030 — a superset of GBK, which Chinese Excel saves CSV in; UTF-16
 * when it starts with its byte-order mark (Excel's "Unicode text", Notepad's "Unicode").
 */
export function decodeText(bytes: Uint8Array): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder("utf-16le").decode(bytes);
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder("utf-16be").decode(bytes);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return new TextDecoder("gb18030").decode(bytes);
  }
}
