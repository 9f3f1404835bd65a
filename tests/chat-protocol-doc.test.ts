import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { TSchema } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { agentFrames, serverFrames, visitorFrames } from "../src/chat/schemas";
import { isTextKey } from "../src/chat/texts";

// Issue 4, done-when 5: docs/protocol.md documents every frame with an example,
// and every example is valid against the schema the server uses.
const doc = readFileSync(join(import.meta.dir, "../docs/protocol.md"), "utf8");
const examples = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]) as { type: string });

const covered = (schemas: Record<string, TSchema>) =>
  Object.fromEntries(Object.entries(schemas).map(([name, schema]) => [name, examples.some((e) => Value.Check(schema, e))]));
const all = (schemas: Record<string, TSchema>) => Object.fromEntries(Object.keys(schemas).map((k) => [k, true]));

test("every visitor, agent and server frame has a valid example", () => {
  expect(covered(visitorFrames)).toEqual(all(visitorFrames));
  expect(covered(agentFrames)).toEqual(all(agentFrames));
  expect(covered(serverFrames)).toEqual(all(serverFrames));
});

test("every example is a frame some schema accepts", () => {
  const schemas = [...Object.values(visitorFrames), ...Object.values(agentFrames), ...Object.values(serverFrames)];
  for (const e of examples) expect({ example: e, valid: schemas.some((s) => Value.Check(s, e)) }).toEqual({ example: e, valid: true });
});

test("every visitor-facing error code is in the error table", () => {
  const codes = ["bad_json", "bad_frame", "unknown_type", "invalid_frame", "binary_frame", "frame_too_large", "not_owner", "agent_offline"];
  const src = readFileSync(join(import.meta.dir, "../src/chat/texts.ts"), "utf8");
  for (const m of src.matchAll(/^\s+err_(\w+):/gm)) if (isTextKey(`err_${m[1]}`)) codes.push(m[1]);
  for (const code of new Set(codes)) expect(doc).toContain(`| \`${code}\` |`);
});
