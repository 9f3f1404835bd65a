import { normalizeForMatch } from "../text/normalize";

/**
 * Words that contain (or run across) a Chinese handoff keyword without asking for a human: 人工 is "human" in
 * 转人工 / 人工客服 but "artificial" in 人工智能 and "labour" in 人工费, and 机器人|工作 only puts 人 and 工 side by side.
 * Compared after `normalizeForMatch`, like the keywords.
 */
export const NON_HANDOFF_COMPOUNDS: readonly string[] = [
  // artificial …
  "人工智能",
  "人工智慧",
  "人工湖",
  "人工岛",
  "人工林",
  "人工降雨",
  "人工降水",
  "人工合成",
  "人工添加",
  "人工色素",
  "人工香料",
  "人工甜味剂",
  "人工养殖",
  "人工种植",
  "人工培育",
  "人工草坪",
  "人工草皮",
  "人工造",
  "人工制",
  "人工皮革",
  "人工宝石",
  "人工钻石",
  "人工神经",
  "人工呼吸",
  "人工授精",
  "人工流产",
  "人工心脏",
  "人工关节",
  "人工晶体",
  "人工耳蜗",
  // labour (cost)
  "人工费",
  "人工成本",
  "人工工资",
  // …人 + 工… across a word boundary
  "机器人工作",
  "有人工作",
  "没人工作",
  "个人工作",
  "个人工资",
  "工人工作",
  "工人工资",
];

/**
 * Builds the "does the visitor ask for a human?" test from configured keywords.
 * Keywords with Latin letters or digits match whole words only ("agent" must not fire on "agentic", but does in
 * "我要agent"). Chinese has no spaces, so other (Chinese) keywords match inside the text ("我要人工", "找人工客服",
 * "人工！") except where the occurrence belongs to a longer word that means something else: an occurrence is ignored
 * when one of `compounds` (default `NON_HANDOFF_COMPOUNDS`) overlaps it and reaches beyond it, so 人工 does not fire in
 * "你们用人工智能吗" or "人工费多少", nor 转人工 in "转人工智能专业"; another occurrence in the same message still fires
 * ("人工智能太笨了，我要人工"). Full-width letters and case are folded on both sides.
 *
 * (A word segmenter does not do this: ICU's, behind `Intl.Segmenter("zh", { granularity: "word" })`, splits 人工智能
 * into 人工|智能 and 人工费 into 人工|费, and 人工客服 into 人工|客|服.)
 */
export function createKeywordMatcher(keywords: string[], compounds: readonly string[] = NON_HANDOFF_COMPOUNDS): (text: string) => boolean {
  const words: string[] = [];
  const fragments: string[] = [];
  for (const k of keywords) {
    const n = normalizeForMatch(k);
    if (!n) continue;
    (/[a-z0-9]/.test(n) ? words : fragments).push(n);
  }
  const escaped = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const wordRe = escaped.length ? new RegExp(`(?<![a-z0-9])(?:${escaped.join("|")})(?![a-z0-9])`) : null;
  const longer = [...new Set(compounds.map((c) => normalizeForMatch(c)).filter(Boolean))];
  return (text) => {
    const n = normalizeForMatch(text);
    if (wordRe !== null && wordRe.test(n)) return true;
    let spans: [number, number][] | undefined;
    for (const f of fragments) {
      for (let i = n.indexOf(f); i >= 0; i = n.indexOf(f, i + 1)) {
        spans ??= occurrences(n, longer);
        const end = i + f.length;
        // Overlaps the keyword and is not inside it: the keyword is part of that other word.
        if (!spans.some(([a, b]) => a < end && b > i && (a < i || b > end))) return true;
      }
    }
    return false;
  };
}

function occurrences(text: string, needles: string[]): [number, number][] {
  const out: [number, number][] = [];
  for (const w of needles) for (let i = text.indexOf(w); i >= 0; i = text.indexOf(w, i + 1)) out.push([i, i + w.length]);
  return out;
}
