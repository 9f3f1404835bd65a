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
  for (const row of sheet.matchAll(/<row\b([^>]*?)(?:\/>|>([\s\S]*?)<\/row>)/g)) {
    const line = Number(attr(row[1]!, "r")) || rows.length + 1;
    const fields: string[] = [];
    let next = 0;
    for (const c of (row[2] ?? "").matchAll(/<c\b([^>]*?)(?:\/>|>([\s\S]*?)<\/c>)/g)) {
      const ref = attr(c[1]!, "r");
      const col = ref ? columnIndex(ref) : next;
      while (fields.length < col) fields.push("");
      fields[col] = cellText(attr(c[1]!, "t"), c[2] ?? "", shared);
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
  if (type === "inlineStr") return textRuns(/<is>([\s\S]*?)<\/is>/.exec(inner)?.[1] ?? "");
  const v = /<v>([\s\S]*?)<\/v>/.exec(inner)?.[1];
  if (v === undefined) return "";
  if (type === "s") return shared[Number(v)] ?? "";
  if (type === "b") return v === "1" ? "true" : "false";
  return unescapeXml(v);
}

function sharedStrings(xml: string): string[] {
  return [...xml.matchAll(/<si>([\s\S]*?)<\/si>/g)].map((m) => textRuns(m[1]!));
}

/** The text of every `<t>` in a string item (rich text has several runs); phonetic hints (`<rPh>`) left out. */
function textRuns(xml: string): string {
  const plain = xml.replace(/<rPh\b[\s\S]*?<\/rPh>/g, "");
  return [...plain.matchAll(/<t\b[^>]*?(?:\/>|>([\s\S]*?)<\/t>)/g)].map((m) => unescapeXml(m[1] ?? "")).join("");
}

function firstSheetPath(workbook: string | undefined, rels: string | undefined): string {
  const id = workbook && /<sheet\b[^>]*?\br:id="([^"]+)"/.exec(workbook)?.[1];
  if (id && rels) {
    for (const r of rels.matchAll(/<Relationship\b([^>]*)\/?>/g)) {
      if (attr(r[1]!, "Id") !== id) continue;
      const target = attr(r[1]!, "Target") ?? "";
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
