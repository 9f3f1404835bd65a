import { describe, expect, test } from "bun:test";
import { chunkText } from "./chunk.ts";
import { normalizeForMatch, normalizeText, tidyText } from "./normalize.ts";
import { hamming, nearDuplicatePairs, simhash } from "./simhash.ts";
import { analyze, charTrigrams, features, indexTerms, stem } from "./tokenize.ts";

describe("normalize", () => {
  test("NFKC full-width to half-width, case, whitespace", () => {
    expect(normalizeForMatch("  ＩＰｈｏｎｅ　１５\t怎么  退货？ ")).toBe("iphone 15 怎么 退货?");
    expect(normalizeText("Ａ，Ｂ。", { lowercase: false })).toBe("A,B.");
    expect(tidyText(" Hello\u3000 World ")).toBe("Hello World");
  });
});

describe("tokenize", () => {
  test("mixed Chinese and English", () => {
    expect(analyze("iPhone 怎么退货？")).toEqual({ words: ["iphon"], cjkRuns: ["怎么退货"] });
    expect(indexTerms("iPhone 怎么退货")).toEqual(["iphon", "怎", "么", "退", "货", "怎么", "么退", "退货"]);
  });

  test("Latin words and numbers written against Chinese without a space are split from it", () => {
    expect(analyze("iPhone怎么退货")).toEqual({ words: ["iphon"], cjkRuns: ["怎么退货"] });
    expect(analyze("5万块钱做什么生意")).toEqual({ words: ["5"], cjkRuns: ["万块钱做什么生意"] });
    expect(analyze("玩FPS游戏")).toEqual({ words: ["fps"], cjkRuns: ["玩", "游戏"] });
  });

  test("light stemming folds inflections only", () => {
    expect(["reservations", "running", "stopped", "calling", "cities", "making", "make", "bus", "status"].map(stem)).toEqual([
      "reservation",
      "run",
      "stop",
      "call",
      "city",
      "mak",
      "mak",
      "bus",
      "status",
    ]);
    expect(analyze("hodak's")).toEqual({ words: ["hodak"], cjkRuns: [] });
  });

  test("typed features keep kinds apart", () => {
    const f = features("Refund 退货");
    expect(f.get("wrefund")).toBe(1);
    expect(f.get("g^re")).toBe(1);
    expect(f.get("c退")).toBe(1);
    expect(f.get("b退货")).toBe(1);
    expect(charTrigrams("ab")).toEqual(["^ab", "ab$"]);
    expect(charTrigrams("a")).toEqual(["^a$"]);
  });
});

describe("chunk", () => {
  test("short text is one chunk; long text overlaps and cuts at boundaries", () => {
    expect(chunkText("short")).toEqual(["short"]);
    const text = Array.from({ length: 40 }, (_, i) => `Sentence number ${i}.`).join(" ");
    const chunks = chunkText(text, { size: 100, overlap: 20 });
    expect(chunks.length).toBeGreaterThan(5);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(100);
    expect(chunks[0]!.endsWith(".")).toBe(true);
    expect(chunks.join(" ")).toContain("Sentence number 39.");
  });
});

describe("simhash", () => {
  test("near-identical questions are close, different ones far", () => {
    const a = simhash("如何申请退货退款？");
    expect(hamming(a, simhash("如何申请退货退款"))).toBeLessThanOrEqual(3);
    expect(hamming(a, simhash("What are your opening hours?"))).toBeGreaterThan(10);
    const hs = ["What are your opening hours?", "what are your opening hours", "Shipping to Canada"].map(simhash);
    expect(nearDuplicatePairs(hs, new Set([1]))).toEqual([[0, 1, 0]]);
  });
});
