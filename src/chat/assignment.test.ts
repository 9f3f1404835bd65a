import { expect, test } from "bun:test";
import { pickAgent } from "./assignment";

test("least busy agent below capacity wins; ties keep the given order", () => {
  expect(pickAgent([{ id: 1, load: 2, maxConcurrent: 5 }, { id: 2, load: 1, maxConcurrent: 5 }, { id: 3, load: 1, maxConcurrent: 5 }])).toBe(2);
  expect(pickAgent([{ id: 1, load: 0, maxConcurrent: 0 }, { id: 2, load: 4, maxConcurrent: 5 }])).toBe(2);
  expect(pickAgent([{ id: 1, load: 3, maxConcurrent: 3 }])).toBeNull();
  expect(pickAgent([])).toBeNull();
});
