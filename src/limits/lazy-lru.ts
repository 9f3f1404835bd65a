import { LRUCache } from "lru-cache";

/**
 * An LRUCache made on its first write. lru-cache allocates its arrays for `max` entries up front (about
 * 30–45 bytes an entry: 3–4.5 MB and 3–10 ms for 100,000), and kefu keeps several such bounds (rate limits,
 * drafts, cool-downs) that many servers never fill or never touch: made at start-up they cost tens of
 * milliseconds of cold start and tens of MB of idle RSS. Reads before the first write find nothing.
 */
export class LazyLru<K extends {}, V extends {}> {
  private lru: LRUCache<K, V> | null = null;

  constructor(private readonly options: LRUCache.Options<K, V, unknown>) {}

  private made(): LRUCache<K, V> {
    return (this.lru ??= new LRUCache<K, V>(this.options));
  }

  get(key: K): V | undefined {
    return this.lru?.get(key);
  }
  peek(key: K): V | undefined {
    return this.lru?.peek(key);
  }
  has(key: K): boolean {
    return this.lru?.has(key) ?? false;
  }
  set(key: K, value: V): this {
    this.made().set(key, value);
    return this;
  }
  delete(key: K): boolean {
    return this.lru?.delete(key) ?? false;
  }
  purgeStale(): boolean {
    return this.lru?.purgeStale() ?? false;
  }
  get size(): number {
    return this.lru?.size ?? 0;
  }
}
