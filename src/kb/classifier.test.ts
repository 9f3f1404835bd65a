import { describe, expect, test } from "bun:test";
import { classifierScores, classifierScoresBySet } from "./classifier.ts";
import { memoryTermStats } from "./eval.ts";
import { vectorize } from "./scorer.ts";

// Two entries that share most words ("my card"); their alternatives show which words tell them apart.
const lost = ["i lost my card", "my card is lost", "i can not find my card", "where did my card go"];
const declined = ["my card was declined", "why was my card declined", "my card got rejected", "card payment rejected"];
const other = ["how do i change my address", "update my address"];
const stats = memoryTermStats([...lost, ...declined, ...other]);
const vecs = (xs: string[]) => xs.map((x) => vectorize(x, stats));

describe("phrasing classifier", () => {
  test("scores the entry whose phrasings share the query's distinguishing words highest, centred on 0", () => {
    const s = classifierScores(vectorize("my card got declined at the shop", stats), [vecs(lost), vecs(declined), vecs(other)]);
    expect(s[1]!).toBeGreaterThan(s[0]!);
    expect(s[1]!).toBeGreaterThan(s[2]!);
    expect(Math.abs(s.reduce((a, b) => a + b, 0))).toBeLessThan(1e-9);
    const t = classifierScores(vectorize("cannot find my card", stats), [vecs(lost), vecs(declined), vecs(other)]);
    expect(t[0]!).toBeGreaterThan(t[1]!);
  });

  test("is deterministic and neutral with fewer than two classes", () => {
    const q = vectorize("card declined", stats);
    expect(classifierScores(q, [vecs(lost), vecs(declined)])).toEqual(classifierScores(q, [vecs(lost), vecs(declined)]));
    expect(classifierScores(q, [vecs(declined)])).toEqual([0]);
    expect(classifierScores(q, [])).toEqual([]);
  });

  test("by set: the same scores in any order of the classes, to the rounding; a class weighed again is not served stale", () => {
    const [a, b, c] = [vecs(lost), vecs(declined), vecs(other)];
    const q = vectorize("my card got declined at the shop", stats);
    const plain = classifierScores(q, [a, b, c]);
    const abc = classifierScoresBySet(q, [a, b, c], [1, 2, 3]);
    abc.forEach((s, i) => expect(Math.abs(s - plain[i]!)).toBeLessThan(1e-12));
    // Another order is the same set: the same model, so exactly the same scores, permuted.
    expect(classifierScoresBySet(q, [c, a, b], [3, 1, 2])).toEqual([abc[2]!, abc[0]!, abc[1]!]);
    // The same phrasings in new arrays (a candidate cached elsewhere): trained again, the same scores to the bit.
    expect(classifierScoresBySet(q, [vecs(other), vecs(lost), vecs(declined)], [3, 1, 2])).toEqual([abc[2]!, abc[0]!, abc[1]!]);
    // The "declined" entry gets new phrasings (its vectors are a new array): the model is trained again.
    const b2 = vecs(["my card was declined", "card declined again"]);
    const fresh = classifierScoresBySet(q, [a, b2, c], [1, 2, 3]);
    const expected = classifierScores(q, [a, b2, c]);
    fresh.forEach((s, i) => expect(Math.abs(s - expected[i]!)).toBeLessThan(1e-12));
    expect(fresh[1]).not.toBe(abc[1]);
  });
});
