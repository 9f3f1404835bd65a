/**
 * Messages between the main thread and a model worker (src/models/worker.ts). Plain data only: vectors
 * travel as one flat Float32Array per request.
 */

export interface EncoderSpec {
  /** transformers.js `localModelPath` and model id: the model directory is `${root}/${id}`. */
  root: string;
  id: string;
  dtype: "q8" | "fp32";
  maxLength: number;
  pooling: "mean" | "cls";
  normalize: boolean;
}

export interface RerankerSpec {
  root: string;
  id: string;
  dtype: "q8" | "fp32";
  maxLength: number;
}

export interface GeneratorSpec {
  root: string;
  id: string;
  dtype: "q8" | "fp32";
}

export interface WorkerSpec {
  backend: "native" | "wasm";
  /** Intra-op threads per session (0: onnxruntime's choice). */
  threads: number;
  /** Directory of onnxruntime-web's .wasm/.mjs files (wasm backend); never a CDN. */
  wasmDir?: string;
  allowRemote: boolean;
  remoteHost?: string;
  embedder?: EncoderSpec;
  reranker?: RerankerSpec;
  generator?: GeneratorSpec;
}

export type ToWorker =
  | { type: "init"; spec: WorkerSpec }
  | { type: "embed"; id: number; texts: string[] }
  | { type: "rerank"; id: number; query: string; docs: string[] }
  | { type: "generate"; id: number; messages: { role: string; content: string }[]; maxNewTokens: number; maxPromptTokens: number }
  | { type: "cancel"; id: number }
  /**
   * Test hooks: stop answering (busy loop: for good, or for `ms`), exit the thread at once, or `crash`: go silent
   * and exit once the run in progress has stopped and the sessions are released (a crash mid-answer, safely).
   */
  | { type: "debug"; action: "hang" | "exit" | "crash"; ms?: number }
  | { type: "dispose" };

export type FromWorker =
  /** `probe`: what the loaded models answer to a fixed input (dimension, vector, scores), to tell one model from another. */
  | { type: "ready"; info: { embedder?: { dim: number }; probe?: number[]; loadMs: number } }
  | { type: "init_error"; message: string }
  | { type: "embedded"; id: number; dim: number; data: Float32Array }
  | { type: "reranked"; id: number; scores: number[] }
  | { type: "token"; id: number; text: string }
  | { type: "generated"; id: number; text: string; tokens: number; promptTokens: number }
  | { type: "error"; id: number; message: string }
  | { type: "disposed" };
