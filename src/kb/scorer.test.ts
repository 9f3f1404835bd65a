import { describe, expect, test } from "bun:test";
import { memoryTermStats } from "./eval.ts";
import { codesOf, compactChars, type CandidateEntry, dot, entriesOf, lcsMasks, lcsRatio, lcsRatioWith, prepareQuery, scoreCandidates, vectorize } from "./scorer.ts";

const phrasings = [
  ["如何申请退货退款？", "怎么退货", "我想退货", "收到的商品可以退吗"],
  ["多久发货？", "什么时候发货", "发货要几天"],
  ["How do I reset my password?", "forgot my password", "cannot log in, password lost"],
  ["What are your opening hours?"],
  ["可以开发票吗？", "怎么开发票", "发票怎么申请"],
];
const stats = memoryTermStats(phrasings.flat());
const fresh = (): CandidateEntry[] => phrasings.map((p, key) => ({ key, phrasings: p, dense: 0.1 * key }));

describe("scorer", () => {
  test("order overlap is the same on code points as on characters, whatever was compared before", () => {
    const texts = ["怎么退货呢", "我想退货", "", "a", "How do I reset my password? How do I reset it again, and again, and again?", "forgot my password"];
    for (const a of texts) {
      for (const b of texts) {
        const [ca, cb] = [compactChars(a), compactChars(b)];
        expect(lcsRatio(codesOf(ca), codesOf(cb))).toBe(lcsRatio(ca, cb));
      }
    }
    expect(lcsRatio(compactChars("abcd"), compactChars("abed"))).toBe(0.75);
  });

  test("the bit-parallel order overlap equals the dynamic programme, across word boundaries", () => {
    let seed = 3;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return Math.floor((seed / 2 ** 32) * n);
    };
    const alphabet = Array.from("abcde退货发票的了");
    for (let t = 0; t < 3000; t++) {
      const a = Array.from({ length: rand(170) }, () => alphabet[rand(alphabet.length)]!);
      const b = Array.from({ length: t % 7 === 0 ? 0 : rand(170) }, () => alphabet[rand(alphabet.length)]!);
      const masks = lcsMasks(codesOf(a));
      expect(lcsRatioWith(codesOf(b), masks)).toBe(lcsRatio(a, b));
    }
    expect(lcsRatioWith(codesOf(Array.from("abcd")), lcsMasks(codesOf(Array.from("abed"))))).toBe(0.75);
  });

  test("dot over entries arrays equals dot over maps", () => {
    const a = vectorize("怎么退货 password", stats);
    const b = vectorize("我想退货", stats);
    expect(dot(a, b)).toBeGreaterThan(0);
    expect(entriesOf(a).keys).toEqual([...a.keys()]);
  });

  test("scores do not depend on what a candidate has cached from earlier queries", () => {
    const cached = fresh();
    for (const query of ["退货怎么弄", "reset password", "发票", "opening hours please", "发货几天能到"]) {
      const q = prepareQuery(query, stats);
      const once = scoreCandidates(q, cached, stats);
      const again = scoreCandidates(prepareQuery(query, stats), fresh(), stats);
      expect(once).toEqual(again);
      expect(once.map((r) => r.logit)).toEqual(again.map((r) => r.logit));
    }
  });
});
