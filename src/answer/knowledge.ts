/**
 * What the answer pipeline needs from the knowledge base. Kept as an interface so the pipeline is tested
 * with a fake and the knowledge-base engine is adapted to it in one place (start-up wiring).
 */

export interface KnowledgeEntry {
  id: string;
  question: string;
  answer: string;
  /** Calibrated probability that this entry answers the query, in [0, 1]. */
  confidence: number;
}

export interface KnowledgeChunk {
  /** Id the LLM cites, e.g. "doc-3#4". */
  id: string;
  /** Title of the document the chunk comes from. */
  title: string;
  text: string;
  /** Retrieval score; higher is better. Chunks are passed on in the order given. */
  score: number;
}

export interface KnowledgeHits {
  /** Best first. */
  entries: KnowledgeEntry[];
  /** Best first; empty when the knowledge base has no documents. */
  chunks: KnowledgeChunk[];
}

export interface KnowledgeSource {
  /** Changes on every edit of entries or documents: part of the answer-cache key, so an edit is never served stale. */
  version(): number;
  /** Read on every question, so a threshold change applies at once. */
  readonly thresholds: { direct: number; suggest: number };
  /** Up to `k` entries and `k` chunks for the question. */
  /**
   * `exact`: every confidence exact. Otherwise a question that cannot reach `suggest` may get upper bounds of its
   * confidences, still below `suggest` (src/kb/README.md): enough for one search's decision, not for lists merged
   * from several searches.
   */
  search(text: string, k: number, options?: { exact?: boolean }): Promise<KnowledgeHits>;
  /** One entry by id, for a visitor who picks a "did you mean" choice; null when it is unknown or disabled. */
  get?(id: string): Promise<Omit<KnowledgeEntry, "confidence"> | null>;
}
