import { describe, expect, test } from "bun:test";
import { classifierScores } from "./classifier.ts";
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
});
