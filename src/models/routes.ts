import { Elysia } from "elysia";
import type { accessPlugin } from "../auth/access";
import type { KnowledgeBase } from "../kb/engine";
import type { ModelRuntime } from "./runtime";

/**
 * GET /api/admin/models: the local models' state for the admin console — per role (embedder, reranker,
 * generator) the model, its load state or error, queue depth, in-flight requests, replaced workers and
 * request latency; plus which embedder built the knowledge base's vectors.
 */
export function modelsRoutes(models: ModelRuntime, kb: KnowledgeBase, access: ReturnType<typeof accessPlugin>) {
  return new Elysia({ name: "models" }).use(access).get(
    "/api/admin/models",
    () => ({
      kb_embedder: { id: kb.embedder.id, dim: kb.embedder.dim, onnx: models.embedder !== null && kb.embedder === models.embedder },
      models: models.list(),
    }),
    { access: "admin" },
  );
}
