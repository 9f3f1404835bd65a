import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { KefuError } from "../errors/kefu-error";

/**
 * Reading a model directory on the main thread, without transformers.js: which files exist, the
 * encoder's dimension, pooling, normalisation and prompts, so a missing or incomplete model is one
 * clear message at start and the knowledge base knows the vector size before any worker loads.
 */

export class ModelError extends KefuError {
  constructor(message: string) {
    super("model_invalid", 500, message);
  }
}

export function modelPath(root: string, model: string): string {
  return isAbsolute(model) ? model : resolve(root, model);
}

/** The ONNX file transformers.js reads for a dtype. */
export function onnxFile(dtype: "q8" | "fp32"): string {
  return join("onnx", dtype === "q8" ? "model_quantized.onnx" : "model.onnx");
}

function readJson(path: string): Record<string, unknown> | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new ModelError(`${path} is not valid JSON (${(e as Error).message})`);
  }
}

/** Checks the files transformers.js needs; returns the parsed config.json. */
export function checkModelDir(dir: string, dtype: "q8" | "fp32"): Record<string, unknown> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ModelError(`model directory ${dir} does not exist (kefu models pull <repo-id> downloads one)`);
  const missing = ["config.json", "tokenizer.json", "tokenizer_config.json", onnxFile(dtype)].filter((f) => !existsSync(join(dir, f)));
  if (missing.length) {
    const other = onnxFile(dtype === "q8" ? "fp32" : "q8");
    const hint = missing.includes(onnxFile(dtype)) && existsSync(join(dir, other)) ? ` (${other} is there: set dtype = "${dtype === "q8" ? "fp32" : "q8"}")` : "";
    throw new ModelError(`model directory ${dir} lacks ${missing.join(", ")}${hint}`);
  }
  return readJson(join(dir, "config.json"))!;
}

export interface EncoderInfo {
  dir: string;
  /** transformers.js localModelPath + model id. */
  root: string;
  id: string;
  dim: number;
  pooling: "mean" | "cls";
  normalize: boolean;
  queryPrefix: string;
  passagePrefix: string;
  modelType: string;
}

export interface EncoderOverrides {
  dtype: "q8" | "fp32";
  pooling: "auto" | "mean" | "cls";
  normalize: "auto" | boolean;
  query_prefix: string;
  passage_prefix: string;
}

/** Pooling, normalisation and prompts from the sentence-transformers files, overridable by config. */
export function inspectEncoder(dir: string, o: EncoderOverrides): EncoderInfo {
  const config = checkModelDir(dir, o.dtype);
  const dim = Number(config.hidden_size ?? config.d_model ?? config.dim);
  if (!Number.isInteger(dim) || dim <= 0) throw new ModelError(`${join(dir, "config.json")} has no hidden_size`);
  const pool = readJson(join(dir, "1_Pooling", "config.json"));
  const modules = readJson(join(dir, "modules.json")) as unknown as { type?: string }[] | null;
  const st = readJson(join(dir, "config_sentence_transformers.json")) as { prompts?: Record<string, string> } | null;
  const pooling = o.pooling !== "auto" ? o.pooling : pool?.pooling_mode_cls_token ? "cls" : "mean";
  const normalize = o.normalize !== "auto" ? o.normalize : modules ? modules.some((m) => m.type?.endsWith("Normalize")) : true;
  const prompts = st?.prompts ?? {};
  return {
    dir,
    root: dirname(dir),
    id: basename(dir),
    dim,
    pooling,
    normalize,
    queryPrefix: o.query_prefix !== "auto" ? o.query_prefix : (prompts.query ?? ""),
    passagePrefix: o.passage_prefix !== "auto" ? o.passage_prefix : (prompts.passage ?? prompts.document ?? ""),
    modelType: String(config.model_type ?? "unknown"),
  };
}
