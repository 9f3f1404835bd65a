import { type Static, Type as t } from "@sinclair/typebox";
import { DEFAULT_THRESHOLDS } from "./engine";

/** `[kb]`: decision thresholds and document chunking. Thresholds apply to the one confidence in [0, 1]. */
export const kbSection = t.Object(
  {
    direct: t.Number({
      default: DEFAULT_THRESHOLDS.direct,
      minimum: 0,
      maximum: 1,
      description: "Confidence at or above which the bot answers with the entry's answer verbatim (and never calls the LLM). The confidence is the estimated probability that the top entry is the right answer, calibrated for this knowledge base in the background after every change; the default gave at least 90% right verbatim answers on the English development sets (src/kb/README.md).",
    }),
    suggest: t.Number({
      default: DEFAULT_THRESHOLDS.suggest,
      minimum: 0,
      maximum: 1,
      description: 'Confidence at or above which the best entries are offered as "did you mean ..." choices when no answer is direct (with an LLM configured, the model answers grounded in them instead); below it the question counts as not matched.',
    }),
    embedder: t.Union([t.Literal("builtin"), t.Literal("onnx")], { default: "builtin", description: 'Sentence vectors for matching: builtin (no model files) or onnx (the [models.embedder] model, in worker threads; docs/models.md). Switching re-indexes at the next start; a model that cannot load falls back to builtin with one log line.' }),
    search_workers: t.Union([t.Literal("auto"), t.Integer({ minimum: 0, maximum: 16 })], {
      default: "auto",
      description: 'Worker threads that run knowledge-base retrieval and scoring beside the main thread, each with its own read-only connection to the database (src/kb/search-pool.ts; docs/performance.md). "auto" (the default): one per CPU core beyond the first, at most 4 (none on one core); 0: every search in the main thread. Answers are the same either way; a worker that is busy, dies or falls behind hands its search back to the main thread.',
    }),
    chunk_size: t.Integer({ default: 600, minimum: 100, maximum: 20000, description: "Target length in characters of the chunks imported documents are split into." }),
    chunk_overlap: t.Integer({ default: 100, minimum: 0, maximum: 5000, description: "Characters repeated from the end of the previous chunk, so a sentence cut at a boundary is still found." }),
  },
  { additionalProperties: false, description: "Knowledge base matching and import." },
);

export type KbConfig = Static<typeof kbSection>;
