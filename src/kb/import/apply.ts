/**
 * Import: parse → validate → plan against the current knowledge base → apply in
 * one transaction. A file with any rejected record changes nothing unless
 * `skipInvalid` is set; `dryRun` reports the plan without writing.
 */
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { KefuError } from "../../errors/kefu-error.ts";
import type { ChunkOptions } from "../../text/chunk.ts";
import { nearDuplicatePairs, type SimHash, simhash } from "../../text/simhash.ts";
import { cleanEntry, type KnowledgeBase } from "../engine.ts";
import type { KbEntry } from "../types.ts";
import { formatFromName, type ImportFormat, parseImport, type Rejection } from "./formats.ts";

export interface ImportOptions {
  format: ImportFormat;
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

export type ChangeAction = "add" | "update" | "unchanged";

export interface NearDuplicate {
  line: number;
  id: string;
  question: string;
  otherId: string;
  otherQuestion: string;
  /** Line of the other question when it is in the same file. */
  otherLine?: number;
  bits: number;
}

export interface ImportReport {
  format: ImportFormat;
  dryRun: boolean;
  /** True when the knowledge base was written. */
  applied: boolean;
  added: number;
  updated: number;
  unchanged: number;
  rejected: Rejection[];
  changes: { line: number; id: string; action: ChangeAction }[];
  nearDuplicates: NearDuplicate[];
  documents: { line: number; id: string; action: ChangeAction | "added" | "updated"; chunks: number }[];
  /** Why nothing was applied, when it was not. */
  reason?: string;
  version: number;
}

export async function importText(kb: KnowledgeBase, text: string, options: ImportOptions): Promise<ImportReport> {
  const parsed = parseImport(text, options.format, {
    maxLineChars: options.maxLineChars,
    documentTitle: options.documentTitle,
    documentId: options.documentId,
  });
  const report: ImportReport = {
    format: options.format,
    dryRun: options.dryRun ?? false,
    applied: false,
    added: 0,
    updated: 0,
    unchanged: 0,
    rejected: [...parsed.rejected],
    changes: [],
    nearDuplicates: [],
    documents: [],
    version: kb.version(),
  };
  if (parsed.fatal) {
    report.rejected.unshift(parsed.fatal);
    report.reason = `file rejected: line ${parsed.fatal.line}: ${parsed.fatal.reason}`;
    return report;
  }

  // Validate and de-duplicate ids within the file.
  const firstLine = new Map<string, number>();
  const valid: { line: number; entry: ReturnType<typeof cleanEntry> }[] = [];
  for (const r of parsed.records) {
    let e: ReturnType<typeof cleanEntry>;
    try {
      e = cleanEntry(r.entry);
    } catch (err) {
      report.rejected.push({ line: r.line, reason: (err as Error).message });
      continue;
    }
    const seen = firstLine.get(e.id);
    if (seen !== undefined) {
      report.rejected.push({ line: r.line, reason: `duplicate id "${e.id}" (first on line ${seen})` });
      continue;
    }
    firstLine.set(e.id, r.line);
    valid.push({ line: r.line, entry: e });
  }
  report.rejected.sort((a, b) => a.line - b.line);

  for (const { line, entry } of valid) {
    const old = kb.get(entry.id);
    const action: ChangeAction = !old ? "add" : sameEntry(old, entry) ? "unchanged" : "update";
    report.changes.push({ line, id: entry.id, action });
    if (action === "add") report.added++;
    else if (action === "update") report.updated++;
    else report.unchanged++;
  }
  report.nearDuplicates = findNearDuplicates(kb, valid, options.nearDuplicateBits ?? 3);

  if (report.rejected.length && !options.skipInvalid) {
    report.reason = `${report.rejected.length} invalid record(s); nothing applied (use skipInvalid to import the valid ones)`;
    return report;
  }
  if (report.dryRun) {
    report.reason = "dry run";
    for (const d of parsed.documents) {
      const exists = d.doc.id ? kb.documents.get(d.doc.id) : null;
      report.documents.push({ line: d.line, id: d.doc.id ?? "", action: exists ? "update" : "add", chunks: 0 });
    }
    return report;
  }
  if (valid.length) await kb.upsert(valid.map((v) => v.entry));
  for (const d of parsed.documents) {
    const r = await kb.documents.upsert(d.doc, options.chunk);
    report.documents.push({ line: d.line, id: r.id, action: r.action, chunks: r.chunks });
  }
  report.applied = true;
  report.version = kb.version();
  return report;
}

/** Reads a file and imports it; the format defaults to the one its extension implies. */
export async function importFile(kb: KnowledgeBase, path: string, options: Partial<ImportOptions> = {}): Promise<ImportReport> {
  const format = options.format ?? formatFromName(path);
  if (!format) throw new KefuError("unknown_format", 400, `cannot tell the format of ${basename(path)}; pass one of csv, json, jsonl, markdown, document`);
  const text = await readFile(path, "utf8");
  return importText(kb, text, { ...options, format, documentTitle: options.documentTitle ?? (format === "document" ? basename(path) : undefined) });
}

function sameEntry(old: KbEntry, e: ReturnType<typeof cleanEntry>): boolean {
  return (
    old.question === e.question &&
    old.answer === e.answer &&
    JSON.stringify(old.alts) === JSON.stringify(e.alts) &&
    JSON.stringify(old.tags) === JSON.stringify(e.tags) &&
    old.enabled === e.enabled
  );
}

function findNearDuplicates(kb: KnowledgeBase, valid: { line: number; entry: ReturnType<typeof cleanEntry> }[], maxBits: number): NearDuplicate[] {
  const items: { id: string; question: string; line?: number; hash: SimHash }[] = [];
  const fileIds = new Set(valid.map((v) => v.entry.id));
  for (const e of kb.all()) if (!fileIds.has(e.id)) items.push({ id: e.id, question: e.question, hash: simhash(e.question) });
  const focus = new Set<number>();
  for (const v of valid) {
    focus.add(items.length);
    items.push({ id: v.entry.id, question: v.entry.question, line: v.line, hash: simhash(v.entry.question) });
  }
  const out: NearDuplicate[] = [];
  for (const [i, j, bits] of nearDuplicatePairs(items.map((x) => x.hash), focus, maxBits)) {
    // Report from the file's side; when both are in the file, from the later line.
    let [a, b] = [items[i]!, items[j]!];
    if (a.line === undefined || (b.line !== undefined && b.line > a.line)) [a, b] = [b, a];
    out.push({ line: a.line!, id: a.id, question: a.question, otherId: b.id, otherQuestion: b.question, otherLine: b.line, bits });
  }
  return out.sort((x, y) => x.line - y.line);
}
