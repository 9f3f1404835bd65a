import { type Static, Type as t } from "@sinclair/typebox";
import { DEFAULT_THRESHOLDS } from "./engine";

/** `[kb]`: decision thresholds and document chunking. Thresholds apply to the one confidence in [0, 1]. */
export const kbSection = t.Object(
  {
    direct: t.Number({
      default: DEFAULT_THRESHOLDS.direct,
      minimum: 0,
      maximum: 1,
      description: "Confidence at or above which the bot answers with the entry's answer verbatim (and never calls the LLM). The confidence estimates the probability that the entry answers the question.",
    }),
    suggest: t.Number({
      default: DEFAULT_THRESHOLDS.suggest,
      minimum: 0,
      maximum: 1,
      description: 'Confidence at or above which entries are offered as "did you mean ..." when no answer is direct; below it the question counts as not matched.',
    }),
    chunk_size: t.Integer({ default: 600, minimum: 100, maximum: 20000, description: "Target length in characters of the chunks imported documents are split into." }),
    chunk_overlap: t.Integer({ default: 100, minimum: 0, maximum: 5000, description: "Characters repeated from the end of the previous chunk, so a sentence cut at a boundary is still found." }),
  },
  { additionalProperties: false, description: "Knowledge base matching and import." },
);

export type KbConfig = Static<typeof kbSection>;
