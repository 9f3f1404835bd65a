/**
 * Test fixture: a minimal .xlsx workbook as Excel writes one (ZIP, deflated members, shared strings, a rich-text
 * string, an inline string, numbers and booleans, cells skipped, rows out of step with the row numbers).
 */
import { deflateRawSync } from "node:zlib";

const esc = (s: string) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll("\n", "&#10;");

/** `rows[i]` is written as row `rowNumbers?.[i] ?? i + 1`; `null` leaves a cell out, numbers and booleans keep their type. */
export function xlsxWorkbook(rows: (string | number | boolean | null)[][], rowNumbers?: number[]): Uint8Array {
  const strings: string[] = [];
  const cols = (i: number) => String.fromCharCode(65 + i);
  const sheetRows = rows
    .map((cells, i) => {
      const r = rowNumbers?.[i] ?? i + 1;
      const xml = cells
        .map((v, c) => {
          if (v === null) return "";
          const ref = `${cols(c)}${r}`;
          if (typeof v === "number") return `<c r="${ref}"><v>${v}</v></c>`;
          if (typeof v === "boolean") return `<c r="${ref}" t="b"><v>${v ? 1 : 0}</v></c>`;
          if (c === 4) return `<c r="${ref}" t="inlineStr"><is><t>${esc(v)}</t></is></c>`; // tags column: inline
          strings.push(v);
          return `<c r="${ref}" t="s"><v>${strings.length - 1}</v></c>`;
        })
        .join("");
      return `<row r="${r}">${xml}</row>`;
    })
    .join("");
  const sst = strings
    .map((s) => (s.includes("|") ? `<si><r><t>${esc(s.split("|")[0]!)}</t></r><r><rPr><b/></rPr><t xml:space="preserve">|${esc(s.split("|").slice(1).join("|"))}</t></r></si>` : `<si><t>${esc(s)}</t></si>`))
    .join("");
  return xlsxZip({
    "[Content_Types].xml": `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`,
    "xl/workbook.xml": `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="FAQ" sheetId="1" r:id="rId3"/></sheets></workbook>`,
    "xl/_rels/workbook.xml.rels": `<?xml version="1.0" encoding="UTF-8"?><Relationships><Relationship Id="rId1" Target="styles.xml"/><Relationship Id="rId3" Target="worksheets/faq.xml"/></Relationships>`,
    "xl/sharedStrings.xml": `<?xml version="1.0" encoding="UTF-8"?><sst count="${strings.length}">${sst}</sst>`,
    "xl/worksheets/faq.xml": `<?xml version="1.0" encoding="UTF-8"?><worksheet><sheetData>${sheetRows}</sheetData></worksheet>`,
  });
}

/** A ZIP archive of the given members (deflated), as an .xlsx file is one: also for hand-made, hostile workbooks. */
export function xlsxZip(files: Record<string, string>): Uint8Array {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, content] of Object.entries(files)) {
    const raw = Buffer.from(content);
    const data = deflateRawSync(raw);
    const n = Buffer.from(name);
    const crc = Bun.hash.crc32(raw);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(n.length, 26);
    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE(20, 4);
    dir.writeUInt16LE(20, 6);
    dir.writeUInt16LE(8, 10);
    dir.writeUInt32LE(crc, 16);
    dir.writeUInt32LE(data.length, 20);
    dir.writeUInt32LE(raw.length, 24);
    dir.writeUInt16LE(n.length, 28);
    dir.writeUInt32LE(offset, 42);
    locals.push(local, n, data);
    central.push(dir, n);
    offset += 30 + n.length + data.length;
  }
  const dirBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(files).length, 8);
  end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(dirBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return new Uint8Array(Buffer.concat([...locals, dirBytes, end]));
}
