import { describe, expect, test } from "bun:test";
import { memoryTermStats } from "./eval.ts";
import { editDistance, longestCommonSubstring, PAIR_FEATURES, PairCorpusStats, pairFeatures, pairLogit, pairScore, scorePairList } from "./pair-scorer.ts";

const corpus = ["怎么退货", "我想退货", "多久发货", "发货要几天", "开发票", "发票怎么开", "修改密码", "密码忘了怎么办", "怎么借款", "如何贷款"];

describe("pair scorer", () => {
  test("identical questions score near 1, unrelated ones low, paraphrases in between", async () => {
    const [same, para, other] = await scorePairList(
      [
        { a: "发票怎么开", b: "发票怎么开" },
        { a: "怎么退货", b: "我想退货" },
        { a: "怎么退货", b: "修改密码" },
      ],
      { stats: new PairCorpusStats(corpus), termStats: memoryTermStats(corpus) },
    );
    expect(same!).toBeGreaterThan(0.9);
    expect(para!).toBeGreaterThan(other!);
    expect(other!).toBeLessThan(0.2);
  });

  test("features are symmetric and canonicalized", () => {
    const ctx = { stats: new PairCorpusStats(corpus), termStats: memoryTermStats(corpus) };
    const ab = pairFeatures("为啥不能退货呢", "怎么退货", ctx);
    const ba = pairFeatures("怎么退货", "为啥不能退货呢", ctx);
    const sym = PAIR_FEATURES.map((f, i) => [f, i] as const).filter(([f]) => !f.startsWith("engine"));
    for (const [, i] of sym) expect(ab[i]!).toBeCloseTo(ba[i]!, 9);
    expect(ab[PAIR_FEATURES.indexOf("negMismatch")]).toBe(1);
    // 如何 and 怎么 are the same word after canonicalization.
    const f = pairFeatures("如何退货", "怎么退货", ctx);
    expect(f[PAIR_FEATURES.indexOf("cos1")]).toBeCloseTo(1, 9);
  });

  test("distributional similarity: characters in the same contexts are closer than unrelated ones", () => {
    const stats = new PairCorpusStats(["怎么借款", "如何借款", "怎么贷款", "如何贷款", "借款利息", "贷款利息", "修改密码", "忘记密码"]);
    expect(stats.charSim("借", "贷")).toBeGreaterThan(stats.charSim("借", "密"));
    expect(stats.charSim("借", "借")).toBe(1);
  });

  test("pairScore is pairLogit of the features, bit for bit, with b's side kept between pairs", () => {
    const texts = [...corpus, "为啥不能退货呢", "how do I reset my password", "password reset please", "", "!!", "怎么怎么退退货"];
    const ctx = { stats: new PairCorpusStats(corpus), termStats: memoryTermStats(corpus) };
    for (const a of texts) for (const b of texts) expect(pairScore(a, b, ctx, 0.3)).toBe(pairLogit(pairFeatures(a, b, ctx, 0.3)));
    // Again, now with every side and similarity cached.
    for (const a of texts) for (const b of texts) expect(pairScore(a, b, ctx)).toBe(pairLogit(pairFeatures(a, b, ctx)));
  });

  test("edit distance and longest common substring", () => {
    const c = (s: string) => Array.from(s);
    expect(editDistance(c("kitten"), c("sitting"))).toBe(3);
    expect(editDistance(c(""), c("abc"))).toBe(3);
    expect(editDistance(c("abc"), c(""))).toBe(3);
    expect(longestCommonSubstring(c("怎么退货呢"), c("我想退货"))).toBe(2);
    expect(longestCommonSubstring(c("abcdef"), c("zcdez"))).toBe(3);
    expect(longestCommonSubstring(c(""), c("a"))).toBe(0);
  });
});
