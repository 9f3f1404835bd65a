/**
 * The two backends the store contract suite runs on. Each `open()` gives a fresh, migrated database and
 * `Sql` connections `a` and `b` (two nodes): SQLite = a data dir in a temp dir, `b` the same connection as
 * `a` (one node), PostgreSQL = two pools on a new database with a random name on the KEFU_TEST_PG_URL
 * server, dropped by close().
 */
import type { Database } from "bun:sqlite";
import { afterAll, beforeAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/storage/database";
import { createPostgresSql } from "../src/storage/postgres/driver";
import { migratePostgres } from "../src/storage/postgres/migrations";
import type { Sql } from "../src/storage/sql";
import { createSqliteSql } from "../src/storage/sqlite-driver";
import { createTestDatabase, skipUnless } from "./helpers/services";

export interface Opened {
  a: Sql;
  b: Sql;
  /** SQLite: the db behind `a` (node-local tables, direct checks). */
  db?: Database;
  /** PostgreSQL: the database's URL. */
  url?: string;
  /** SQLite: the data dir. */
  dir?: string;
  close(): Promise<void>;
}

export interface Backend {
  name: "sqlite" | "postgres";
  /** True when this backend cannot run here (the reason was printed once). */
  skip: boolean;
  /** PostgreSQL: the test server's URL. */
  url?: string;
  open(opts?: { migrate?: boolean }): Promise<Opened>;
}

/**
 * SQLite is one node: `b` is the same connection as `a`. (Two bun:sqlite connections to one file in ONE
 * process cannot both run async transactions: the second BEGIN IMMEDIATE busy-waits synchronously, blocking
 * the very thread that would commit the first. Another process — a `kefu` command — is fine.)
 */
const sqlite: Backend = {
  name: "sqlite",
  skip: false,
  async open() {
    const dir = mkdtempSync(join(tmpdir(), "kefu-contract-"));
    const db = await openDatabase({ dir });
    const a = createSqliteSql(db);
    return {
      a,
      b: a,
      db,
      dir,
      async close() {
        await a.close();
        db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

const pgSkip = await skipUnless({ pg: true }, "store contract suite, PostgreSQL half");

const postgres: Backend = {
  name: "postgres",
  skip: pgSkip,
  url: process.env.KEFU_TEST_PG_URL ?? "postgres://kefu:kefu@127.0.0.1:55432/postgres",
  async open(opts = {}) {
    const tdb = await createTestDatabase("kefu_contract");
    let a: Sql | null = null;
    let b: Sql | null = null;
    try {
      a = await createPostgresSql({ url: tdb.url, max: 6 });
      b = await createPostgresSql({ url: tdb.url, max: 6 });
      if (opts.migrate !== false) await migratePostgres(a);
    } catch (err) {
      await a?.close();
      await b?.close();
      await tdb.drop();
      throw err;
    }
    const [x, y] = [a, b];
    return {
      a: x,
      b: y,
      url: tdb.url,
      async close() {
        await x.close();
        await y.close();
        await tdb.drop();
      },
    };
  },
};

export const backends: Backend[] = [sqlite, postgres];

/** Opens `backend` once for the enclosing describe block (closed after it); the getter is valid inside tests. */
export function useBackend(backend: Backend): () => Opened {
  let o: Opened | undefined;
  beforeAll(async () => {
    o = await backend.open();
  }, 60_000);
  afterAll(async () => {
    await o?.close();
  }, 30_000);
  return () => {
    if (!o) throw new Error(`${backend.name} backend is not open`);
    return o;
  };
}
