/**
 * Review 18 (R2): text order on a PostgreSQL database whose collation is not C. The test server's databases
 * are C.UTF-8 (byte order, like SQLite), but a database created on a stock distribution server is en_US.UTF-8,
 * where "apple" sorts before "Banana" and "_x" before both: the agent's canned replies came in another order
 * (and a different set fit the limit) than on a single node. This test makes an ICU en-US database (skips
 * when the server has no ICU).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { createCannedStore } from "../src/canned/store";
import { createUserStore } from "../src/auth/user-store";
import { createKvStore } from "../src/plugins/kv-store";
import { createPostgresSql, type PostgresSql } from "../src/storage/postgres/driver";
import { migratePostgres } from "../src/storage/postgres/migrations";
import { PG_URL, skipUnless } from "./helpers/services";

const pgSkip = await skipUnless({ pg: true }, "review-18 PostgreSQL collation tests");
const name = `kefu_test_icu_${crypto.randomUUID().replace(/-/g, "").slice(0, 16)}`;
let icu = false;
if (!pgSkip) {
  const admin = new SQL({ url: PG_URL, max: 1 });
  try {
    await admin.unsafe(`CREATE DATABASE "${name}" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`);
    icu = true;
  } catch (e) {
    console.warn(`review-18 collation tests skipped: the PostgreSQL server cannot create an ICU en-US database (${(e as Error).message})`);
  } finally {
    await admin.close();
  }
}

describe.skipIf(!icu)("review 18: text order on an en-US collated PostgreSQL database is SQLite's (code point) order", () => {
  let pg: PostgresSql;
  beforeAll(async () => {
    const u = new URL(PG_URL);
    u.pathname = `/${name}`;
    pg = await createPostgresSql({ url: u.toString(), max: 2 });
    await migratePostgres(pg);
  }, 60_000);
  afterAll(async () => {
    await pg?.close();
    const admin = new SQL({ url: PG_URL, max: 1 });
    await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => {});
    await admin.close();
  });

  const shortcuts = ["Hello", "apple", "Banana", "_x", "中文", "zeta", "Émile", "a-b", "ab"];
  const codePointOrder = [...shortcuts].sort();

  test("canned replies: mine, then shared ones, each by shortcut in code point order", async () => {
    const users = createUserStore(pg);
    const me = await users.add({ name: "me", role: "agent", passwordHash: "x" });
    const other = await users.add({ name: "other", role: "agent", passwordHash: "x" });
    const canned = createCannedStore(pg);
    for (const s of shortcuts) await canned.add(me.id, { shortcut: s, title: null, text: s, shared: true });
    for (const s of shortcuts) await canned.add(other.id, { shortcut: s, title: null, text: s, shared: true });
    expect((await canned.visibleTo(me.id, 100)).map((r) => `${r.ownerId === me.id ? "mine" : "shared"} ${r.shortcut}`)).toEqual([
      ...codePointOrder.map((s) => `mine ${s}`),
      ...codePointOrder.map((s) => `shared ${s}`),
    ]);
    // The limit keeps the first ones of that order.
    expect((await canned.visibleTo(me.id, 3)).map((r) => r.shortcut)).toEqual(codePointOrder.slice(0, 3));
  });

  test("plugin kv listing (already COLLATE \"C\") stays in code point order", async () => {
    const kv = createKvStore(pg);
    for (const k of shortcuts) await kv.set("p", k, 1, null);
    expect((await kv.list("p", "", 100)).map((r) => r.key)).toEqual(codePointOrder);
  });
});
