import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { renderConfigMarkdown } from "../src/config/render";

const root = join(import.meta.dir, "..");

test("docs/config.md is generated from the current schema (run: bun scripts/gen-docs.ts)", () => {
  expect(readFileSync(join(root, "docs/config.md"), "utf8")).toBe(renderConfigMarkdown());
});

test("README starts with the two quick-start commands", () => {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
  expect(firstBlock).toContain("npm install && npm start");
  expect(firstBlock).toContain("npm test");
  const ci = readFileSync(join(root, ".ci/run"), "utf8");
  expect(ci).toContain("npm install");
  expect(ci).toContain("npm test");
});

test("docs/security.md lists every route with the role it declares", async () => {
  const { startTestServer } = await import("./helpers/server");
  const { declaredRole } = await import("../src/auth/access");
  const doc = readFileSync(join(root, "docs/security.md"), "utf8");
  const s = await startTestServer({ log: { level: "silent" }, metrics: { token: "docs-test" } }); // /metrics exists only with a token
  try {
    const missing: string[] = [];
    for (const r of s.kefu.app.routes) {
      const role = declaredRole(r.hooks as never);
      if (role === null) continue; // static files
      const row = `| \`${r.method}\` | \`${r.path}\` | ${role} |`;
      if (!doc.includes(row)) missing.push(row);
    }
    expect(missing).toEqual([]);
  } finally {
    await s.stop();
  }
});
