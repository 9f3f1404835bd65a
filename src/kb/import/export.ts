/**
 * Export in the import formats, so import → export → import reports no change.
 * Alternatives are joined with newlines in CSV (not " || "), because newlines are
 * the one separator that can never occur inside a tidied phrasing. The CSV is for
 * Excel too: it starts with a byte-order mark (or Excel reads UTF-8 as the local code
 * page), and a cell that would run as a formula is quoted with an apostrophe — visitors'
 * questions reach entries through the Unanswered list (the import takes it off again).
 */
import type { KbEntry } from "../types.ts";
import { csvField, formatCsv, quoteFormula } from "./csv.ts";

export type ExportFormat = "csv" | "jsonl";

export function* exportEntries(entries: Iterable<KbEntry>, format: ExportFormat): Generator<string> {
  if (format === "csv") {
    yield "\uFEFFid,question,answer,alt_questions,tags,enabled\r\n";
    for (const e of entries) {
      yield `${[e.id, e.question, e.answer, e.alts.join("\n"), e.tags.join(","), e.enabled ? "true" : "false"].map((v) => csvField(quoteFormula(v))).join(",")}\r\n`;
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

/** Header names of the CSV template (both are accepted by the import, `formats.ts`). */
export const TEMPLATE_HEADERS = {
  en: ["id", "question", "answer", "alt_questions", "tags", "enabled"],
  zh: ["编号", "问题", "答案", "相似问法", "标签", "启用"],
} as const;

const TEMPLATE_EXAMPLES = {
  en: [
    ["shipping-fee", "How much is shipping?", "Free on orders over 99 yuan, otherwise 8 yuan.", "shipping cost || is shipping free", "shipping", "true"],
    ["", "Do you gift wrap?", "Yes, for 2 yuan per order.", "", "", ""],
  ],
  zh: [
    ["shipping-fee", "运费怎么算？", "订单满99元包邮，不满99元收取运费8元。", "包邮吗 || 邮费多少", "物流", "是"],
    ["", "可以礼品包装吗？", "可以，每单加收2元。", "", "", ""],
  ],
};

/**
 * The downloadable CSV template: a byte-order mark (so Excel reads the UTF-8), the header, and two example rows —
 * one with every column (alternatives separated by " || ", tags by commas), one with only a question and an
 * answer (the id then comes from the question, enabled defaults to true).
 */
export function csvTemplate(lang: "zh" | "en"): string {
  return `\uFEFF${formatCsv([[...TEMPLATE_HEADERS[lang]], ...TEMPLATE_EXAMPLES[lang]])}`;
}
