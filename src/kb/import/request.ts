/**
 * The body of `POST /api/admin/kb/import` in any of the forms it takes, read into the one shape `ImportBody`
 * validates (so every form is as strict as the JSON one: an unknown field or query parameter is a 400 naming it):
 *
 * - `application/json`: the fields as they are.
 * - `multipart/form-data`: the `file` field's content as `text` (its name as `file_name`), the other fields as
 *   form fields.
 * - in both, query parameters are fields too (a field in both places is a 400).
 * - a raw file (`text/csv`, the .xlsx type, `application/x-ndjson`, `text/markdown`, `text/plain`, or curl's
 *   default `application/x-www-form-urlencoded` for `--data-binary`): the body as `text`, the fields as query
 *   parameters, the format from the content type unless `?format=` says otherwise.
 *
 * An Excel workbook (format xlsx, from the name, type or `format`) is put in `text` as base64.
 *
 * Files are UTF-8, or GB18030/GBK (what Excel on a Chinese Windows saves as "CSV") when they are not valid UTF-8.
 */
import { readBytes, readJson } from "../../auth/access.ts";
import { KefuError } from "../../errors/kefu-error.ts";
import { decodeText, formatFromContentType, formatFromName, XLSX_TYPE } from "./formats.ts";

const BOOLEAN_FIELDS = new Set(["dry_run", "skip_invalid"]);
const INTEGER_FIELDS = new Set(["chunk_size", "chunk_overlap"]);
/** Names that would set the prototype or break the validator's messages (as `readJson` refuses them). */
const RESERVED = new Set(["__proto__", "constructor", "prototype", "toString", "valueOf"]);

/** Types whose body is the file itself, with the format each implies (none: told from the text). */
const RAW_TYPES: Record<string, boolean> = {
  "text/csv": true,
  [XLSX_TYPE]: true,
  "application/x-ndjson": true,
  "application/jsonl": true,
  "application/x-jsonlines": true,
  "text/markdown": true,
  "text/x-markdown": true,
  "text/plain": false,
  "application/x-www-form-urlencoded": false,
  "application/octet-stream": false,
};

export async function readImportBody(request: Request, limit: number): Promise<unknown> {
  const contentType = request.headers.get("content-type") ?? "";
  const type = contentType.split(";")[0]!.trim().toLowerCase();
  // Query parameters count in every form: `?dry_run=true` beside a JSON or multipart body must not be ignored
  // (the import would be applied, a replace would delete).
  const query = fieldsOf(new URLSearchParams(new URL(request.url).search).entries(), "query parameter");
  if (type === "application/json" || /^application\/[\w.+-]+\+json$/.test(type)) return withQuery(await readJson(request, limit), query);
  if (type === "multipart/form-data") return withQuery(await readMultipart(request, contentType, limit), query);
  if (type in RAW_TYPES) {
    const bytes = await readBytes(request, limit);
    const body = query;
    if ("text" in body) throw new KefuError("validation_failed", 400, 'invalid request: unknown field "text" (a raw import sends the file as the body)');
    if (body.format === undefined && RAW_TYPES[type]) body.format = formatFromContentType(type);
    if (body.format === undefined && bytes && isZip(bytes)) body.format = "xlsx";
    body.text = bytes ? fileText(bytes, body.format === "xlsx") : "";
    return body;
  }
  throw new KefuError(
    "unsupported_media_type",
    415,
    "an import body is JSON, multipart/form-data (field file) or the file itself (text/csv, application/x-ndjson, text/markdown, text/plain)",
  );
}

async function readMultipart(request: Request, contentType: string, limit: number): Promise<Record<string, unknown>> {
  const bytes = await readBytes(request, limit);
  let form: Awaited<ReturnType<Response["formData"]>>;
  try {
    form = await new Response(bytes ?? "", { headers: { "content-type": contentType } }).formData();
  } catch {
    throw new KefuError("bad_body", 400, "multipart body could not be read");
  }
  const files: File[] = [];
  const fields: [string, string][] = [];
  for (const [name, value] of form) {
    if (name === "file") {
      if (typeof value === "string") throw new KefuError("bad_body", 400, 'form field "file" must be a file upload (curl -F file=@faq.csv)');
      files.push(value);
    } else if (typeof value === "string") fields.push([name, value]);
    else throw new KefuError("bad_body", 400, `form field ${JSON.stringify(name)} is a file; only "file" may be one`);
  }
  if (files.length !== 1) throw new KefuError("bad_body", 400, `a multipart import takes exactly one "file" field (got ${files.length})`);
  const body = fieldsOf(fields, "form field");
  for (const key of ["text", "file_name"]) {
    if (key in body) throw new KefuError("validation_failed", 400, `invalid request: unknown field ${JSON.stringify(key)} (a multipart import sends the file as "file")`);
  }
  const file = files[0]!;
  if (file.name) body.file_name = file.name;
  if (body.format === undefined && file.type) {
    const f = formatFromContentType(file.type);
    // A browser labels any .txt and many .csv files text/plain: only a specific type is worth more than the name.
    if (f && f !== "document" && f !== "json") body.format = f;
  }
  const content = Buffer.from(await file.arrayBuffer());
  if (body.format === undefined && (formatFromName(file.name ?? "") === "xlsx" || isZip(content))) body.format = "xlsx";
  body.text = fileText(content, body.format === "xlsx");
  return body;
}

/** The body's fields and the query's; a field given in both is a 400 (which one was meant?). Not an object: left to validation. */
function withQuery(body: unknown, query: Record<string, unknown>): unknown {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return Object.keys(query).length ? { ...query } : body;
  for (const key of Object.keys(query)) {
    if (Object.hasOwn(body, key)) throw new KefuError("validation_failed", 400, `invalid request: ${JSON.stringify(key)} given both in the body and as a query parameter`);
  }
  return { ...query, ...body };
}

/** Form fields or query parameters as the JSON body would carry them; a value that does not convert stays a string, for validation to name. */
function fieldsOf(entries: Iterable<[string, string]>, what: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of entries) {
    if (RESERVED.has(name)) throw new KefuError("bad_body", 400, `request may not use the name ${JSON.stringify(name)}`);
    if (Object.hasOwn(out, name)) throw new KefuError("validation_failed", 400, `invalid request: ${what} ${JSON.stringify(name)} given twice`);
    if (BOOLEAN_FIELDS.has(name) && (value === "true" || value === "1" || value === "")) out[name] = true;
    else if (BOOLEAN_FIELDS.has(name) && (value === "false" || value === "0")) out[name] = false;
    else if (INTEGER_FIELDS.has(name) && /^\d{1,9}$/.test(value)) out[name] = Number(value);
    else out[name] = value;
  }
  return out;
}

/** A workbook travels as base64 in `text` (the body schema's one string for every format). */
function fileText(bytes: Uint8Array, xlsx: boolean): string {
  return xlsx ? Buffer.from(bytes).toString("base64") : decodeText(bytes);
}

/** A ZIP archive (what an .xlsx file is) starts with a local file header. */
function isZip(bytes: Uint8Array): boolean {
  return bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}
