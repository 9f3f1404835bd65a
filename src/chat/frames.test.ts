import { expect, test } from "bun:test";
import { createFrameParser } from "./frames";
import { visitorFrames } from "./schemas";

const parse = createFrameParser(visitorFrames);
const problem = (raw: string | Buffer, max = 1000) => {
  const r = parse(raw, max);
  return r.ok ? null : r.problem;
};

test("valid frames come back typed; unknown extra fields are allowed", () => {
  const r = parse(JSON.stringify({ type: "send", client_id: "a", text: "hi", extra: 1 }), 1000);
  expect(r).toEqual({ ok: true, frame: { type: "send", client_id: "a", text: "hi", extra: 1 } as never });
});

test("every kind of bad input is a problem with a code, never an exception", () => {
  expect(problem(Buffer.from([1, 2]))?.code).toBe("binary_frame");
  expect(problem("x".repeat(1001))?.code).toBe("frame_too_large");
  expect(problem("长".repeat(400))?.code).toBe("frame_too_large");
  expect(problem("{oops")?.code).toBe("bad_json");
  expect(problem("42")?.code).toBe("bad_frame");
  expect(problem("[]")?.code).toBe("bad_frame");
  expect(problem('{"type":1}')?.code).toBe("bad_frame");
  expect(problem('{"type":"dance"}')?.code).toBe("unknown_type");
  const invalid = problem('{"type":"send","client_id":"c1","text":5}');
  expect(invalid).toMatchObject({ code: "invalid_frame", client_id: "c1" });
  expect(String(invalid?.vars?.detail)).toContain("text");
});
