import { expect, test } from "bun:test";
import { LazyLru } from "./lazy-lru";

test("a LazyLru finds nothing before its first write, then keeps at most `max` entries, least recently used out first", () => {
  const lru = new LazyLru<string, number>({ max: 2 });
  expect([lru.get("a"), lru.peek("a"), lru.has("a"), lru.delete("a"), lru.size, lru.purgeStale()]).toEqual([undefined, undefined, false, false, 0, false]);
  lru.set("a", 1).set("b", 2);
  lru.get("a");
  lru.set("c", 3);
  expect([lru.get("a"), lru.has("b"), lru.get("c"), lru.size]).toEqual([1, false, 3, 2]);
  expect(lru.delete("a")).toBe(true);
  expect(lru.size).toBe(1);
});
