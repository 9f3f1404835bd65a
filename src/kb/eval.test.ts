import { describe, expect, test } from "bun:test";
import { coverageAtPrecision, decisionFigures, evalPairs, evalQueries, percentile, rocAuc } from "./eval.ts";

describe("eval", () => {
  test("ROC AUC with ties", () => {
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBe(0.75);
    expect(rocAuc([0.5, 0.5], [0, 1])).toBe(0.5);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
  });

  test("queries report top-k, MRR and out-of-scope accuracy", async () => {
    const kb = "id,question,answer,alt_questions\nreturns,怎么退货,去订单页,我想退货 || 退货流程\nhours,What are your opening hours?,9-18,when are you open\n";
    const queries = [
      { query: "退货", expected: "returns" },
      { query: "when do you open", expected: "hours" },
      { query: "xylophone lessons in Zurich", expected: null },
    ]
      .map((q) => JSON.stringify(q))
      .join("\n");
    const r = await evalQueries(kb, queries);
    expect(r.n).toBe(3);
    expect(r.top1).toBe(1);
    expect(r.mrr).toBe(1);
    expect(r.auc).toBeNull();
    expect(r.oos_accuracy).toBeGreaterThan(0.6);
    expect(Object.keys(r)).toEqual([
      "n",
      "top1",
      "top3",
      "mrr",
      "oos_accuracy",
      "auc",
      "p50_ms",
      "p99_ms",
      "direct_precision",
      "direct_coverage",
      "false_direct_rate",
      "coverage_at_p90",
      "suggest_hit_rate",
    ]);
  });

  test("pairs report AUC", async () => {
    const tsv = "text_a\ttext_b\tlabel\n怎么退货\t我想退货\t1\n怎么退货\t多久发货\t0\n开发票\t发票怎么开\t1\n开发票\t修改密码\t0\n";
    const r = await evalPairs(tsv);
    expect(r.n).toBe(4);
    expect(r.auc).toBe(1);
  });
});

describe("decision figures", () => {
  const o = (expected: string | null, top: string, confidence: number, choices: string[] = [top]) => ({ query: "", expected, ranked: [top], confidence, choices, ms: 0 });
  test("precision, coverage, false directs and suggestion hits at the thresholds; best coverage at 90% precision", () => {
    const outcomes = [
      o("a", "a", 0.95),
      o("b", "b", 0.9),
      o("c", "x", 0.88), // confident and wrong
      o("d", "d", 0.5),
      o("e", "y", 0.4, ["y", "e"]), // the right entry among the choices
      o("f", "z", 0.35, ["z"]),
      o(null, "a", 0.86), // out of scope, answered verbatim
      o(null, "b", 0.1),
    ];
    const f = decisionFigures(outcomes, { direct: 0.85, suggest: 0.3 });
    expect(f.direct_precision).toBe(0.5); // a, b right of a, b, c, oos
    expect(f.direct_coverage).toBe(0.3333); // 2 of 6 in scope
    expect(f.false_direct_rate).toBe(0.5);
    expect(f.suggest_hit_rate).toBe(0.6667); // d (top) and e (choice) of d, e, f
    expect(f.coverage_at_p90).toBe(0.3333); // threshold 0.9: a, b both right
    expect(coverageAtPrecision(outcomes, 1)).toBe(2);
  });
});
