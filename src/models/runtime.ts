import { existsSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import type { Embedder } from "../kb/embedder";
import type { ChainStep } from "../llm/degrade-chain";
import type { Logger } from "../log/logger";
import { embedderConfig, generatorConfig, type ModelsConfig, rerankerConfig } from "./config";
import { LocalGenerator } from "./generator";
import { checkModelDir, inspectEncoder, modelPath } from "./model-dir";
import { extractEmbedded } from "./native-binding";
import { OnnxEmbedder } from "./onnx-embedder";
import { ModelPool, type PoolStatus } from "./pool";
import type { WorkerSpec } from "./protocol";
import { Reranker } from "./reranker";
import { embeddedWasm } from "./wasm-files";

/**
 * The models feature: builds the worker pools the config asks for and hands out the knowledge base's
 * embedder, the optional reranker and the degrade chain's `local` step. With no model configured it
 * starts nothing and imports nothing heavy (this file and its imports never load transformers.js).
 */

export interface ModelsStatus {
  embedder: ModelStatus | null;
  reranker: ModelStatus | null;
  generator: ModelStatus | null;
}

export interface ModelStatus extends PoolStatus {
  model: string;
  dtype: string;
}

export interface StartModelsOptions {
  config: ModelsConfig;
  /** kb.embedder: "onnx" asks for the ONNX embedder. */
  embedder: "builtin" | "onnx";
  baseDir: string;
  log: Logger;
  /** Worker entry override (compiled binary, tests). */
  workerUrl?: string | URL;
}

export class ModelRuntime {
  embedder: OnnxEmbedder | null = null;
  reranker: Reranker | null = null;
  generator: LocalGenerator | null = null;
  private readonly pools: { name: keyof ModelsStatus; pool: ModelPool; model: string; dtype: string }[] = [];
  /** Roles whose model was refused before any worker started (directory or files missing). */
  private readonly refused = new Map<keyof ModelsStatus, ModelStatus>();

  constructor(private readonly opts: StartModelsOptions) {}

  get configured(): boolean {
    return this.pools.length > 0;
  }

  /** The degrade chain's `local` step for one question, when a generator is configured and not failed. */
  localStep(messages: { role: string; content: string }[]): ChainStep | undefined {
    return this.generator?.step(messages);
  }

  status(): ModelsStatus {
    const out: ModelsStatus = { embedder: null, reranker: null, generator: null };
    for (const [name, s] of this.refused) out[name] = s;
    for (const p of this.pools) out[p.name] = { model: p.model, dtype: p.dtype, ...p.pool.status() };
    return out;
  }

  /** @internal A role configured with a model that cannot be used: shown as failed with the reason. */
  refuse(name: keyof ModelsStatus, model: string, dtype: string, error: string): void {
    if (this.pools.some((p) => p.name === name)) return;
    const none = { p50: 0, p95: 0, p99: 0, samples: 0 };
    this.refused.set(name, { model, dtype, state: "failed", error, workers: 0, ready_workers: 0, in_flight: 0, queued: 0, replaced: 0, abandoned: 0, completed: 0, failed: 0, latency_ms: none });
  }

  /** The configured models, one row per role (the admin API). */
  list(): (ModelStatus & { role: keyof ModelsStatus })[] {
    const all = this.status();
    return (Object.keys(all) as (keyof ModelsStatus)[]).filter((k) => all[k]).map((role) => ({ role, ...all[role]! }));
  }

  /** Resolves once every pool has loaded or failed (a one-shot command waits for the warm-up). */
  async settled(): Promise<void> {
    await Promise.all(this.pools.map((p) => p.pool.ready().catch(() => {})));
  }

  async close(): Promise<void> {
    await Promise.all(this.pools.map((p) => p.pool.close()));
  }

  /** @internal */
  pool(name: keyof ModelsStatus): ModelPool | undefined {
    return this.pools.find((p) => p.name === name)?.pool;
  }

  /** @internal */
  addPool(name: keyof ModelsStatus, model: string, dtype: string, spec: Omit<WorkerSpec, "backend" | "threads" | "allowRemote">, size: number): ModelPool {
    const c = this.opts.config;
    const log = this.opts.log;
    const pool = new ModelPool({
      spec: { ...spec, ...workerBase(c) },
      size,
      requestTimeoutMs: c.request_timeout_ms,
      loadTimeoutMs: c.load_timeout_ms,
      retry: c.retry,
      workerUrl: this.opts.workerUrl,
      onEvent: (event, fields) => {
        const f = { model: name, ...fields };
        if (event === "replaced") log.info("model worker replaced", f);
        // A first load failure is reported once by the caller (e.g. "onnx embedder unavailable").
        else if (event === "load_failed") {
          if (fields.retrying) log.warn("model worker could not load its model: retrying in 1 s", f);
        } else log.warn(`model worker ${event}`, f);
      },
    });
    this.pools.push({ name, pool, model, dtype });
    return pool;
  }
}

function workerBase(c: ModelsConfig): Pick<WorkerSpec, "backend" | "threads" | "allowRemote" | "remoteHost" | "wasmDir"> {
  return {
    backend: c.backend,
    threads: c.threads,
    // Downloads go through kefu models pull's checked downloader (ensurePulled), never transformers.js' own.
    allowRemote: false,
    wasmDir: c.backend === "wasm" ? wasmDir() : undefined,
  };
}

/** `[models] endpoint`, else HF_ENDPOINT, else the Hugging Face hub. */
export function hubEndpoint(c: Pick<ModelsConfig, "endpoint">, env: Record<string, string | undefined> = process.env): string {
  return (c.endpoint || env.HF_ENDPOINT || "https://huggingface.co").replace(/\/+$/, "");
}

/** onnxruntime-web's .wasm/.mjs files: extracted from the binary, or its dist directory in node_modules; never a CDN. */
function wasmDir(): string | undefined {
  if (embeddedWasm) return extractEmbedded({ "ort-wasm-simd-threaded.mjs": embeddedWasm.mjs, "ort-wasm-simd-threaded.wasm": embeddedWasm.wasm }, `kefu-onnxruntime-web-${embeddedWasm.version}`);
  try {
    const dir = join(dirname(Bun.resolveSync("onnxruntime-web", import.meta.dir)), "");
    return existsSync(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts the configured models. The embedder is waited for (the knowledge base needs to know which
 * vectors it builds): if it cannot load, one log line says why and `embedder` stays null (the caller
 * keeps the built-in one). The reranker and the generator warm up in the background.
 */
export async function startModels(opts: StartModelsOptions): Promise<ModelRuntime> {
  const rt = new ModelRuntime(opts);
  const c = opts.config;
  const root = resolve(opts.baseDir, c.dir);
  const { log } = opts;
  /** allow_remote: a model directory that is not there yet is pulled from the endpoint first (checked like kefu models pull). */
  const ensurePulled = async (model: string, dtype: "q8" | "fp32") => {
    if (!c.allow_remote || !model || isAbsolute(model) || existsSync(modelPath(root, model))) return;
    const { pullModel } = await import("./hub");
    const endpoint = hubEndpoint(c);
    log.info("pulling a missing model (models.allow_remote)", { model, dtype, endpoint });
    const r = await pullModel({ endpoint, repo: model, dtype, dir: root, token: process.env.HF_TOKEN });
    log.info("model pulled", { model, files: r.files.length, bytes: r.bytes });
  };

  if (opts.embedder === "onnx") {
    const e = embedderConfig(c);
    try {
      if (!e.model) throw new Error('kb.embedder = "onnx" needs [models.embedder] model (a directory under models.dir)');
      await ensurePulled(e.model, e.dtype);
      const info = inspectEncoder(modelPath(root, e.model), e);
      const pool = rt.addPool(
        "embedder",
        e.model,
        e.dtype,
        { embedder: { root: info.root, id: info.id, dtype: e.dtype, maxLength: e.max_length, pooling: info.pooling, normalize: info.normalize } },
        c.workers,
      );
      await pool.ready();
      const dim = pool.info?.embedder?.dim ?? info.dim;
      let lastLogged = -Infinity;
      rt.embedder = new OnnxEmbedder({ ...info, dim }, pool, {
        windowMs: c.batch_window_ms,
        maxBatch: c.max_batch,
        dtype: e.dtype,
        maxLength: e.max_length,
        queryTimeoutMs: c.query_timeout_ms,
        onQueryFailure: (err) => {
          // One line per 10 s of failures: a dead model must not flood the log with one line per question.
          if (performance.now() - lastLogged < 10_000) return;
          lastLogged = performance.now();
          log.warn("onnx embedder failed on a question: searched by its words only", { model: e.model, error: (err as Error).message });
        },
      });
      log.info("onnx embedder ready", { model: e.model, dtype: e.dtype, dim, pooling: info.pooling, workers: c.workers, load_ms: pool.info?.loadMs });
    } catch (err) {
      log.error("onnx embedder unavailable: using the built-in embedder", { model: e.model, error: (err as Error).message });
      rt.refuse("embedder", e.model, e.dtype, (err as Error).message);
      rt.embedder = null;
    }
  }

  const r = rerankerConfig(c);
  if (r.model) {
    try {
      await ensurePulled(r.model, r.dtype);
      const dir = modelPath(root, r.model);
      checkModelDir(dir, r.dtype);
      const pool = rt.addPool("reranker", r.model, r.dtype, { reranker: { root: dirname(dir), id: dir.slice(dirname(dir).length + 1), dtype: r.dtype, maxLength: r.max_length } }, c.workers);
      rt.reranker = new Reranker(pool, r.top, c.query_timeout_ms);
      pool.ready().then(
        () => log.info("reranker ready", { model: r.model, load_ms: pool.info?.loadMs }),
        (err) => log.error("reranker unavailable: candidates keep the knowledge base's order", { model: r.model, error: (err as Error).message }),
      );
    } catch (err) {
      log.error("reranker unavailable: candidates keep the knowledge base's order", { model: r.model, error: (err as Error).message });
      rt.refuse("reranker", r.model, r.dtype, (err as Error).message);
    }
  }

  const g = generatorConfig(c);
  if (g.model) {
    try {
      await ensurePulled(g.model, g.dtype);
      const dir = modelPath(root, g.model);
      checkModelDir(dir, g.dtype);
      const pool = rt.addPool("generator", g.model, g.dtype, { generator: { root: dirname(dir), id: dir.slice(dirname(dir).length + 1), dtype: g.dtype } }, g.concurrency);
      rt.generator = new LocalGenerator(pool, g);
      pool.ready().then(
        () => log.info("local generator ready", { model: g.model, load_ms: pool.info?.loadMs }),
        (err) => log.error("local generator unavailable: the degrade chain skips its local step", { model: g.model, error: (err as Error).message }),
      );
    } catch (err) {
      log.error("local generator unavailable: the degrade chain skips its local step", { model: g.model, error: (err as Error).message });
      rt.refuse("generator", g.model, g.dtype, (err as Error).message);
    }
  }
  return rt;
}

/** The embedder the knowledge base uses: the ONNX one when it loaded, else none (the built-in default). */
export function kbEmbedder(rt: ModelRuntime): Embedder | undefined {
  return rt.embedder ?? undefined;
}
