/**
 * How common a word is in questions in general, as a share of questions that contain
 * it (rough figures for customer-service questions). A small knowledge base cannot
 * tell function words from content words by itself: with 30 entries, "want" or "我"
 * may appear in one entry and look as rare as "invoice". The scorer blends these
 * shares into its document frequencies as a prior worth a few dozen questions, so a
 * big knowledge base's own statistics dominate and a small one still knows that
 * "do you" carries no meaning.
 */
const tiers: [number, string][] = [
  [0.5, "i you the a to"],
  [0.35, "my is do can what how me it your"],
  [0.25, "of for in on and be are this that have with want need get please"],
  [0.15, "like would could will there does at from an or if so am was just about know tell give help let make some any much many when where which who why should did has had not no yes ok okay thanks thank hi hello our we they them their up out by as all one more also now still again here go see use way"],
  [0.08, "its it's im i'm dont don't cant can't whats what's hey pls plz thx u ur"],
];
const cjk: [number, string][] = [
  [0.4, "我 的 吗 你 了"],
  [0.25, "么 怎 什 是 有 么 可 以 能 在 要 想 您 呢 吧 啊 请 问 们 这 那 个 一 下 好 说 到 就 会 去 给 还 也 都 和 很"],
];
const cjkBigrams: [number, string][] = [
  [0.3, "怎么 什么 可以 你们 我们 我的 请问 一下 是不 不是 能不 为什 么办 怎样 如何 的话 是什"],
];

const table = new Map<string, number>();
for (const [p, words] of tiers) for (const w of words.split(" ")) table.set(`w${w}`, p);
for (const [p, chars] of cjk) for (const c of chars.split(" ")) table.set(`c${c}`, p);
for (const [p, grams] of cjkBigrams) for (const b of grams.split(" ")) table.set(`b${b}`, p);

/** Background share of questions containing a typed feature (`w`ord, `c`jk char, `b`igram); 0 when unknown. */
export function backgroundShare(feature: string): number {
  return table.get(feature) ?? 0;
}
