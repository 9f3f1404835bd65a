/**
 * Export in the import formats, so import → export → import reports no change.
 * Alternatives are joined with newlines in CSV (not " || "), because newlines are
 * the one separator that can never occur inside a tidied phrasing.
 */
import type { KbEntry } from "../types.ts";
import { csvField } from "./csv.ts";

export type ExportFormat = "csv" | "jsonl";

export function* exportEntries(entries: Iterable<KbEntry>, format: ExportFormat): Generator<string> {
  if (format === "csv") {
    yield "id,question,answer,alt_questions,tags,enabled\r\n";
    for (const e of entries) {
      yield `${[e.id, e.question, e.answer, e.alts.join("\n"), e.tags.join(","), e.enabled ? "true" : "false"].map(csvField).join(",")}\r\n`;
    }
  } else {
    for (const e of entries) {
      yield `${JSON.stringify({ id: e.id, question: e.question, answer: e.answer, alt_questions: e.alts, tags: e.tags, enabled: e.enabled })}\n`;
    }
  }
}

export function exportText(entries: Iterable<KbEntry>, format: ExportFormat): string {
  return [...exportEntries(entries, format)].join("");
}
