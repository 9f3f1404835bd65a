/**
 * A model worker: owns the ONNX sessions of the models in its spec (transformers.js pipelines) and
 * answers requests one message at a time. The only module that imports transformers.js (dynamically,
 * so even this file costs nothing until a worker starts). Sessions are disposed on `dispose`, before
 * the main thread terminates the worker (onnxruntime sessions finalised at exit have crashed Bun).
 */
import type { FromWorker, ToWorker, WorkerSpec } from "./protocol";

declare const self: Worker;

type Transformers = typeof import("@huggingface/transformers");

let tr: Transformers;
let embedder: { tokenizer: any; model: any; spec: NonNullable<WorkerSpec["embedder"]> } | undefined;
let reranker: { tokenizer: any; model: any; spec: NonNullable<WorkerSpec["reranker"]> } | undefined;
let generator: { pipe: any } | undefined;
const cancels = new Map<number, () => void>();
/**
 * What the worker is doing (loading, model runs). `dispose` waits for these: disposing a session while
 * it loads or runs throws inside onnxruntime's callback (Napi::Error → abort(): the whole process dies
 * with 134, seen when the server stopped mid-request).
 */
const busy = new Set<Promise<unknown>>();
let closing = false;

function track<T>(work: Promise<T>): Promise<T> {
  busy.add(work);
  const done = () => busy.delete(work);
  work.then(done, done);
  return work;
}

/** Set by the `crash` test hook: the worker says nothing more and ends once its sessions are released. */
let crashing = false;
const post = (m: FromWorker) => crashing || self.postMessage(m);

async function loadTransformers(spec: WorkerSpec): Promise<Transformers> {
  if (spec.backend === "wasm") {
    // transformers.js takes the onnxruntime registered under this symbol instead of onnxruntime-node.
    const ort = (await import("onnxruntime-web")) as { env: { wasm: { wasmPaths?: unknown; numThreads?: number } } };
    if (spec.wasmDir) ort.env.wasm.wasmPaths = spec.wasmDir.replace(/\/?$/, "/");
    ort.env.wasm.numThreads = spec.threads || 1;
    (globalThis as Record<symbol, unknown>)[Symbol.for("onnxruntime")] = ort;
  }
  const mod = (await import("@huggingface/transformers")) as Transformers;
  mod.env.allowRemoteModels = spec.allowRemote;
  if (spec.remoteHost) mod.env.remoteHost = spec.remoteHost.replace(/\/?$/, "/");
  mod.env.allowLocalModels = true;
  const onnx = mod.env.backends.onnx as { wasm?: { wasmPaths?: unknown; numThreads?: number } };
  // The wasm backend's files come from disk (the default points at a CDN, unreachable offline).
  if (onnx.wasm) {
    if (spec.wasmDir) onnx.wasm.wasmPaths = spec.wasmDir.replace(/\/?$/, "/");
    if (spec.threads) onnx.wasm.numThreads = spec.threads;
  }
  return mod;
}

function sessionOptions(spec: WorkerSpec, dtype: "q8" | "fp32") {
  return {
    dtype,
    // wasm: "auto" lists the devices of the onnxruntime registered by symbol (none: its default, the WASM CPU provider).
    device: spec.backend === "wasm" ? ("auto" as const) : ("cpu" as const),
    session_options: { executionMode: "sequential" as const, ...(spec.threads ? { intraOpNumThreads: spec.threads, interOpNumThreads: 1 } : {}) },
  };
}

async function init(spec: WorkerSpec) {
  const t0 = performance.now();
  tr = await loadTransformers(spec);
  const info: { embedder?: { dim: number }; probe?: number[]; loadMs: number } = { loadMs: 0 };
  const outputs: number[] = [];
  if (spec.embedder) {
    const e = spec.embedder;
    tr.env.localModelPath = e.root;
    const tokenizer = await tr.AutoTokenizer.from_pretrained(e.id);
    const model = await tr.AutoModel.from_pretrained(e.id, sessionOptions(spec, e.dtype));
    embedder = { tokenizer, model, spec: e };
    // One real call: a model that loads but cannot run fails here, not on a visitor's question.
    const warm = await embed(["warm up"]);
    info.embedder = { dim: warm.dim };
    outputs.push(warm.dim, ...warm.data);
  }
  if (spec.reranker) {
    const r = spec.reranker;
    tr.env.localModelPath = r.root;
    const tokenizer = await tr.AutoTokenizer.from_pretrained(r.id);
    const model = await tr.AutoModelForSequenceClassification.from_pretrained(r.id, sessionOptions(spec, r.dtype));
    reranker = { tokenizer, model, spec: r };
    outputs.push(...(await rerank("warm up", ["warm up"])));
  }
  if (spec.generator) {
    const g = spec.generator;
    tr.env.localModelPath = g.root;
    generator = { pipe: await tr.pipeline("text-generation", g.id, sessionOptions(spec, g.dtype)) };
  }
  // The same model answers the same (up to rounding); another model (other weights or size) answers otherwise.
  if (outputs.length) info.probe = outputs;
  info.loadMs = Math.round(performance.now() - t0);
  return info;
}

/** Token states pooled (mean over the attention mask, or the first token) and L2-normalised. */
async function embed(texts: string[]): Promise<{ dim: number; data: Float32Array }> {
  const e = embedder!;
  const inputs = e.tokenizer(texts, { padding: true, truncation: true, max_length: e.spec.maxLength });
  const out = await e.model(inputs);
  const h = (out.last_hidden_state ?? out.token_embeddings ?? Object.values(out)[0]) as { data: Float32Array; dims: number[] };
  const [batch, seq, dim] = h.dims as [number, number, number];
  const mask = inputs.attention_mask.data as BigInt64Array;
  const data = new Float32Array(batch * dim);
  for (let b = 0; b < batch; b++) {
    const v = data.subarray(b * dim, (b + 1) * dim);
    if (e.spec.pooling === "cls") v.set(h.data.subarray(b * seq * dim, b * seq * dim + dim));
    else {
      let n = 0;
      for (let s = 0; s < seq; s++) {
        if (!mask[b * seq + s]) continue;
        n++;
        const row = h.data.subarray((b * seq + s) * dim, (b * seq + s + 1) * dim);
        for (let d = 0; d < dim; d++) v[d]! += row[d]!;
      }
      if (n) for (let d = 0; d < dim; d++) v[d]! /= n;
    }
    if (e.spec.normalize) {
      let norm = 0;
      for (let d = 0; d < dim; d++) norm += v[d]! * v[d]!;
      norm = Math.sqrt(norm);
      if (norm > 0) for (let d = 0; d < dim; d++) v[d]! /= norm;
    }
  }
  return { dim, data };
}

async function rerank(query: string, docs: string[]): Promise<number[]> {
  const r = reranker!;
  const inputs = r.tokenizer(new Array(docs.length).fill(query), { text_pair: docs, padding: true, truncation: true, max_length: r.spec.maxLength });
  const { logits } = await r.model(inputs);
  const data = logits.data as Float32Array;
  const per = data.length / docs.length;
  // One logit per pair (bge-reranker style) → sigmoid; two labels → softmax probability of the second.
  return docs.map((_, i) => (per === 1 ? 1 / (1 + Math.exp(-data[i]!)) : 1 / (1 + Math.exp(data[i * per]! - data[i * per + 1]!))));
}

type Message = { role: string; content: string };

/**
 * The messages cut to at most `limit` prompt tokens (chat template applied): the oldest turns go first
 * (the system text and the last message stay), then the longest text is shortened, keeping its start.
 */
function fitPrompt(pipe: any, messages: Message[], limit: number): { messages: Message[]; tokens: number } {
  const count = (m: Message[]) => {
    const r = pipe.tokenizer.apply_chat_template(m, { tokenize: true, add_generation_prompt: true, return_tensor: false }) as number[] | { input_ids: number[] };
    return (Array.isArray(r) ? r : r.input_ids).length;
  };
  let out = messages.map((m) => ({ ...m }));
  let tokens = count(out);
  while (tokens > limit) {
    const oldest = out.findIndex((m, i) => m.role !== "system" && i < out.length - 1);
    if (oldest < 0) break;
    out = out.filter((_, i) => i !== oldest);
    tokens = count(out);
  }
  for (let round = 0; tokens > limit && round < 8; round++) {
    const longest = out.reduce((a, m, i) => (m.content.length > out[a]!.content.length ? i : a), 0);
    const m = out[longest]!;
    const keep = Math.floor(m.content.length * Math.max(0, 1 - (tokens - limit) / tokens) * 0.95);
    out[longest] = { ...m, content: m.content.slice(0, keep) };
    tokens = count(out);
  }
  return { messages: out, tokens };
}

async function generate(id: number, input: Message[], maxNewTokens: number, maxPromptTokens: number) {
  const pipe = generator!.pipe;
  const context = Number(pipe.model?.config?.max_position_embeddings ?? 0);
  const limit = context > maxNewTokens ? Math.min(maxPromptTokens, context - maxNewTokens) : maxPromptTokens;
  const { messages, tokens: promptTokens } = fitPrompt(pipe, input, limit);
  const stop = new tr.InterruptableStoppingCriteria();
  cancels.set(id, () => stop.interrupt());
  let tokens = 0;
  let text = "";
  const streamer = new tr.TextStreamer(pipe.tokenizer, {
    skip_prompt: true,
    skip_special_tokens: true,
    callback_function: (piece: string) => {
      if (!piece) return;
      text += piece;
      post({ type: "token", id, text: piece });
    },
    token_callback_function: () => void tokens++,
  } as any);
  try {
    await pipe(messages, { max_new_tokens: maxNewTokens, do_sample: false, streamer, stopping_criteria: [stop] });
  } finally {
    cancels.delete(id);
  }
  post({ type: "generated", id, text, tokens, promptTokens });
}

async function dispose() {
  await embedder?.model.dispose();
  await reranker?.model.dispose();
  await generator?.pipe.dispose();
  embedder = reranker = generator = undefined;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

self.onmessage = async (ev: MessageEvent<ToWorker>) => {
  const m = ev.data;
  if (closing && m.type !== "dispose" && m.type !== "cancel") {
    if ("id" in m) post({ type: "error", id: m.id, message: "the model worker is shutting down" });
    return;
  }
  switch (m.type) {
    case "init":
      try {
        post({ type: "ready", info: await track(init(m.spec)) });
      } catch (e) {
        await dispose().catch(() => {});
        post({ type: "init_error", message: message(e) });
      }
      return;
    case "embed":
      try {
        const out = await track(embed(m.texts));
        post({ type: "embedded", id: m.id, dim: out.dim, data: out.data });
      } catch (e) {
        post({ type: "error", id: m.id, message: message(e) });
      }
      return;
    case "rerank":
      try {
        post({ type: "reranked", id: m.id, scores: await track(rerank(m.query, m.docs)) });
      } catch (e) {
        post({ type: "error", id: m.id, message: message(e) });
      }
      return;
    case "generate":
      try {
        await track(generate(m.id, m.messages, m.maxNewTokens, m.maxPromptTokens));
      } catch (e) {
        post({ type: "error", id: m.id, message: message(e) });
      }
      return;
    case "cancel":
      cancels.get(m.id)?.();
      return;
    case "debug":
      if (m.action === "exit") process.exit(1);
      if (m.action === "crash") {
        // A worker dying mid-run, without the risk of ending a thread inside onnxruntime (that aborts the whole
        // process): silent from now on, the run cut at its next token, the sessions released, then the thread ends.
        crashing = closing = true;
        for (const stop of cancels.values()) stop();
        while (busy.size) await Promise.allSettled([...busy]);
        await dispose().catch(() => {});
        process.exit(1);
      }
      for (const until = m.ms ? performance.now() + m.ms : Infinity; performance.now() < until; );
      return;
    case "dispose":
      closing = true;
      for (const stop of cancels.values()) stop(); // a generation ends at its next token
      while (busy.size) await Promise.allSettled([...busy]);
      await dispose().catch(() => {});
      post({ type: "disposed" });
      return;
  }
};
