/**
 * Import: parse → validate → plan against the current knowledge base → apply in
 * one transaction. A file with any rejected record changes nothing unless
 * `skipInvalid` is set; `dryRun` reports the plan without writing. Mode `replace`
 * also deletes every entry the file lacks, in the same transaction as the upserts.
 * The report is the API's (snake_case): `POST /api/admin/kb/import` and
 * `kefu import --json` return it as it is.
 */
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { KefuError } from "../../errors/kefu-error.ts";
import { type ChunkOptions, chunkText } from "../../text/chunk.ts";
import { nearDuplicatePairs, type SimHash, simhash } from "../../text/simhash.ts";
import { defaultDocumentId } from "../documents.ts";
import { cleanEntry, type KnowledgeBase } from "../engine.ts";
import type { DocumentInput, KbEntry } from "../types.ts";
import { unnameableId } from "../schemas.ts";
import { decodeText, formatFromName, type ImportFormat, parseImport, type Rejection } from "./formats.ts";

export type ImportMode = "upsert" | "replace";

export interface ImportOptions {
  format: ImportFormat;
  /** `upsert` (default) adds and updates by id; `replace` also deletes every entry the file lacks. */
  mode?: ImportMode;
  /** Report what would change without writing (default false). */
  dryRun?: boolean;
  /** Apply the valid records even when some are rejected (default false). */
  skipInvalid?: boolean;
  /** Longest accepted line or field (default 1,000,000 characters). */
  maxLineChars?: number;
  /** Chunking of documents (format "document"). */
  chunk?: ChunkOptions;
  /** Title / id of a plain document (default: its first heading or line). */
  documentTitle?: string;
  documentId?: string;
  /** Simhash bit distance at or below which two questions are reported as near-duplicates (default 3). */
  nearDuplicateBits?: number;
}

/** Entry fields as the API names them, listed in `updated[].fields`. */
export type EntryField = "question" | "alt_questions" | "answer" | "tags" | "enabled";

export interface NearDuplicate {
  line: number;
  id: string;
  question: string;
  other_id: string;
  other_question: string;
  /** Line of the other question when it is in the same file. */
  other_line?: number;
  bits: number;
}

export interface ImportReport {
  dry_run: boolean;
  mode: ImportMode;
  format: ImportFormat;
  /** The knowledge-base version after the import (unchanged by a dry run, a refused file or a file that changes nothing). */
  version: number;
  /** True when the knowledge base was written (or would have been, had anything changed). */
  applied: boolean;
  counts: { added: number; updated: number; unchanged: number; deleted: number; rejected: number };
  added: { line: number; id: string; question: string }[];
  updated: { line: number; id: string; question: string; fields: EntryField[] }[];
  unchanged: { line: number; id: string }[];
  /** Replace mode: the entries the file lacks (an entry whose line was rejected is kept). */
  deleted: { id: string; question: string }[];
  rejected: Rejection[];
  /** Documents (format "document"): how the text is (or would be) split. */
  chunks?: { index: number; text: string }[];
  documents: { line: number; id: string; action: "added" | "updated" | "unchanged"; chunks: number }[];
  near_duplicates: NearDuplicate[];
  /** Why nothing was applied, when it was not. */
  reason?: string;
}

type Clean = ReturnType<typeof cleanEntry>;

export async function importText(kb: KnowledgeBase, text: string, options: ImportOptions): Promise<ImportReport> {
  const mode = options.mode ?? "upsert";
  if (mode === "replace" && options.format === "document") {
    throw new KefuError("bad_request", 400, 'mode "replace" replaces the entries; a document is not entries (import it with mode "upsert")');
  }
  const parsed = parseImport(text, options.format, {
    maxLineChars: options.maxLineChars,
    documentTitle: options.documentTitle,
    documentId: options.documentId,
  });
  const report: ImportReport = {
    dry_run: options.dryRun ?? false,
    mode,
    format: options.format,
    version: kb.version(),
    applied: false,
    counts: { added: 0, updated: 0, unchanged: 0, deleted: 0, rejected: 0 },
    added: [],
    updated: [],
    unchanged: [],
    deleted: [],
    rejected: [...parsed.rejected],
    documents: [],
    near_duplicates: [],
  };
  const done = (reason?: string) => {
    if (reason) report.reason = reason;
    report.counts = {
      added: report.added.length,
      updated: report.updated.length,
      unchanged: report.unchanged.length,
      deleted: report.deleted.length,
      rejected: report.rejected.length,
    };
    return report;
  };
  if (parsed.fatal) {
    report.rejected.unshift(parsed.fatal);
    return done(`file rejected: line ${parsed.fatal.line}: ${parsed.fatal.error}`);
  }

  const valid = validate(parsed.records, report.rejected, (id) => (kb.get(id) ? null : unnameableId(id)));
  const fileIds = new Set(valid.map((v) => v.entry.id));
  for (const { line, entry } of valid) {
    const old = kb.get(entry.id);
    const fields = old ? changedFields(old, entry) : [];
    if (!old) report.added.push({ line, id: entry.id, question: entry.question });
    else if (fields.length) report.updated.push({ line, id: entry.id, question: entry.question, fields });
    else report.unchanged.push({ line, id: entry.id });
  }
  // A replace keeps the entries of rejected lines (skip_invalid): a line with a typo must not delete its entry.
  const keep = new Set(report.rejected.flatMap((r) => (r.id ? [r.id] : [])));
  if (mode === "replace") {
    for (const e of kb.all()) if (!fileIds.has(e.id) && !keep.has(e.id)) report.deleted.push({ id: e.id, question: e.question });
  }
  // Entries a replace deletes are no rivals of the file's.
  report.near_duplicates = findNearDuplicates(kb, valid, options.nearDuplicateBits ?? 3, mode === "upsert");
  const docs = parsed.documents.map((d) => ({ ...d, chunks: chunkText(d.doc.text, options.chunk) }));
  if (docs.length) report.chunks = docs.flatMap((d) => d.chunks.map((c, index) => ({ index, text: c })));

  if (report.rejected.length && !options.skipInvalid) {
    return done(`${report.rejected.length} invalid record(s); nothing applied (use skip_invalid to import the valid ones)`);
  }
  if (mode === "replace" && valid.length === 0) {
    return done('mode "replace" with no valid entry would delete every entry; nothing applied');
  }
  if (report.dry_run) {
    for (const d of docs) report.documents.push({ line: d.line, ...plannedDocument(kb, d.doc), chunks: d.chunks.length });
    return done("dry run");
  }
  if (valid.length || mode === "replace") {
    const r = await kb.upsert(
      valid.map((v) => v.entry),
      { replace: mode === "replace", keep },
    );
    // Another writer may have added or removed entries since the plan: the deletions are what the engine did.
    const planned = new Map(report.deleted.map((d) => [d.id, d.question]));
    report.deleted = r.deleted.map((id) => ({ id, question: planned.get(id) ?? "" }));
  }
  for (const d of docs) {
    const r = await kb.documents.upsert(d.doc, options.chunk);
    report.documents.push({ line: d.line, id: r.id, action: r.action, chunks: r.chunks });
  }
  report.applied = true;
  report.version = kb.version();
  return done();
}

/** Reads a file and imports it; the format defaults to the one its extension implies. */
export async function importFile(kb: KnowledgeBase, path: string, options: Partial<ImportOptions> = {}): Promise<ImportReport> {
  const format = options.format ?? formatFromName(path);
  if (!format) throw new KefuError("unknown_format", 400, `cannot tell the format of ${basename(path)}; pass one of csv, xlsx, json, jsonl, markdown, document`);
  const bytes = await readFile(path);
  const text = format === "xlsx" ? bytes.toString("base64") : decodeText(bytes);
  return importText(kb, text, { ...options, format, documentTitle: options.documentTitle ?? (format === "document" ? basename(path) : undefined) });
}

/** Cleans each record; a record that does not clean, has an id `badId` refuses, or repeats an earlier id of the file, is rejected. */
function validate(
  records: { line: number; entry: Parameters<typeof cleanEntry>[0] }[],
  rejected: Rejection[],
  badId: (id: string) => string | null,
): { line: number; entry: Clean }[] {
  const firstLine = new Map<string, number>();
  const valid: { line: number; entry: Clean }[] = [];
  for (const r of records) {
    let e: Clean;
    try {
      e = cleanEntry(r.entry);
    } catch (err) {
      rejected.push({ line: r.line, error: (err as Error).message, ...(r.entry.id?.trim() ? { id: r.entry.id.trim() } : {}) });
      continue;
    }
    const bad = badId(e.id);
    if (bad) {
      rejected.push({ line: r.line, error: bad, id: e.id });
      continue;
    }
    const seen = firstLine.get(e.id);
    if (seen !== undefined) {
      rejected.push({ line: r.line, error: `duplicate id "${e.id}" (first on line ${seen})` });
      continue;
    }
    firstLine.set(e.id, r.line);
    valid.push({ line: r.line, entry: e });
  }
  rejected.sort((a, b) => a.line - b.line);
  return valid;
}

export function changedFields(old: KbEntry, e: Clean): EntryField[] {
  const out: EntryField[] = [];
  if (old.question !== e.question) out.push("question");
  if (JSON.stringify(old.alts) !== JSON.stringify(e.alts)) out.push("alt_questions");
  if (old.answer !== e.answer) out.push("answer");
  if (JSON.stringify(old.tags) !== JSON.stringify(e.tags)) out.push("tags");
  if (old.enabled !== e.enabled) out.push("enabled");
  return out;
}

/** What `documents.upsert` would do with a document: its id (given, or the content address) and action. */
function plannedDocument(kb: KnowledgeBase, doc: DocumentInput): { id: string; action: "added" | "updated" | "unchanged" } {
  const title = doc.title.trim();
  const text = doc.text.trim();
  const id = doc.id?.trim() || defaultDocumentId(title, text);
  const old = kb.documents.get(id);
  if (!old) return { id, action: "added" };
  return { id, action: old.title === title && old.text === text && old.source === (doc.source ?? "") ? "unchanged" : "updated" };
}

/** Near-duplicate pairs reported at most, and question pairs compared at most to find them (src/text/simhash.ts). */
export const MAX_NEAR_DUPLICATES = 200;
const MAX_NEAR_DUPLICATE_COMPARISONS = 1_000_000;

function findNearDuplicates(kb: KnowledgeBase, valid: { line: number; entry: Clean }[], maxBits: number, withOthers: boolean): NearDuplicate[] {
  const items: { id: string; question: string; line?: number; hash: SimHash }[] = [];
  const fileIds = new Set(valid.map((v) => v.entry.id));
  if (withOthers) for (const e of kb.all()) if (!fileIds.has(e.id)) items.push({ id: e.id, question: e.question, hash: simhash(e.question) });
  const focus = new Set<number>();
  for (const v of valid) {
    focus.add(items.length);
    items.push({ id: v.entry.id, question: v.entry.question, line: v.line, hash: simhash(v.entry.question) });
  }
  const out: NearDuplicate[] = [];
  for (const [i, j, bits] of nearDuplicatePairs(items.map((x) => x.hash), focus, maxBits, { maxPairs: MAX_NEAR_DUPLICATES, maxComparisons: MAX_NEAR_DUPLICATE_COMPARISONS })) {
    // Report from the file's side; when both are in the file, from the later line.
    let [a, b] = [items[i]!, items[j]!];
    if (a.line === undefined || (b.line !== undefined && b.line > a.line)) [a, b] = [b, a];
    out.push({ line: a.line!, id: a.id, question: a.question, other_id: b.id, other_question: b.question, other_line: b.line, bits });
  }
  return out.sort((x, y) => x.line - y.line);
}
