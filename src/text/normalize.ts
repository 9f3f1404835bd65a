/**
 * Text normalization shared by matching, indexing and import.
 *
 * Matching must not depend on how a visitor typed: full-width letters from a
 * Chinese IME, ideographic spaces, stray case and repeated blanks all compare equal
 * after `normalizeForMatch`.
 */

export interface NormalizeOptions {
  /** Fold case (default true). Stored text keeps its case; matching folds it. */
  lowercase?: boolean;
}

const SPACES = /[\s\u00a0\u2000-\u200b\u3000\ufeff]+/g;
// NFKC leaves these CJK punctuation marks alone; folding them to ASCII keeps
// tokenizers and simhash from treating "，" and "," as different text.
const CJK_PUNCT: Record<string, string> = {
  "。": ".",
  "、": ",",
  "「": '"',
  "」": '"',
  "『": '"',
  "』": '"',
  "【": "[",
  "】": "]",
  "《": "<",
  "》": ">",
  "〈": "<",
  "〉": ">",
  "‘": "'",
  "’": "'",
  "“": '"',
  "”": '"',
  "…": "...",
  "—": "-",
  "～": "~",
};
const CJK_PUNCT_RE = new RegExp(`[${Object.keys(CJK_PUNCT).join("")}]`, "g");

/** NFKC (full-width → half-width), CJK punctuation → ASCII, whitespace collapsed, trimmed. */
export function normalizeText(text: string, options: NormalizeOptions = {}): string {
  let s = text.normalize("NFKC").replace(CJK_PUNCT_RE, (c) => CJK_PUNCT[c] ?? c);
  s = s.replace(SPACES, " ").trim();
  return options.lowercase === false ? s : s.toLowerCase();
}

/** The canonical form used for every comparison: `normalizeText` with case folded. */
export function normalizeForMatch(text: string): string {
  return normalizeText(text, { lowercase: true });
}

/** Whitespace-only cleanup for stored text: keeps case and punctuation, collapses blanks. */
export function tidyText(text: string): string {
  return text.normalize("NFKC").replace(SPACES, " ").trim();
}
