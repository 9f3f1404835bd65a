import { type Static, type TObject, Type as t } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";

/**
 * `[models]`: local ONNX models run by transformers.js in worker threads. Nothing here is loaded unless a
 * model is configured: with the defaults kefu never imports transformers.js or onnxruntime.
 */

const dtype = t.Union([t.Literal("q8"), t.Literal("fp32")], { default: "q8", description: "Weights file: q8 reads onnx/model_quantized.onnx, fp32 onnx/model.onnx." });

export const embedderModelSchema = t.Object(
  {
    model: t.String({ default: "", description: "Model directory: a name under models.dir (e.g. Xenova/bge-small-zh-v1.5) or an absolute path." }),
    dtype,
    max_length: t.Integer({ default: 256, minimum: 8, maximum: 8192, description: "Longest input in tokens; longer texts are truncated." }),
    pooling: t.Union([t.Literal("auto"), t.Literal("mean"), t.Literal("cls")], { default: "auto", description: "auto: from the model's 1_Pooling/config.json (mean when absent)." }),
    normalize: t.Union([t.Literal("auto"), t.Boolean()], { default: "auto", description: "auto: from the model's modules.json (a Normalize module), true when absent." }),
    query_prefix: t.Union([t.Literal("auto"), t.String()], { default: "auto", description: 'Text put before a question (E5: "query: ", BGE: its instruction). auto: the model\'s config_sentence_transformers.json prompts.' }),
    passage_prefix: t.Union([t.Literal("auto"), t.String()], { default: "auto", description: 'Text put before an entry phrasing or document chunk (E5: "passage: "). auto: from the model.' }),
  },
  { additionalProperties: false },
);

export const rerankerModelSchema = t.Object(
  {
    model: t.String({ default: "", description: "Cross-encoder directory (e.g. a bge-reranker); empty: no reranking." }),
    dtype,
    max_length: t.Integer({ default: 512, minimum: 8, maximum: 8192, description: "Longest question + candidate in tokens." }),
    top: t.Integer({ default: 5, minimum: 2, maximum: 50, description: "Candidates re-scored per question." }),
  },
  { additionalProperties: false },
);

export const generatorModelSchema = t.Object(
  {
    model: t.String({ default: "", description: "Small instruct model directory (text-generation, e.g. Qwen2.5-0.5B-Instruct ONNX); empty: no local step." }),
    dtype,
    max_new_tokens: t.Integer({ default: 256, minimum: 1, maximum: 4096, description: "Longest answer in tokens." }),
    max_prompt_tokens: t.Integer({
      default: 2048,
      minimum: 16,
      maximum: 131072,
      description: "Longest prompt in tokens (instructions, knowledge, conversation; also capped by the model's context less max_new_tokens). A longer one loses its oldest turns, then its longest text is shortened: a small CPU model reads a long prompt for many seconds before its first token.",
    }),
    concurrency: t.Integer({ default: 1, minimum: 1, maximum: 16, description: "Answers generated at once; more wait in the queue." }),
    max_queue: t.Integer({ default: 8, minimum: 0, maximum: 10000, description: "Questions waiting for the generator; beyond it the step is skipped." }),
    deadline_ms: t.Integer({ default: 30000, minimum: 100, maximum: 600000, description: "Whole-answer limit of one generation; cut there." }),
  },
  { additionalProperties: false },
);

/** The config file's table: every key optional (its default applies), unknown keys rejected. */
const table = (schema: TObject, description: string) =>
  t.Partial(schema, { default: {}, additionalProperties: false, description: `${description} Keys: ${Object.keys(schema.properties).join(", ")} (docs/models.md).` });

export const modelsSection = t.Object(
  {
    dir: t.String({ default: "./models", description: "Directory holding the model directories (kefu models pull writes there). Relative to the config file's directory." }),
    endpoint: t.String({ default: "", description: "Hugging Face hub or mirror for kefu models pull (e.g. https://hf-mirror.com). Empty: HF_ENDPOINT from the environment, else https://huggingface.co." }),
    allow_remote: t.Boolean({ default: false, description: "At start, pull a configured model whose directory is missing from the endpoint (checked like kefu models pull; start waits for it). Off: models are only read from models.dir (offline)." }),
    backend: t.Union([t.Literal("native"), t.Literal("wasm")], { default: "native", description: "native: onnxruntime's CPU library (fastest); wasm: onnxruntime-web, the portable fallback." }),
    workers: t.Integer({ default: 1, minimum: 1, maximum: 64, description: "Worker threads for the embedder and the reranker, each with its own ONNX sessions." }),
    threads: t.Integer({ default: 0, minimum: 0, maximum: 64, description: "Intra-op threads of each ONNX session (0: onnxruntime's choice)." }),
    batch_window_ms: t.Integer({ default: 2, minimum: 0, maximum: 1000, description: "Embedding requests arriving within this window are run as one batch." }),
    max_batch: t.Integer({ default: 32, minimum: 1, maximum: 1024, description: "Most texts in one batch." }),
    request_timeout_ms: t.Integer({ default: 10000, minimum: 50, maximum: 600000, description: "A worker that has not answered a request by then is taken as hung: it is replaced and its requests fail (or are retried)." }),
    query_timeout_ms: t.Integer({ default: 2000, minimum: 10, maximum: 600000, description: "A visitor's question not embedded by then is searched by its words alone (the answer is never held up by a slow model)." }),
    retry: t.Boolean({ default: true, description: "Retry a request once on the replacement worker when its worker crashed or hung." }),
    load_timeout_ms: t.Integer({ default: 60000, minimum: 100, maximum: 600000, description: "Longest a worker may take to load its models." }),
    embedder: table(embedderModelSchema, "[models.embedder]: the ONNX sentence embedder used when kb.embedder = \"onnx\"."),
    reranker: table(rerankerModelSchema, "[models.reranker]: optional cross-encoder that re-scores the best knowledge-base candidates."),
    generator: table(generatorModelSchema, "[models.generator]: optional local instruct model, the `local` step of llm.degrade_chain."),
  },
  { additionalProperties: false, description: "Local ONNX models in worker threads (docs/models.md)." },
);

export type ModelsConfig = Static<typeof modelsSection>;
export type EmbedderModelConfig = Static<typeof embedderModelSchema>;
export type RerankerModelConfig = Static<typeof rerankerModelSchema>;
export type GeneratorModelConfig = Static<typeof generatorModelSchema>;

/** A `[models.x]` table with its defaults filled in. */
export function embedderConfig(c: ModelsConfig): EmbedderModelConfig {
  return Value.Default(embedderModelSchema, structuredClone(c.embedder)) as EmbedderModelConfig;
}
export function rerankerConfig(c: ModelsConfig): RerankerModelConfig {
  return Value.Default(rerankerModelSchema, structuredClone(c.reranker)) as RerankerModelConfig;
}
export function generatorConfig(c: ModelsConfig): GeneratorModelConfig {
  return Value.Default(generatorModelSchema, structuredClone(c.generator)) as GeneratorModelConfig;
}
