/**
 * The chat's decision from ranked matches: a verbatim answer, "did you mean"
 * choices, or nothing. One place, used by `KnowledgeBase.ask`, the answer
 * pipeline and `kefu eval`, so what eval measures is what visitors get.
 */
import type { AnswerPath, Thresholds } from "./types.ts";

/** At most this many choices are offered. */
export const MAX_CHOICES = 3;

/**
 * A runner-up is offered beside the top entry only when its confidence is at least this
 * share of the top's: a far weaker entry is noise in a "did you mean" list.
 */
export const CHOICE_RATIO = 0.1;

export interface Ranked {
  id: string;
  confidence: number;
}

export interface Decision<M extends Ranked> {
  path: AnswerPath;
  /** Top confidence (0 when nothing matched). */
  confidence: number;
  /** The entry answered verbatim (path "direct"). */
  entry?: M;
  /** What "did you mean" offers (path "suggest"), best first; empty otherwise. */
  choices: M[];
}

export function decide<M extends Ranked>(matches: M[], thresholds: Thresholds): Decision<M> {
  const top = matches[0];
  const confidence = top?.confidence ?? 0;
  if (top && confidence >= thresholds.direct) return { path: "direct", confidence, entry: top, choices: [] };
  if (!top || confidence < thresholds.suggest) return { path: "none", confidence, choices: [] };
  return { path: "suggest", confidence, choices: choicesOf(matches) };
}

/** The top entry and the runners-up close enough to it to be worth offering. */
export function choicesOf<M extends Ranked>(matches: M[]): M[] {
  const top = matches[0];
  if (!top) return [];
  return matches.slice(0, MAX_CHOICES).filter((m, i) => i === 0 || m.confidence >= top.confidence * CHOICE_RATIO);
}
