/**
 * The first worksheet of an Excel workbook (.xlsx) as rows of text, each with its row number, for the entry
 * parser the CSV import uses. Only what a knowledge-base sheet needs: a ZIP reader (stored and deflated
 * members, inflated with a size cap against ZIP bombs), shared and inline strings, numbers and booleans as
 * their text. No formulas are evaluated (their cached value is read), no dates are formatted, styles ignored.
 */
import { inflateRawSync } from "node:zlib";
import type { CsvRecord } from "./csv.ts";

/** Largest inflated size of one member (a 20 MiB workbook holds far less text than this). */
const MAX_MEMBER_BYTES = 256 * 1024 * 1024;

export class XlsxError extends Error {}

export function readXlsxRows(bytes: Uint8Array): CsvRecord[] {
  const zip = readZip(bytes);
  const text = (name: string) => {
    const m = zip.get(name);
    return m === undefined ? undefined : new TextDecoder().decode(m());
  };
  const shared = sharedStrings(text("xl/sharedStrings.xml") ?? "");
  const sheet = text(firstSheetPath(text("xl/workbook.xml"), text("xl/_rels/workbook.xml.rels")));
  if (sheet === undefined) throw new XlsxError("the workbook has no worksheet");
  const rows: CsvRecord[] = [];
  for (const [rowAttrs, rowInner] of elements(sheet, "row")) {
    const line = Number(attr(rowAttrs, "r")) || rows.length + 1;
    const fields: string[] = [];
    let next = 0;
    for (const [cellAttrs, cellInner] of elements(rowInner, "c")) {
      const ref = attr(cellAttrs, "r");
      const col = ref ? columnIndex(ref) : next;
      while (fields.length < col) fields.push("");
      fields[col] = cellText(attr(cellAttrs, "t"), cellInner, shared);
      next = col + 1;
    }
    while (fields.length && fields[fields.length - 1] === "") fields.pop();
    if (fields.length) rows.push({ line, fields });
  }
  // Rows as wide as the header, so a row with empty trailing cells is not "too few fields".
  const width = rows[0]?.fields.length ?? 0;
  for (const r of rows) while (r.fields.length < width) r.fields.push("");
  return rows;
}

function cellText(type: string | undefined, inner: string, shared: string[]): string {
  if (type === "inlineStr") return textRuns(firstElement(inner, "is") ?? "");
  const v = firstElement(inner, "v");
  if (v === undefined) return "";
  if (type === "s") return shared[Number(v)] ?? "";
  if (type === "b") return v === "1" ? "true" : "false";
  return unescapeXml(v);
}

function sharedStrings(xml: string): string[] {
  return [...elements(xml, "si")].map(([, inner]) => textRuns(inner));
}

/** The text of every `<t>` in a string item (rich text has several runs); phonetic hints (`<rPh>`) left out. */
function textRuns(xml: string): string {
  return [...elements(xml, "t", "rPh")].map(([, inner]) => unescapeXml(inner)).join("");
}

/**
 * The elements `<tag ...>inner</tag>` (or `<tag .../>`, inner "") of `xml` in order, as [attributes, inner text];
 * elements named `skip` are passed over whole. One pass with indexOf: a pattern like /<row\b[^>]*>([\s\S]*?)<\/row>/g
 * rescans the rest of the text from every opening tag that is never closed — quadratic, minutes for a 2 KB file.
 * An unclosed element ends the list (nothing after it could be told apart).
 */
function* elements(xml: string, tag: string, skip?: string): Generator<[string, string]> {
  for (let i = 0; ; ) {
    const open = nextTag(xml, tag, i);
    const other = skip === undefined ? -1 : nextTag(xml, skip, i);
    if (other !== -1 && (open === -1 || other < open)) {
      const end = xml.indexOf(`</${skip}>`, other);
      if (end === -1) return;
      i = end + skip!.length + 3;
      continue;
    }
    if (open === -1) return;
    const gt = xml.indexOf(">", open);
    // No tag of a workbook has kilobytes of attributes: a damaged file (and `attr` stays linear).
    if (gt === -1 || gt - open > MAX_TAG_CHARS) return;
    const attrs = xml.slice(open + tag.length + 1, xml[gt - 1] === "/" ? gt - 1 : gt);
    if (xml[gt - 1] === "/") {
      yield [attrs, ""];
      i = gt + 1;
      continue;
    }
    const end = xml.indexOf(`</${tag}>`, gt);
    if (end === -1) return;
    yield [attrs, xml.slice(gt + 1, end)];
    i = end + tag.length + 3;
  }
}

const MAX_TAG_CHARS = 4096;

/** Where the next `<tag` that is the whole name (`<t>`, `<t x="">`, not `<tag2>`) starts at or after `from`, or -1. */
function nextTag(xml: string, tag: string, from: number): number {
  for (let i = xml.indexOf(`<${tag}`, from); i !== -1; i = xml.indexOf(`<${tag}`, i + 1)) {
    const c = xml.charCodeAt(i + tag.length + 1);
    if (c === 62 || c === 47 || c === 32 || c === 9 || c === 10 || c === 13) return i;
  }
  return -1;
}

function firstElement(xml: string, tag: string): string | undefined {
  for (const [, inner] of elements(xml, tag)) return inner;
  return undefined;
}

function firstSheetPath(workbook: string | undefined, rels: string | undefined): string {
  let id: string | undefined;
  for (const [attrs] of elements(workbook ?? "", "sheet")) if ((id = attr(attrs, "r:id"))) break;
  if (id && rels) {
    for (const [attrs] of elements(rels, "Relationship")) {
      if (attr(attrs, "Id") !== id) continue;
      const target = attr(attrs, "Target") ?? "";
      return target.startsWith("/") ? target.slice(1) : `xl/${target}`;
    }
  }
  return "xl/worksheets/sheet1.xml";
}

function attr(attrs: string, name: string): string | undefined {
  return new RegExp(`(?:^|\\s)${name}="([^"]*)"`).exec(attrs)?.[1];
}

/** "C7" → 2. */
function columnIndex(ref: string): number {
  let n = 0;
  for (const ch of /^[A-Z]+/.exec(ref)?.[0] ?? "A") n = n * 26 + (ch.charCodeAt(0) - 64);
  return n - 1;
}

function unescapeXml(s: string): string {
  return s
    .replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, e: string) => {
      if (e[0] === "#") return String.fromCodePoint(e[1] === "x" ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1)));
      return { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" }[e]!;
    })
    .replace(/_x([0-9A-Fa-f]{4})_/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16))) // OOXML's escape of control characters (CR is _x000D_)
    .replace(/\r\n?/g, "\n");
}

/** The members of a ZIP archive by name, each read (and inflated) on demand. */
function readZip(bytes: Uint8Array): Map<string, () => Uint8Array> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (o: number) => view.getUint16(o, true);
  const u32 = (o: number) => view.getUint32(o, true);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65_535); i--) {
    if (u32(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new XlsxError("not an .xlsx file (no ZIP directory)");
  const count = u16(eocd + 10);
  let p = u32(eocd + 16);
  const out = new Map<string, () => Uint8Array>();
  for (let i = 0; i < count; i++) {
    if (p + 46 > bytes.length || u32(p) !== 0x02014b50) throw new XlsxError("damaged .xlsx file (ZIP directory)");
    const method = u16(p + 10);
    const size = u32(p + 20);
    const nameLen = u16(p + 28);
    const local = u32(p + 42);
    const name = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLen));
    p += 46 + nameLen + u16(p + 30) + u16(p + 32);
    out.set(name, () => {
      if (local + 30 > bytes.length || u32(local) !== 0x04034b50) throw new XlsxError(`damaged .xlsx file (${name})`);
      const start = local + 30 + u16(local + 26) + u16(local + 28);
      const data = bytes.subarray(start, start + size);
      if (method === 0) return data;
      if (method !== 8) throw new XlsxError(`unsupported compression in .xlsx file (${name})`);
      try {
        return inflateRawSync(data, { maxOutputLength: MAX_MEMBER_BYTES });
      } catch {
        throw new XlsxError(`damaged or oversized .xlsx file (${name})`);
      }
    });
  }
  return out;
}
