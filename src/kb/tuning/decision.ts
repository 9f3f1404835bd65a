/**
 * What the answer pipeline would do with a question's ranking, in the words of the admin console: the shared
 * decision (`../decision.ts`: direct, suggest or none) mapped onto the pipeline's paths — with an LLM provider
 * configured every question that is not answered verbatim goes to the model (grounded in the top entries, with
 * the choices as its fallback); without one the choices are offered, or the fallback reply sent. Plugins, the
 * answer cache and business hours come before this in the pipeline and are left out.
 */
import { decide, type Ranked } from "../decision.ts";
import type { AnswerPath, Thresholds } from "../types.ts";

export type HitPath = "direct" | "choices" | "llm" | "fallback";

export interface HitDecision<M extends Ranked> {
  path: HitPath;
  /** Why, with the numbers: "confidence 0.91 ≥ direct 0.85: ...". */
  reason: string;
  /** The entry answered verbatim (direct). */
  entry?: M;
  /** The "did you mean" choices (choices; with an LLM, what it falls back to). */
  choices: M[];
}

/** A threshold as set (0.85, 0.995). */
const th = (x: number) => String(Math.round(x * 10_000) / 10_000);
/** A confidence to two decimals, or more where two would put it on the other side of `threshold`. */
function conf(c: number, threshold: number): string {
  for (let d = 2; d < 6; d++) if (Number(c.toFixed(d)) >= threshold === c >= threshold) return c.toFixed(d);
  return c.toFixed(6);
}

/** The pipeline's path for the shared decision's: with an LLM, everything not direct goes to the model. */
export function hitPath(path: AnswerPath, llm: boolean): HitPath {
  if (path === "direct") return "direct";
  if (llm) return "llm";
  return path === "suggest" ? "choices" : "fallback";
}

export function hitDecision<M extends Ranked>(matches: M[], thresholds: Thresholds, llm: boolean): HitDecision<M> {
  const d = decide(matches, thresholds);
  const direct = th(thresholds.direct);
  const suggest = th(thresholds.suggest);
  // Digits enough to be on the right side of both thresholds.
  const c = [conf(d.confidence, thresholds.direct), conf(d.confidence, thresholds.suggest)].sort((a, b) => b.length - a.length)[0];
  if (d.path === "direct") {
    return { path: "direct", reason: `confidence ${c} ≥ direct ${direct}: answered verbatim with entry ${d.entry!.id}`, entry: d.entry, choices: [] };
  }
  if (d.path === "suggest") {
    const offered = `${d.choices.length} "did you mean" choice${d.choices.length === 1 ? "" : "s"}`;
    return llm
      ? { path: "llm", reason: `confidence ${c} < direct ${direct}: the LLM answers, grounded in the top entries (${offered} if it cannot)`, choices: d.choices }
      : { path: "choices", reason: `suggest ${suggest} ≤ confidence ${c} < direct ${direct}: ${offered} offered (no LLM configured)`, choices: d.choices };
  }
  const why = matches.length === 0 ? "no entry matched at all" : `confidence ${c} < suggest ${suggest}: no entry is close enough`;
  return llm
    ? { path: "llm", reason: `${why}; the LLM answers from what the knowledge base has`, choices: [] }
    : { path: "fallback", reason: `${why}; the fallback reply is sent (no LLM configured)`, choices: [] };
}
