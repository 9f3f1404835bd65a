import { type Static, Type as t } from "@sinclair/typebox";

/**
 * `[answer]` section: the answer pipeline around the knowledge base and the LLM layer (cache, grounding
 * budget, REST access, off-hours batch). Flow control of model calls lives in `[llm]`, opening hours in
 * `[hours]`.
 */
export const answerSection = t.Object(
  {
    cache_size: t.Integer({ default: 2000, minimum: 0, maximum: 1000000, description: "Answers kept in the in-memory answer cache (0 disables it). Only knowledge-base direct answers and first-turn LLM answers are cached." }),
    cache_ttl_s: t.Integer({ default: 600, minimum: 1, maximum: 604800, description: "How long a cached answer may be served, in seconds. An edit to the knowledge base invalidates earlier answers at once, whatever the TTL." }),
    context_entries: t.Integer({ default: 4, minimum: 0, maximum: 50, description: "Best knowledge-base entries given to the LLM as grounding context." }),
    context_chunks: t.Integer({ default: 4, minimum: 0, maximum: 50, description: "Best document chunks given to the LLM as grounding context." }),
    suggestions: t.Integer({ default: 3, minimum: 0, maximum: 10, description: 'Entries offered as "did you mean …" when no model answers in time: only when the top entry is at or above the knowledge base\'s suggest threshold, then the top entry and the runners-up with at least a tenth of its confidence.' }),
    ask_open: t.Boolean({ default: false, description: "Let anyone call POST /api/ask without a token. Leave false on a public server: every call may cost a model request." }),
    ask_tokens: t.Array(t.String({ pattern: "^[0-9a-f]{64}$" }), {
      default: [],
      description: "SHA-256 hashes (lowercase hex) of the bearer tokens allowed to call POST /api/ask. Hashes, so the config file does not hold the secrets; make one with `printf %s \"$TOKEN\" | sha256sum`.",
    }),
    pending_concurrency: t.Integer({ default: 2, minimum: 1, maximum: 256, description: "Off-hours questions answered at the same time by the batch job (keep it below the providers' max_concurrency so visitors who arrive at opening time still get a model)." }),
    pending_retention_days: t.Integer({ default: 30, minimum: 1, maximum: 3650, description: "Answered or handed-off off-hours questions are deleted after this many days." }),
  },
  { additionalProperties: false, description: "Answer pipeline: cache, grounding, REST ask, off-hours questions." },
);

export type AnswerConfig = Static<typeof answerSection>;
