/** Shared set-up of the review-18 PostgreSQL tests: a migrated database of their own, and a copied SQLite install. */
import type { Database } from "bun:sqlite";
import { afterAll, beforeAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/storage/database";
import { copySqliteToPostgres } from "../src/storage/postgres/copy";
import { createPostgresSql, type PostgresSql } from "../src/storage/postgres/driver";
import { migratePostgres } from "../src/storage/postgres/migrations";
import type { Sql } from "../src/storage/sql";
import { createSqliteSql } from "../src/storage/sqlite-driver";
import { createTestDatabase, type TestDatabase } from "./helpers/services";

/** A fresh migrated PostgreSQL database for the enclosing describe block; the getter is valid inside tests. */
export function useMigratedPg(): () => PostgresSql {
  let tdb: TestDatabase | undefined;
  let pg: PostgresSql | undefined;
  beforeAll(async () => {
    tdb = await createTestDatabase();
    pg = await createPostgresSql({ url: tdb.url, max: 3 });
    await migratePostgres(pg);
  }, 60_000);
  afterAll(async () => {
    await pg?.close();
    await tdb?.drop();
  });
  return () => pg!;
}

/** A single-node install filled by `fill`, copied by migrate-storage's copy into a new database, then `check`ed there. */
export async function copiedInstall(fill: (lite: Sql, db: Database) => Promise<void>, check: (pg: PostgresSql) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), "kefu-r18-"));
  const target = await createTestDatabase();
  const to = await createPostgresSql({ url: target.url, max: 2 });
  const db = await openDatabase({ dir });
  const lite = createSqliteSql(db);
  try {
    await fill(lite, db);
    await migratePostgres(to);
    await copySqliteToPostgres(db, to);
    await check(to);
  } finally {
    await lite.close();
    db.close();
    await to.close();
    await target.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}
