import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { createWriteBatcher } from "./write-batch";

test("writes of one event-loop turn share a transaction; a failing job rejects alone", async () => {
  const db = new Database(":memory:");
  db.run("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)");
  let commits = 0;
  const original = db.transaction.bind(db);
  db.transaction = ((fn: (...a: unknown[]) => unknown) => {
    const tx = original(fn);
    const counted = (run: (...a: unknown[]) => unknown) => (...a: unknown[]) => {
      const r = run(...a);
      commits++;
      return r;
    };
    return Object.assign(counted(tx), tx, { immediate: counted(tx.immediate) });
  }) as typeof db.transaction;
  const batch = createWriteBatcher(db);
  const insert = (v: string) => () => db.query<{ id: number }, [string]>("INSERT INTO t (v) VALUES (?) RETURNING id").get(v)!.id;
  const results = await Promise.allSettled([batch.write(insert("a")), batch.write(insert("b")), batch.write(insert("a")), batch.write(insert("c"))]);
  expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
  expect(results.filter((r) => r.status === "fulfilled").map((r) => (r as PromiseFulfilledResult<number>).value)).toEqual([1, 2, 3]);
  expect(commits).toBe(1);
  expect(db.query<{ v: string }, []>("SELECT v FROM t ORDER BY id").all().map((r) => r.v)).toEqual(["a", "b", "c"]);
  // A later turn is a new transaction.
  await batch.write(insert("d"));
  expect(commits).toBe(2);
});
