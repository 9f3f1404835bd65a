/**
 * Canonical forms for comparing two questions (additive to `normalize.ts`: the
 * index and the retrieval features do not use this).
 *
 * Generic Chinese function-word knowledge, not tied to any data set: question
 * words with the same meaning fold to one form (怎样/如何/咋 → 怎么, 为啥/为何 →
 * 为什么, 啥 → 什么, 能否/能不能/可以/可否 → 能), sentence-final particles
 * (吗/呢/吧/啊/呀…) and greetings (你好/您好/请问) are dropped, 您 → 你. English
 * contractions are expanded. Everything else is left alone.
 */
import { normalizeForMatch } from "./normalize.ts";

/** Longest first, so 怎么样 wins over 怎么 and 能不能 over 能. */
const CJK_FOLDS: [string, string][] = [
  ["为什么", "为什么"],
  ["为啥", "为什么"],
  ["为何", "为什么"],
  ["怎么样", "怎么"],
  ["怎么办", "怎么办"],
  ["咋办", "怎么办"],
  ["怎样", "怎么"],
  ["如何", "怎么"],
  ["咋", "怎么"],
  ["什么", "什么"],
  ["啥", "什么"],
  ["可不可以", "能"],
  ["能不能", "能"],
  ["能否", "能"],
  ["可否", "能"],
  ["可以", "能"],
  ["是不是", "是"],
  ["有没有", "有"],
  ["多长时间", "多久"],
  ["多少时间", "多久"],
  ["您好", ""],
  ["你好", ""],
  ["请问", ""],
  ["请教", ""],
  ["麻烦", ""],
  ["一下", ""],
  ["您", "你"],
  ["无法", "不能"],
  ["不可以", "不能"],
  ["没有", "没"],
  ["哪儿", "哪里"],
  ["哪里", "哪里"],
  ["在哪", "哪里"],
  ["如何解决", "怎么办"],
  ["怎么解决", "怎么办"],
  ["怎么处理", "怎么办"],
];
const EN_CONTRACTIONS: [RegExp, string][] = [
  [/\b(what|where|who|how|when|why|that|there|it|he|she)'s\b/g, "$1 is"],
  [/\bcan't\b/g, "can not"],
  [/\bwon't\b/g, "will not"],
  [/\b(\w+)n't\b/g, "$1 not"],
  [/\b(\w+)'re\b/g, "$1 are"],
  [/\b(\w+)'ll\b/g, "$1 will"],
  [/\b(\w+)'ve\b/g, "$1 have"],
  [/\b(\w+)'d\b/g, "$1 would"],
  [/\bi'm\b/g, "i am"],
];

const FOLD_RE = new RegExp(CJK_FOLDS.map(([k]) => k).join("|"), "g");
const FOLD = new Map(CJK_FOLDS);

/** `normalizeForMatch`, then question words / particles / greetings / contractions folded. */
export function canonicalizeQuestion(text: string): string {
  let s = normalizeForMatch(text).replace(/’/g, "'");
  if (s.includes("'")) for (const [re, to] of EN_CONTRACTIONS) s = s.replace(re, to);
  // Sentence-final particles (before punctuation or the end); 么 after 怎/什/多/那/这 is part of a word.
  s = s.replace(FOLD_RE, (m) => FOLD.get(m) ?? m);
  s = s.replace(/(怎么|什么|多么|那么|这么)|[吗嘛呢吧啊呀哦哈啦么喔哇噢]+(?=[^\p{Script=Han}]|$)/gu, (_m, word) => word ?? "");
  // A dropped greeting leaves its comma behind ("您好，…" → ",…").
  return s.replace(/\s+/g, " ").trim().replace(/^[,.!?;:~\s]+/, "");
}
