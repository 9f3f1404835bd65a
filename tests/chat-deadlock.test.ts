import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { retryingDeadlocks } from "../src/chat/service";
import type { Sql } from "../src/storage/sql";
import { agent, cid, makeAgent, startChatServer, visitor } from "./helpers/ws-client";

/**
 * On PostgreSQL several nodes and group commits write the same conversations at once, and PostgreSQL aborts
 * one transaction of a deadlock (40P01), often a bystander: an agent's send queued behind two batches that
 * lock two conversations in opposite orders. The whole transaction is rolled back then, so the chat runs it
 * again instead of answering the sender `internal` (seen in the Redis-restart acceptance test: the agent's
 * send and, under more load, a visitor's send got `internal` and were never acknowledged).
 */
const deadlock = () => Object.assign(new Error("deadlock detected"), { errno: "40P01", code: "ERR_POSTGRES_SERVER_ERROR" });

describe("a write picked as a deadlock's victim is run again", () => {
  let server: Awaited<ReturnType<typeof startChatServer>>;
  /** The next outermost transaction / batch of the shared store fails with a deadlock, once. */
  let armed: "transaction" | "batch" | null = null;
  let fired = 0;
  beforeAll(async () => {
    server = await startChatServer();
    const sql = server.kefu.ctx.sql;
    for (const method of ["transaction", "batch"] as const) {
      const original = sql[method].bind(sql);
      sql[method] = ((fn: () => unknown) => {
        if (armed !== method) return original(fn);
        armed = null;
        fired++;
        return Promise.reject(deadlock());
      }) as Sql[typeof method];
    }
  });
  afterAll(() => server.stop());

  test("a visitor's send whose group commit deadlocked is acked, not refused", async () => {
    const v = await visitor(server.wsUrl, { lang: "en" });
    const id = cid();
    fired = 0;
    armed = "batch";
    v.c.send({ type: "send", client_id: id, text: "hello there" });
    const answer = await v.c.next((f) => (f.type === "ack" || f.type === "error") && f.client_id === id);
    expect({ fired, type: answer.type }).toEqual({ fired: 1, type: "ack" });
    await v.c.close();
  });

  test("an agent's send whose transaction deadlocked is acked, not refused", async () => {
    const lin = await makeAgent(server);
    const ag = await agent(server.wsUrl, lin.token);
    const v = await visitor(server.wsUrl, { lang: "en" });
    v.c.send({ type: "handoff" });
    const conversationId = (await ag.c.nextType("assigned")).conversation.conversation_id;
    await ag.c.next((f) => f.type === "state" && f.conversation_id === conversationId && f.state === "agent");
    const id = cid();
    fired = 0;
    armed = "transaction";
    ag.c.send({ type: "send", conversation_id: conversationId, client_id: id, text: "agent here" });
    const answer = await ag.c.next((f) => (f.type === "ack" || f.type === "error") && f.client_id === id);
    expect({ fired, type: answer.type }).toEqual({ fired: 1, type: "ack" });
    await v.c.next((f) => f.type === "message" && f.seq === answer.seq && f.text === "agent here");
    await Promise.all([v.c.close(), ag.c.close()]);
  });
});

describe("retryingDeadlocks", () => {
  /** A store whose transactions fail with `errors` (one per attempt, in order) before they succeed. */
  const failing = (errors: Error[]) => {
    const calls = { transaction: 0 };
    const sql = {
      dialect: "postgres",
      transaction: async (fn: () => unknown) => {
        calls.transaction++;
        const err = errors.shift();
        if (err) throw err;
        return fn();
      },
      batch: async (fn: () => unknown) => fn(),
    } as unknown as Sql;
    const warned: unknown[] = [];
    return { sql: retryingDeadlocks(sql, { warn: (_m: string, f?: unknown) => void warned.push(f) }), calls, warned };
  };

  test("reruns the whole outermost unit after 40P01 / 40001, not a nested one, and gives up after 5 attempts", async () => {
    const serialization = Object.assign(new Error("could not serialize"), { errno: "40001" });
    const a = failing([deadlock(), serialization]);
    let nestedRuns = 0;
    const value = await a.sql.transaction(async () => a.sql.transaction(async () => ++nestedRuns));
    // Two failed attempts before fn ran at all, then one run whose nested transaction joined it.
    expect({ value, calls: a.calls.transaction, nestedRuns, warned: a.warned.length }).toEqual({ value: 1, calls: 4, nestedRuns: 1, warned: 2 });

    const b = failing(Array.from({ length: 9 }, deadlock));
    await expect(b.sql.transaction(async () => 1)).rejects.toMatchObject({ errno: "40P01" });
    expect(b.calls.transaction).toBe(5);

    const other = Object.assign(new Error("unique"), { errno: "23505" });
    const c = failing([other]);
    await expect(c.sql.transaction(async () => 1)).rejects.toBe(other);
    expect(c.calls.transaction).toBe(1);
  });
});
