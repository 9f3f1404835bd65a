import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { isUniqueViolation } from "./sql";
import { createSqliteSql } from "./sqlite-driver";

const open = () => {
  const db = new Database(":memory:", { strict: true });
  db.run("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)");
  return { db, sql: createSqliteSql(db) };
};
const values = (db: Database) => db.query<{ v: string }, []>("SELECT v FROM t ORDER BY id").all().map((r) => r.v);
const tick = () => new Promise((r) => setTimeout(r, 1));

describe("sqlite driver", () => {
  test("get, all and run with ? and ?N placeholders; changes; null for no row", async () => {
    const { sql } = open();
    expect(await sql.run("INSERT INTO t (v) VALUES (?), (?)", ["a", "b"])).toEqual({ changes: 2 });
    expect(await sql.get<{ v: string }>("SELECT v FROM t WHERE v = ?1 OR v = ?1", ["b"])).toEqual({ v: "b" });
    expect(await sql.get("SELECT v FROM t WHERE v = ?", ["zz"])).toBeNull();
    expect((await sql.all<{ v: string }>("SELECT v FROM t ORDER BY v")).map((r) => r.v)).toEqual(["a", "b"]);
    expect((await sql.run("UPDATE t SET v = v || '!' WHERE v = ?", ["nope"])).changes).toBe(0);
  });

  test("a failed statement rejects (it does not throw synchronously) and is recognised as a unique violation", async () => {
    const { sql } = open();
    await sql.run("INSERT INTO t (v) VALUES ('a')");
    const p = sql.run("INSERT INTO t (v) VALUES ('a')");
    expect(p).toBeInstanceOf(Promise);
    const err = await p.catch((e) => e);
    expect(isUniqueViolation(err)).toBe(true);
    expect(isUniqueViolation(new Error("x"))).toBe(false);
  });

  test("a transaction commits, and a throw rolls back every statement of it", async () => {
    const { db, sql } = open();
    await sql.transaction(async () => {
      await sql.run("INSERT INTO t (v) VALUES ('a')");
      await tick();
      await sql.run("INSERT INTO t (v) VALUES ('b')");
    });
    const err = await sql
      .transaction(async () => {
        await sql.run("INSERT INTO t (v) VALUES ('c')");
        await tick();
        throw new Error("boom");
      })
      .catch((e: Error) => e.message);
    expect(err).toBe("boom");
    expect(values(db)).toEqual(["a", "b"]);
  });

  test("a statement from other code while a transaction awaits waits for it, so a rollback cannot take it along", async () => {
    const { db, sql } = open();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const tx = sql
      .transaction(async () => {
        await sql.run("INSERT INTO t (v) VALUES ('in-tx')");
        await gate;
        throw new Error("rollback");
      })
      .catch(() => "rolled back");
    await tick();
    const outside = sql.run("INSERT INTO t (v) VALUES ('outside')");
    await tick();
    expect(values(db)).toEqual(["in-tx"]); // the outside write has not run inside the open transaction
    release();
    expect(await tx).toBe("rolled back");
    await outside;
    expect(values(db)).toEqual(["outside"]);
  });

  test("concurrent transactions run one after the other", async () => {
    const { db, sql } = open();
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        sql.transaction(async () => {
          await sql.run("INSERT INTO t (v) VALUES (?)", [`x${i}`]);
          await tick();
          await sql.run("UPDATE t SET v = v || '.' WHERE v = ?", [`x${i}`]);
        }),
      ),
    );
    expect(values(db)).toEqual(Array.from({ length: 20 }, (_, i) => `x${i}.`));
  });

  test("a nested transaction is a savepoint: its rollback keeps the outer work", async () => {
    const { db, sql } = open();
    await sql.transaction(async () => {
      await sql.run("INSERT INTO t (v) VALUES ('outer')");
      await sql.transaction(() => sql.run("INSERT INTO t (v) VALUES ('inner')").then(() => Promise.reject(new Error("no")))).catch(() => {});
      await sql.batch(() => sql.run("INSERT INTO t (v) VALUES ('batched inside')"));
    });
    expect(values(db)).toEqual(["outer", "batched inside"]);
  });

  test("batch: jobs of one turn share one commit; a failing job only rejects itself and leaves nothing behind", async () => {
    const { db, sql } = open();
    let commits = 0;
    db.run("CREATE TABLE log (n INTEGER)");
    const seen = new Set<number>();
    const jobs = [
      sql.batch(async () => {
        await sql.run("INSERT INTO t (v) VALUES ('one')");
        seen.add(db.inTransaction ? 1 : 0);
        return 1;
      }),
      sql.batch(async () => {
        await sql.run("INSERT INTO t (v) VALUES ('half')");
        await sql.run("INSERT INTO t (v) VALUES ('one')"); // unique violation
      }),
      sql.batch(async () => {
        await sql.run("INSERT INTO t (v) VALUES ('three')");
        commits = db.inTransaction ? commits : -1;
        return 3;
      }),
    ];
    const settled = await Promise.allSettled(jobs);
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(isUniqueViolation((settled[1] as PromiseRejectedResult).reason)).toBe(true);
    expect(values(db)).toEqual(["one", "three"]);
    expect([...seen]).toEqual([1]);
    expect(commits).toBe(0);
  });

  test("batch: the promise resolves only after the commit", async () => {
    const { db, sql } = open();
    await sql.batch(() => sql.run("INSERT INTO t (v) VALUES ('durable')"));
    expect(db.inTransaction).toBe(false);
    expect(values(db)).toEqual(["durable"]);
  });
});
