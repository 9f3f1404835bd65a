import { describe, expect, test } from "bun:test";
import { demoShopFaq } from "../demo/shop-faq.ts";
import { memoryTermStats } from "./eval.ts";
import { codesOf, compactChars, type CandidateEntry, dot, phrasingEntriesOf, lcsMasks, lcsRatio, lcsRatioWith, prepareQuery, scoreCandidates, signalsFor, vectorize } from "./scorer.ts";

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
    expect(phrasingEntriesOf(a).keys).toEqual([...a.keys()]);
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

  test("bit for bit: a query's cosine with each demo phrasing from cached entries (numbered features) as from the maps", () => {
    // Cached entries take the dot products through numbered features; the sums must add the same products in the
    // same order as the maps' (a different order moves the last bits, and with them ties between phrasings).
    const demo = demoShopFaq.map((e) => [e.question, ...e.alts]);
    const demoStats = memoryTermStats(demo.flat());
    const vectors = demo.map((p) => p.map((x) => vectorize(x, demoStats)));
    const cachedEntries = vectors.map((vs) => vs.map(phrasingEntriesOf));
    const asked = [...demo.flat().map((p) => `${p} please, thank you`), ...demo.flat().map((p) => p.slice(0, Math.ceil(p.length / 2)))];
    let pairs = 0;
    let differ = 0;
    for (const text of asked) {
      // One prepared query per path, used against every entry (as a search does).
      const q = prepareQuery(text, demoStats);
      const plain = prepareQuery(text, demoStats);
      for (let e = 0; e < demo.length; e++) {
        const viaIds = signalsFor(q, vectors[e]!, demo[e]!, 0, undefined, undefined, cachedEntries[e]);
        const viaMaps = signalsFor(plain, vectors[e]!, demo[e]!, 0);
        pairs++;
        if (viaIds.best !== viaMaps.best || viaIds.signals.phrasing !== viaMaps.signals.phrasing || viaIds.signals.missingInQuery !== viaMaps.signals.missingInQuery) differ++;
      }
    }
    expect(pairs).toBeGreaterThan(10_000);
    expect(differ).toBe(0);
  }, 30_000);

  test("when the feature numbering starts over (200,000 numbers given), entries numbered before still score as the maps do", () => {
    const texts = ["wq7 numbering restart check", "numbering restart", "restart check wq7"];
    const own = memoryTermStats(texts);
    const vecs = texts.map((t) => vectorize(t, own));
    const before = vecs.map(phrasingEntriesOf);
    // Other knowledge bases' phrasings number 210,000 more features: past the cap, so the numbering starts over.
    for (let chunk = 0; chunk < 210; chunk++) phrasingEntriesOf(new Map(Array.from({ length: 1000 }, (_, i) => [`wfill${chunk}_${i}`, 0.03] as [string, number])));
    const after = vecs.map(phrasingEntriesOf);
    for (const query of ["numbering restart check wq7 please", "check", "wq7 restart"]) {
      const viaMaps = signalsFor(prepareQuery(query, own), vecs, texts, 0);
      for (const entries of [before, after]) {
        const viaIds = signalsFor(prepareQuery(query, own), vecs, texts, 0, undefined, undefined, entries);
        expect([viaIds.best, viaIds.signals.phrasing]).toEqual([viaMaps.best, viaMaps.signals.phrasing]);
      }
    }
    expect(signalsFor(prepareQuery("numbering restart check", own), vecs, texts, 0).signals.phrasing).toBeGreaterThan(0.5);
  });

  test("a query prepared before a phrasing's features were numbered still finds them", () => {
    const texts = ["zqxv wplk ortho fenwick", "zqxv wplk", "fenwick ortho"];
    const own = memoryTermStats(texts);
    const q = prepareQuery("zqxv wplk ortho fenwick please", own);
    const vecs = texts.map((t) => vectorize(t, own));
    const viaIds = signalsFor(q, vecs, texts, 0, undefined, undefined, vecs.map(phrasingEntriesOf));
    const viaMaps = signalsFor(prepareQuery("zqxv wplk ortho fenwick please", own), vecs, texts, 0);
    expect(viaIds.signals.phrasing).toBeGreaterThan(0.5);
    expect(viaIds.signals.phrasing).toBe(viaMaps.signals.phrasing);
    expect(viaIds.best).toBe(viaMaps.best);
  });
});
