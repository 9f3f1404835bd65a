/**
 * Tokenization for mixed Chinese / English text.
 *
 * Chinese has no spaces and no segmenter ships with kefu, so CJK runs become
 * character unigrams and bigrams (bigrams carry most of the meaning of two-character
 * words such as 退货). Latin-script runs become words with light English stemming
 * (plural / -ing / -ed folding) plus, for the scorer, character trigrams that keep
 * typos ("nost" vs "not") and inflections that the stemmer misses partly matching.
 */
import { canonicalizeQuestion } from "./canonical.ts";

/**
 * Version of what `features` and `indexTerms` produce. Bump it with any change to
 * tokenization: knowledge bases indexed with another version are re-indexed on open.
 */
export const TEXT_VERSION = "3";

const CJK = "\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}\\p{Script=Hangul}";
// Latin-script runs stop at CJK characters (which are letters too): "iPhone怎么退货" is a word and a CJK run.
const RUNS = new RegExp(`([${CJK}]+)|((?:(?![${CJK}])[\\p{L}\\p{M}\\p{N}])+)`, "gu");
const APOSTROPHE = /(\p{L})['’](\p{L})/gu;

export interface Analysis {
  /** Latin-script words and numbers, stemmed, in text order. */
  words: string[];
  /** Runs of CJK characters, in text order. */
  cjkRuns: string[];
}

/**
 * The last texts analyzed and their features. A visitor's question is analyzed by several stages of one
 * search (the embedder, the full-text query, the scorer, the document search): the first does the work,
 * the others find it here. Small and cleared when full, so indexing thousands of phrasings costs nothing
 * extra. Callers treat what they get as read-only (it is shared).
 */
const RECENT = 32;
const analyses = new Map<string, Analysis>();
const featureBags = new Map<string, Map<string, number>>();
function remember<T>(cache: Map<string, T>, text: string, value: T): T {
  if (cache.size >= RECENT) cache.clear();
  cache.set(text, value);
  return value;
}

/** Splits normalized text into Latin words and CJK runs. Input need not be normalized. The result is shared: do not change it. */
export function analyze(text: string): Analysis {
  return analyses.get(text) ?? remember(analyses, text, analyzeOnce(text));
}

function analyzeOnce(text: string): Analysis {
  const s = canonicalizeQuestion(text).replace(APOSTROPHE, "$1$2");
  const words: string[] = [];
  const cjkRuns: string[] = [];
  for (const m of s.matchAll(RUNS)) {
    if (m[1]) cjkRuns.push(m[1]);
    else if (m[2]) words.push(stem(m[2]));
  }
  return { words, cjkRuns };
}

const VOWEL = /[aeiouy]/;

/**
 * A deliberately light English stemmer: folds the inflections visitors vary most
 * (plurals, -ing, -ed) and leaves derivations alone, so it cannot merge unrelated
 * words the way aggressive stemmers do. Non-ASCII words pass through unchanged.
 */
export function stem(word: string): string {
  if (word.length <= 3 || !/^[a-z]+$/.test(word)) return word;
  let w = word;
  if (w.endsWith("ies") && w.length > 4) w = `${w.slice(0, -3)}y`;
  else if (w.endsWith("sses")) w = w.slice(0, -2);
  else if (w.endsWith("s") && !/(ss|us|is|ous)$/.test(w)) w = w.slice(0, -1);
  for (const suffix of ["ing", "ed"]) {
    if (w.endsWith(suffix) && w.length - suffix.length >= 3) {
      const base = w.slice(0, -suffix.length);
      if (!VOWEL.test(base)) break;
      w = base;
      // running → run, stopped → stop; but keep "ll"/"ss" (calling → call).
      if (/([^aeioulsz])\1$/.test(w)) w = w.slice(0, -1);
      break;
    }
  }
  // make / making / maked all end up as "mak".
  if (w.length > 3 && w.endsWith("e") && !w.endsWith("ee")) w = w.slice(0, -1);
  return w;
}

/** CJK unigrams and bigrams of one run, in order. */
export function cjkGrams(run: string): { unigrams: string[]; bigrams: string[] } {
  const chars = Array.from(run);
  const bigrams: string[] = [];
  for (let i = 0; i + 1 < chars.length; i++) bigrams.push(chars[i]! + chars[i + 1]!);
  return { unigrams: chars, bigrams };
}

/** Character trigrams of a word with boundary marks ("^ab", "abc", "bc$"). */
export function charTrigrams(word: string): string[] {
  const padded = `^${word}$`;
  const chars = Array.from(padded);
  if (chars.length <= 3) return [padded];
  const out: string[] = [];
  for (let i = 0; i + 3 <= chars.length; i++) out.push(chars[i]! + chars[i + 1]! + chars[i + 2]!);
  return out;
}

/**
 * Index terms: words, numbers, CJK unigrams and bigrams. Every term is made of
 * letters and digits only, so FTS5's unicode61 tokenizer keeps each one intact
 * when they are joined with spaces.
 */
export function indexTerms(text: string): string[] {
  const { words, cjkRuns } = analyze(text);
  const out = [...words];
  for (const run of cjkRuns) {
    const { unigrams, bigrams } = cjkGrams(run);
    out.push(...unigrams, ...bigrams);
  }
  return out;
}

/**
 * Typed features (kind prefix + value) with counts. Kinds are kept apart so that
 * a Latin trigram never collides with a CJK character and each kind can get its
 * own weight. The map is shared (see `analyze`): do not change it.
 */
export function features(text: string): Map<string, number> {
  return featureBags.get(text) ?? remember(featureBags, text, featuresOnce(text));
}

function featuresOnce(text: string): Map<string, number> {
  const { words, cjkRuns } = analyze(text);
  const bag = new Map<string, number>();
  const add = (f: string) => bag.set(f, (bag.get(f) ?? 0) + 1);
  for (const w of words) {
    add(`w${w}`);
    if (w.length > 2 && !/^\d+$/.test(w)) for (const g of charTrigrams(w)) add(`g${g}`);
  }
  for (const run of cjkRuns) {
    const { unigrams, bigrams } = cjkGrams(run);
    for (const c of unigrams) add(`c${c}`);
    for (const b of bigrams) add(`b${b}`);
  }
  return bag;
}
