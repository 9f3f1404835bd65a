import { LRUCache } from "lru-cache";
import type { Source } from "../chat/schemas";

/**
 * In-memory cache of final answers, keyed on the normalized question, the visitor language and the
 * knowledge-base version. Because the version is part of the key, an edit makes every earlier answer
 * unreachable at once (old keys age out of the LRU); nothing has to be purged.
 */

export interface CachedAnswer {
  text: string;
  sources: Source[];
  /** Knowledge-base confidence of the best entry when the answer was made. */
  confidence: number;
  /** Which path produced it. */
  origin: "direct" | "llm";
  /** The entry answered verbatim, else the top entry (the answer log records it for cache hits too). */
  entryId?: string;
}

export interface AnswerCacheOptions {
  /** Most answers kept; 0 disables the cache. */
  size: number;
  ttlMs: number;
  /** Clock for TTL expiry (ms, monotonic), injectable for tests. Default performance.now. */
  now?: () => number;
}

export class AnswerCache {
  private readonly lru: LRUCache<string, CachedAnswer> | null;
  hits = 0;
  misses = 0;

  constructor(opts: AnswerCacheOptions) {
    const now = opts.now;
    this.lru =
      opts.size > 0
        ? new LRUCache<string, CachedAnswer>({ max: opts.size, ttl: opts.ttlMs, ...(now ? { perf: { now } } : {}) })
        : null;
  }

  static key(normalized: string, lang: string, version: number): string {
    return `${version}\u0000${lang}\u0000${normalized}`;
  }

  get(key: string): CachedAnswer | undefined {
    const hit = this.lru?.get(key);
    if (hit) this.hits++;
    else this.misses++;
    return hit;
  }

  set(key: string, answer: CachedAnswer) {
    this.lru?.set(key, answer);
  }

  get size(): number {
    return this.lru?.size ?? 0;
  }

  /** Hits over lookups since start; 0 before the first lookup. */
  get hitRate(): number {
    const total = this.hits + this.misses;
    return total === 0 ? 0 : this.hits / total;
  }
}
