/**
 * The hit test: one question through the search the chat uses, shown with everything the engine computed
 * about it — each ranked entry's confidence and match signals, the calibrator's features of the top entry
 * and what each contributes to its confidence, and the decision at the thresholds in force.
 */
import { badRequest } from "../../errors/kefu-error.ts";
import { normalizeText } from "../../text/normalize.ts";
import { CALIBRATION_FEATURES } from "../calibration.ts";
import type { KnowledgeBase, SearchMatch } from "../engine.ts";
import { hitDecision } from "./decision.ts";

const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;
const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The engine's match signals of one entry, snake_case; `fts`/`vector` (which search found it) as 1 or 0. */
export function signalScores(m: SearchMatch): Record<string, number> {
  const out: Record<string, number> = { match: round(m.match) };
  for (const [k, v] of Object.entries(m.signals)) out[snake(k)] = typeof v === "boolean" ? Number(v) : round(v);
  return out;
}

/** Hit test of `q`; `llm`: an LLM provider is configured (questions not answered verbatim go to it). */
export async function hitTest(kb: KnowledgeBase, q: string, llm: boolean, k = 10) {
  // As the answer pipeline asks it.
  const question = normalizeText(q, { lowercase: false });
  if (!question) throw badRequest("q is empty");
  const thresholds = { ...kb.thresholds };
  const [{ version, matches }, ranked] = await Promise.all([kb.search(question, { k }), kb.rankForCalibration(question)]);
  const decision = hitDecision(matches, thresholds, llm);
  const cal = kb.calibrator;
  return {
    q,
    kb_version: version,
    thresholds,
    decision: { path: decision.path, reason: decision.reason, entry_id: decision.entry?.id ?? null, choices: decision.choices.map((c) => c.id) },
    entries: matches.map((m) => ({
      id: m.id,
      question: m.question,
      matched: m.matched,
      confidence: round(m.confidence),
      signals: signalScores(m),
      explanation: m.explanation,
    })),
    // The top entry's confidence is sigmoid(bias + Σ contributions), floored at 0.99 for an exact unrivalled match.
    calibration: ranked
      ? {
          bias: round(cal.bias),
          features: Object.fromEntries(CALIBRATION_FEATURES.map((name, i) => [name, round(ranked.features[i]!)])),
          contributions: Object.fromEntries(CALIBRATION_FEATURES.map((name, i) => [name, round((cal.weights[i] ?? 0) * ranked.features[i]!)])),
        }
      : null,
  };
}
