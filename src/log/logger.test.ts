import { describe, expect, test } from "bun:test";
import { KefuError } from "../errors/kefu-error";
import { createLogger, isSecretKey, REDACTED, redact, secretValues } from "./logger";

const collect = (level: "debug" | "info" = "debug") => {
  const lines: string[] = [];
  const log = createLogger({ level, write: (l) => lines.push(l) });
  return { log, lines, last: () => JSON.parse(lines.at(-1)!) as Record<string, any> };
};

describe("logger redaction", () => {
  test("secret keys are redacted in any case and spelling, wherever they are", () => {
    const { log, lines, last } = collect();
    log.info("provider call", {
      provider: "deepseek",
      api_key: "sk-live-1",
      apiKey: "sk-live-2",
      APIKEY: "sk-live-3",
      "x-api-key": "sk-live-4",
      Authorization: "Bearer tok-5",
      headers: { authorization: "Bearer tok-6", Cookie: "kefu_session=tok-7", "set-cookie": ["a=tok-8"], accept: "text/event-stream" },
      user: { name: "lin", password: "hunter2-9", password_hash: "scrypt$tok-10" },
      items: [{ access_token: "tok-11" }, { refreshToken: "tok-12" }, { client_secret: "tok-13" }],
      token: "tok-14",
      credentials: { user: "u", pass: "x" },
      private_key: "-----BEGIN tok-15",
    });
    const line = lines.at(-1)!;
    for (let i = 1; i <= 15; i++) expect(line).not.toContain(i < 5 ? `sk-live-${i}` : `tok-${i}`);
    expect(line).not.toContain("hunter2");
    const rec = last();
    expect(rec).toMatchObject({
      msg: "provider call",
      provider: "deepseek",
      api_key: REDACTED,
      apiKey: REDACTED,
      APIKEY: REDACTED,
      "x-api-key": REDACTED,
      Authorization: REDACTED,
      headers: { authorization: REDACTED, Cookie: REDACTED, "set-cookie": REDACTED, accept: "text/event-stream" },
      user: { name: "lin", password: REDACTED, password_hash: REDACTED },
      items: [{ access_token: REDACTED }, { refreshToken: REDACTED }, { client_secret: REDACTED }],
      token: REDACTED,
      credentials: REDACTED,
      private_key: REDACTED,
    });
  });

  test("fields that only look alike keep their values", () => {
    for (const key of ["api_key_env", "max_tokens", "tokens_per_second", "token_count", "token_required", "conversation_id", "agent_id", "author", "path", "ip"]) {
      expect({ key, secret: isSecretKey(key) }).toEqual({ key, secret: false });
    }
    const { log, last } = collect();
    log.info("x", { max_tokens: 512, token_required: true, visitor_id: "v1" });
    expect(last()).toMatchObject({ max_tokens: 512, token_required: true, visitor_id: "v1" });
  });

  test("errors: name, message and stack kept; their own fields, details and cause redacted by key", () => {
    const { log, lines, last } = collect();
    const cause = Object.assign(new Error("upstream said 401"), { request: { headers: { Authorization: "Bearer sk-cause" } } });
    const err = new KefuError("llm_failed", 502, "provider refused the key", { status: 401, api_key: "sk-details" });
    Object.assign(err, { cause, config: { apiKey: "sk-own" } });
    log.warn("llm provider failing", { err, nested: { errors: [new TypeError("bad"), err] } });
    const line = lines.at(-1)!;
    expect(line).not.toContain("sk-cause");
    expect(line).not.toContain("sk-details");
    expect(line).not.toContain("sk-own");
    const rec = last();
    expect(rec.err).toMatchObject({
      name: expect.any(String),
      message: "provider refused the key",
      code: "llm_failed",
      details: { status: 401, api_key: REDACTED },
      config: { apiKey: REDACTED },
      cause: { name: "Error", message: "upstream said 401", request: { headers: { Authorization: REDACTED } } },
    });
    expect(rec.err.stack).toContain("provider refused the key");
    expect(rec.nested.errors[0]).toMatchObject({ name: "TypeError", message: "bad" });
    expect(rec.nested.errors[1].details.api_key).toBe(REDACTED);
  });

  test("base fields of a child logger are redacted too; the caller's objects are left untouched", () => {
    const { log, last } = collect();
    const fields = { feature: "chat", session: { token: "tok-child" } };
    log.child(fields).info("hello", { cookie: "c=1" });
    expect(last()).toMatchObject({ feature: "chat", session: { token: REDACTED }, cookie: REDACTED });
    expect(fields.session.token).toBe("tok-child");
  });

  test("cycles, bigints, dates, maps and bytes do not break a line", () => {
    const a: Record<string, unknown> = { name: "a" };
    a.self = a;
    const out = redact({ a, n: 12n, at: new Date(0), m: new Map<string, unknown>([["password", "p"], ["x", 1]]), buf: new Uint8Array(3), same: [a, a] }) as Record<string, any>;
    expect(out).toEqual({
      a: { name: "a", self: "[circular]" },
      n: "12",
      at: "1970-01-01T00:00:00.000Z",
      m: { password: REDACTED, x: 1 },
      buf: "[3 bytes]",
      same: [{ name: "a", self: "[circular]" }, { name: "a", self: "[circular]" }],
    });
    const { log, last } = collect();
    log.info("deep", { d: { d: { d: { d: { d: { d: { d: { d: { d: 1 } } } } } } } } });
    expect(JSON.stringify(last())).toContain("[too deep]");
  });

  test("levels below the minimum are not written", () => {
    const { log, lines } = collect("info");
    log.debug("quiet", { password: "x" });
    log.info("loud");
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(["loud"]);
  });
});

describe("registered secret values", () => {
  test("are replaced inside any string, by the logger, its parent and its children; short values are ignored", () => {
    const { log, lines, last } = collect();
    const child = log.child({ feature: "llm" });
    child.secret("sk-provider-key-123456");
    log.secret("short");
    log.secret(undefined);
    log.warn("llm provider failing", { error: 'HTTP 401: Incorrect API key provided: "sk-provider-key-123456"', err: new Error("key sk-provider-key-123456 refused"), list: ["x sk-provider-key-123456 y"] });
    expect(lines.at(-1)).not.toContain("sk-provider-key-123456");
    expect(last()).toMatchObject({ error: 'HTTP 401: Incorrect API key provided: "[redacted]"', err: { message: "key [redacted] refused" }, list: ["x [redacted] y"] });
    child.info("short words stay", { text: "a short reply" });
    expect(last().text).toBe("a short reply");
    child.info("the key in a message", { q: "sk-provider-key-123456" });
    expect(last().q).toBe(REDACTED);
  });
});

test("secretValues finds the strings under secret keys of a config", () => {
  const config = { llm: { providers: [{ name: "a", api_key: "sk-aaaaaaaa" }, { name: "b", api_key_env: "B_KEY" }] }, metrics: { token: "t0k3n-metrics" }, chat: { identity_secret: "hmac-secret-1", rate_burst: 10 }, answer: { ask_tokens: ["ab".repeat(32)] } };
  expect(secretValues(config).sort()).toEqual(["hmac-secret-1", "sk-aaaaaaaa", "t0k3n-metrics"]);
});
