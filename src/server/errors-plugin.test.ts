import { describe, expect, test } from "bun:test";
import { Elysia, t } from "elysia";
import { createLogger } from "../log/logger";
import { errorsPlugin } from "./errors-plugin";

const strict = { additionalProperties: false } as const;
const app = new Elysia({ normalize: false }).use(errorsPlugin(createLogger({ write: () => {} }), false)).post("/x", ({ body }) => body, {
  body: t.Object(
    {
      name: t.String(),
      entry: t.Optional(t.Object({ question: t.String() }, strict)),
      list: t.Optional(t.Array(t.Object({ id: t.String() }, strict))),
    },
    strict,
  ),
});
async function post(body: unknown) {
  const res = await app.handle(new Request("http://localhost/x", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }));
  return { status: res.status, error: ((await res.json()) as { error?: { code: string; message: string } }).error };
}

describe("validation errors", () => {
  test("an unknown field is named, with its path when nested, before any other problem", async () => {
    expect(await post({ name: "x", dryRun: true })).toEqual({ status: 400, error: { code: "validation_failed", message: 'invalid request: unknown field "dryRun"' } });
    expect((await post({ name: "x", entry: { question: "q", answr: "a" } })).error?.message).toBe('invalid request: unknown field "entry.answr"');
    expect((await post({ name: "x", list: [{ id: "1" }, { id: "2", idd: "3" }] })).error?.message).toBe('invalid request: unknown field "list.1.idd"');
    expect((await post({ name: "x", entry: { question: "q", "a/b~c": 1 } })).error?.message).toBe('invalid request: unknown field "entry.a/b~c"');
    // The misspelled field is why `name` looks missing: it is the one named.
    expect((await post({ nmae: "x" })).error?.message).toBe('invalid request: unknown field "nmae"');
  });

  test("other problems keep their field and summary", async () => {
    const r = await post({ name: 1 });
    expect(r.status).toBe(400);
    expect(r.error?.message).toMatch(/^invalid request field name: /);
  });
});
