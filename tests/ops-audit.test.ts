import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { AUDITED_ROUTES, NOT_AUDITED } from "../src/ops/audit/trail";
import { cliEntry, startTestServer, type TestServer } from "./helpers/server";
import { visitor } from "./helpers/ws-client";

/** Done-when 4 of issue 17: every audited action leaves exactly one row with actor, action, target and time. */

let s: TestServer;
let admin: string;
const ADMIN = "audit-admin";
beforeAll(async () => {
  s = await startTestServer({ log: { level: "warn" } });
  admin = await s.login("admin", ADMIN);
});
afterAll(() => s.stop());

type Row = { id: number; at: string; actor: string; actor_id: number | null; action: string; target: string | null; ip: string | null; detail: Record<string, unknown> | null };

async function api(method: string, path: string, body?: unknown, token = admin) {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${s.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text && res.headers.get("content-type")?.startsWith("application/json") ? JSON.parse(text) : text };
}

async function allRows(): Promise<Row[]> {
  const res = await api("GET", "/api/admin/audit?limit=500");
  expect(res.status).toBe(200);
  return res.json.entries;
}

/**
 * Runs `act` and returns the row it added: exactly one, of `action`, by `actor`, on `target` (undefined:
 * checked by the caller), timed within the call.
 */
async function expectOneRow(action: string, actor: string | RegExp, target: string | null | undefined, act: () => Promise<unknown>): Promise<Row> {
  const before = new Set((await allRows()).map((r) => r.id));
  const t0 = Date.now();
  await act();
  const t1 = Date.now();
  const added = (await allRows()).filter((r) => !before.has(r.id));
  expect({ action, added: added.map((r) => r.action) }).toEqual({ action, added: [action] });
  const row = added[0]!;
  if (typeof actor === "string") expect(row.actor).toBe(actor);
  else expect(row.actor).toMatch(actor);
  if (target !== undefined) expect(row.target).toBe(target);
  const at = Date.parse(row.at);
  expect(at).toBeGreaterThanOrEqual(t0 - 5);
  expect(at).toBeLessThanOrEqual(t1 + 5);
  return row;
}

async function expectNoRow(act: () => Promise<unknown>) {
  const before = (await allRows()).length;
  await act();
  expect((await allRows()).length).toBe(before);
}

const login = (name: string, password: string) =>
  fetch(`${s.url}/api/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name, password }) }).then(async (r) => ({ status: r.status, json: (await r.json()) as any }));

describe("audit log", () => {
  test("HTTP: logins, accounts, knowledge entries, imports, exports, visitor data", async () => {
    const row = await expectOneRow("auth.login", ADMIN, ADMIN, () => login(ADMIN, "correct horse battery"));
    expect(row.actor_id).toBeGreaterThan(0);
    expect(row.ip).toBe("127.0.0.1");
    await expectOneRow("auth.login_failed", ADMIN, ADMIN, async () => expect((await login(ADMIN, "wrong password!!")).status).toBe(401));

    let userId = 0;
    await expectOneRow("user.add", ADMIN, "lin", async () => {
      const r = await api("POST", "/api/admin/users", { name: "lin", role: "agent", password: "a long enough password" });
      expect(r.status).toBe(201);
      userId = r.json.user.id;
    });
    const upd = await expectOneRow("user.update", ADMIN, "lin", async () => expect((await api("PATCH", `/api/admin/users/${userId}`, { display_name: "小林" })).status).toBe(200));
    expect(upd.detail).toEqual({ id: userId, display_name: "小林" });
    const lin = (await login("lin", "a long enough password")).json.token as string;
    await expectOneRow("user.passwd", "lin", "lin", async () =>
      expect((await api("POST", "/api/auth/password", { current_password: "a long enough password", new_password: "another long password" }, lin)).status).toBe(200),
    );

    let entry = "";
    const created = await expectOneRow("kb.entry.create", ADMIN, undefined, async () => {
      const r = await api("POST", "/api/admin/kb/entries", { question: "Do you ship to the moon?", answer: "Not yet." });
      expect(r.status).toBe(201);
      entry = r.json.id;
    });
    expect(created.target).toBe(entry);
    await expectOneRow("kb.entry.update", ADMIN, entry, async () => expect((await api("PUT", `/api/admin/kb/entries/${entry}`, { question: "Do you ship to the moon?", answer: "Next year." })).status).toBe(200));
    await expectOneRow("kb.entry.delete", ADMIN, entry, async () => expect((await api("DELETE", `/api/admin/kb/entries/${entry}`)).status).toBe(204));
    // A failed action changed nothing and leaves no row; nor does a dry run.
    await expectNoRow(async () => expect((await api("DELETE", `/api/admin/kb/entries/${entry}`)).status).toBe(404));
    const csv = "question,answer\nDo you gift wrap?,Yes for 2 yuan.\n";
    await expectNoRow(async () => expect((await api("POST", "/api/admin/kb/import", { text: csv, format: "csv", dry_run: true })).json.dry_run).toBe(true));
    const imp = await expectOneRow("kb.import", ADMIN, null, async () => expect((await api("POST", "/api/admin/kb/import", { text: csv, format: "csv" })).status).toBe(200));
    expect(imp.detail).toMatchObject({ format: "csv", added: 1 });
    await expectOneRow("kb.import", ADMIN, "doc-care", async () =>
      expect((await api("POST", "/api/admin/kb/import", { text: "Wash cold. Dry flat.\n\nNever bleach.", format: "document", title: "Care", document_id: "doc-care" })).status).toBe(200),
    );
    await expectOneRow("kb.document.delete", ADMIN, "doc-care", async () => expect((await api("DELETE", "/api/admin/kb/documents/doc-care")).status).toBe(204));
    const exp = await expectOneRow("kb.export", ADMIN, null, async () => expect((await api("GET", "/api/admin/kb/export?format=jsonl")).status).toBe(200));
    expect(exp.detail).toEqual({ format: "jsonl" });

    const { c, welcome } = await visitor(s.wsUrl);
    await c.close();
    await expectOneRow("visitor.export", ADMIN, welcome.visitor_id, async () => expect((await api("GET", `/api/admin/visitors/${welcome.visitor_id}/export`)).status).toBe(200));
    await expectOneRow("visitor.erase", ADMIN, welcome.visitor_id, async () => expect((await api("DELETE", `/api/admin/visitors/${welcome.visitor_id}`)).status).toBe(200));
  }, 60_000);

  test("CLI: user add / passwd / disable / enable, import, backup", async () => {
    const config = join(s.dir, "audit.toml");
    writeFileSync(config, `[storage]\ndir = ${JSON.stringify(join(s.dir, "data"))}\n`);
    const kefu = async (args: string[], stdin?: string) => {
      const proc = Bun.spawn([process.execPath, cliEntry, ...args, "-c", config], { env: { ...process.env, KEFU_LOG_LEVEL: "warn" }, stdin: stdin === undefined ? "ignore" : new Blob([stdin]), stdout: "pipe", stderr: "pipe" });
      const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      expect({ args, code, err: err.replace(/^backup: .*\n/gm, "") }).toEqual({ args, code: 0, err: "" });
      return out;
    };
    const cli = /^cli:/;
    await expectOneRow("user.add", cli, "mei", () => kefu(["user", "add", "mei", "--role", "agent"]));
    await expectOneRow("user.passwd", cli, "mei", () => kefu(["user", "passwd", "mei", "--password-stdin"], "a brand new password\n"));
    await expectOneRow("user.disable", cli, "mei", () => kefu(["user", "disable", "mei"]));
    expect((await login("mei", "a brand new password")).status).toBe(401);
    await expectOneRow("user.enable", cli, "mei", () => kefu(["user", "enable", "mei"]));
    expect((await login("mei", "a brand new password")).status).toBe(200);
    const file = join(s.dir, "faq.csv");
    writeFileSync(file, "question,answer\nDo you have a shop in Lyon?,No.\n");
    await expectOneRow("kb.import", cli, file, () => kefu(["import", file]));
    const backup = join(s.dir, "audit-backup.db");
    await expectOneRow("backup.create", cli, backup, () => kefu(["backup", backup]));
  }, 60_000);

  test("the log cannot be edited through the API: list only, and the table refuses UPDATE", async () => {
    const audit = s.kefu.app.routes.filter((r) => r.path.startsWith("/api/admin/audit"));
    expect(audit.map((r) => `${r.method} ${r.path}`)).toEqual(["GET /api/admin/audit"]);
    expect(() => s.kefu.ctx.db.run("UPDATE audit_log SET actor = 'someone else'")).toThrow("never edited");
    // Paged newest first, with filters.
    const page1 = (await api("GET", "/api/admin/audit?limit=2")).json;
    expect(page1.entries).toHaveLength(2);
    const page2 = (await api("GET", `/api/admin/audit?limit=2&before_id=${page1.next_before_id}`)).json;
    expect(page2.entries[0].id).toBeLessThan(page1.entries[1].id);
    const logins = (await api("GET", `/api/admin/audit?action=auth.login_failed&actor=${ADMIN}`)).json.entries as Row[];
    expect(logins.map((r) => r.action)).toEqual(["auth.login_failed"]);
    expect((await api("GET", `/api/admin/audit?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)).json.entries).toEqual([]);
    expect((await api("GET", "/api/admin/audit?since=yesterday")).status).toBe(400);
  });

  test("every mutating admin or auth route is audited or says why not (a new route cannot be forgotten)", () => {
    const unlisted = s.kefu.app.routes
      .filter((r) => (r.path.startsWith("/api/admin") || r.path.startsWith("/api/auth")) && r.method !== "GET")
      .map((r) => `${r.method} ${r.path}`)
      .filter((k) => k !== "POST /api/auth/login" && !(k in AUDITED_ROUTES) && !(k in NOT_AUDITED));
    expect(unlisted).toEqual([]);
    // And every listed route exists (a renamed route would silently stop being audited).
    const existing = new Set(s.kefu.app.routes.map((r) => `${r.method} ${r.path}`));
    expect(Object.keys(AUDITED_ROUTES).filter((k) => !existing.has(k))).toEqual([]);
  });
});
