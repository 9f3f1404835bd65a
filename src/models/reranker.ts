import type { FromWorker } from "./protocol";
import type { ModelPool } from "./pool";

/**
 * Cross-encoder reranking (`[models.reranker]`, e.g. the bge-reranker family): scores (question,
 * candidate) pairs in the worker pool. Used only when ready; any failure leaves the order as it was.
 */
export class Reranker {
  constructor(
    readonly pool: ModelPool,
    readonly top: number,
    /** Longest a visitor's search waits for the scores (models.query_timeout_ms); then the order is kept. */
    readonly timeoutMs = 0,
  ) {}

  get ready(): boolean {
    return this.pool.state === "ready";
  }

  /** Relevance in [0, 1] of each document to the query, in the documents' order. */
  async score(query: string, docs: string[], signal?: AbortSignal): Promise<number[]> {
    if (!docs.length) return [];
    const r = await this.pool.request<Extract<FromWorker, { type: "reranked" }>>({ type: "rerank", query, docs }, { signal });
    return r.scores;
  }

  /** `items` re-ordered by the model's score of `text(item)`, best first; unchanged when the model is not ready or fails. */
  async rerank<T>(query: string, items: T[], text: (item: T) => string): Promise<{ item: T; score: number | null }[]> {
    const head = items.slice(0, this.top);
    if (!this.ready || head.length < 2) return items.map((item) => ({ item, score: null }));
    try {
      const scores = await this.score(query, head.map(text), this.timeoutMs ? AbortSignal.timeout(this.timeoutMs) : undefined);
      const ranked = head.map((item, i) => ({ item, score: scores[i]! })).sort((a, b) => b.score - a.score);
      return [...ranked, ...items.slice(this.top).map((item) => ({ item, score: null }))];
    } catch {
      return items.map((item) => ({ item, score: null }));
    }
  }
}
