import { describe, expect, test } from "bun:test";
import { CALIBRATION_FEATURES, CALIBRATION_SIGNS, calibratedConfidences, fitCalibrator, maximizingPair, PRIOR_CALIBRATOR, predict, type Sample } from "./calibration.ts";
import type { ScoredCandidate } from "./scorer.ts";
import { shortened, weighted } from "./calibration-job.ts";
import { openTempKb } from "./eval.ts";
import { SHOP_FAQ } from "./test/helpers.ts";

describe("calibrator fit", () => {
  const d = PRIOR_CALIBRATOR.weights.length;
  const x = (v: number, i = 1) => Array.from({ length: d }, (_, k) => (k === i ? v : 0));
  test("no samples: the prior comes back", () => {
    expect(fitCalibrator([], PRIOR_CALIBRATOR, 20)).toEqual(PRIOR_CALIBRATOR);
  });
  test("learns from samples, and keeps the sign of every weight", () => {
    // Margin (feature 1) separates right from wrong; unknown share (7, sign −) is noise made to look positive.
    const samples: Sample[] = [];
    for (let i = 0; i < 200; i++) {
      const right = i % 2 === 0;
      const f = x(right ? 1.5 : 0.2);
      f[7] = right ? 0.9 : 0.1;
      samples.push({ x: f, y: right ? 1 : 0, w: 1 });
    }
    const fit = fitCalibrator(samples, { bias: 0, weights: Array(d).fill(0) }, 0.1);
    expect(predict(fit, samples[0]!.x)).toBeGreaterThan(0.9);
    expect(predict(fit, samples[1]!.x)).toBeLessThan(0.1);
    fit.weights.forEach((w, i) => expect(w * CALIBRATION_SIGNS[i]!).toBeGreaterThanOrEqual(0));
  });
  test("in-scope and out-of-scope samples weigh half each", () => {
    const s = (inScope: boolean, kind: "phrasing" | "entry" | "background") => ({ x: [], y: 0 as const, inScope, kind });
    const w = weighted([s(true, "phrasing"), s(false, "entry"), s(false, "background"), s(false, "background")]);
    expect(w.map((v) => v.w)).toEqual([2, 1, 0.5, 0.5]);
  });
  test("shortened questions drop about a third, never the first token", () => {
    expect(shortened("how do I return an item")!.split(" ")).toHaveLength(4);
    expect(shortened("can I change the delivery address after ordering")!.split(" ")).toHaveLength(5);
    expect(shortened("how do I return an item")!.startsWith("how")).toBe(true);
    expect(shortened("退货")).toBeNull();
    expect(Array.from(shortened("退款多久到账？")!)).toHaveLength(4);
  });
});

describe("calibration of a knowledge base", () => {
  test("fitted on its own samples; stored and reused on reopen; an exact, unrivalled question is answered", async () => {
    const kb = await openTempKb();
    await kb.upsert(SHOP_FAQ);
    expect(kb.calibrator).toEqual(PRIOR_CALIBRATOR);
    await kb.calibrate();
    const fitted = kb.calibrator;
    expect(fitted).not.toEqual(PRIOR_CALIBRATOR);
    const stored = JSON.parse((kb.db.prepare("SELECT value FROM kb_meta WHERE key = 'calibration'").get() as { value: string }).value);
    expect(stored.version).toBe(kb.version());
    expect(stored.samples.inScope).toBeGreaterThan(0);
    expect(stored.samples.outOfScope).toBeGreaterThan(100);
    expect((await kb.ask("怎么退货")).path).toBe("direct");
    expect((await kb.ask("what is the capital of mongolia")).path).toBe("none");
    kb.db.close();
  }, 30_000);

  test("a shop with a single entry: its fit stays a probability, an unrelated question gets no verbatim answer", async () => {
    // Its in-scope samples ("Do you sell", the question shortened, and the question itself) weigh as much as 800
    // background questions together; a plain Newton fit ran away from them (bias +199, everything "direct").
    const kb = await openTempKb();
    await kb.upsert([{ id: "gift", question: "Do you sell gift cards?", answer: "Yes, from 50 to 500 yuan." }]);
    await kb.calibrate();
    expect(Math.abs(kb.calibrator.bias)).toBeLessThan(20);
    expect((await kb.ask("Is the cat in your logo real?")).path).not.toBe("direct");
    expect((await kb.ask("Do you sell gift cards?")).path).toBe("direct");
    kb.db.close();
  }, 30_000);

  test("a fit leaves the event loop turns for other work (timers run while it fits)", async () => {
    const kb = await openTempKb();
    await kb.upsert(SHOP_FAQ);
    let ticks = 0;
    let done = false;
    const tick = () => {
      ticks++;
      if (!done) setTimeout(tick, 0);
    };
    setTimeout(tick, 0);
    await kb.calibrate();
    done = true;
    expect(ticks).toBeGreaterThan(5);
    kb.db.close();
  }, 30_000);

  test("automatic: the old calibrator serves until the fit after a write is in", async () => {
    const kb = await openTempKb({ kb: { calibration: { auto: true, delayMs: 10 } } });
    await kb.upsert(SHOP_FAQ);
    const before = kb.calibrator;
    expect(before).toEqual(PRIOR_CALIBRATOR);
    for (let i = 0; i < 200 && kb.calibrator === before; i++) await Bun.sleep(25);
    expect(kb.calibrator).not.toEqual(before);
    kb.close();
    kb.db.close();
  }, 30_000);
});

describe("the pair bound", () => {
  test("every confidence at the maximizing pair logit is at least its value at any pair logit, for either sign of the weight", () => {
    let seed = 7;
    const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const candidate = (logit: number): ScoredCandidate => ({
      key: 0,
      bestPhrasing: 0,
      logit,
      evidence: logit - rand(),
      match: rand(),
      signals: { phrasing: rand(), entry: rand(), queryCoverage: rand(), phrasingCoverage: rand(), order: rand() < 0.1 ? 1 : rand(), dense: rand(), unknown: rand() * 0.5, phrasings: 1 + Math.floor(rand() * 3), cjkChars: 0, cjkBigrams: 0, words: 0, trigrams: 0, missingInPhrasing: rand(), missingInQuery: rand(), lengthGap: rand() * 2, classifier: rand() * 4 - 2 },
    });
    const pairAt = CALIBRATION_FEATURES.indexOf("pair");
    const withPair = (w: number) => ({ ...PRIOR_CALIBRATOR, weights: PRIOR_CALIBRATOR.weights.map((x, i) => (i === pairAt ? w : x)) });
    for (const cal of [withPair(0.9), withPair(-0.9), withPair(0.05), withPair(3)]) {
      for (let t = 0; t < 200; t++) {
        const ranked = Array.from({ length: 1 + Math.floor(rand() * 5) }, () => candidate(rand() * 8 - 4)).sort((a, b) => b.logit - a.logit);
        const bound = calibratedConfidences(ranked, maximizingPair(cal), cal);
        for (let pair = -30; pair <= 30; pair += 0.5) {
          calibratedConfidences(ranked, pair, cal).forEach((c, i) => expect(c).toBeLessThanOrEqual(bound[i]!));
        }
      }
    }
  });
});
