/**
 * Structured JSON log lines on stderr (stdout stays free for CLI output).
 *
 * Secrets are removed here, in one place, by key: any field whose name says it holds a secret (token,
 * access_token, api_key, apikey, password, secret, authorization, cookie, credentials, private_key, … in
 * any case, with `-`/`_` or without) is written as "[redacted]", at any depth, inside arrays and inside
 * errors (their own fields, `details` and `cause`). Secrets kefu knows the value of (provider API keys,
 * the metrics token) are registered with `secret()` and replaced inside any string too, e.g. an upstream
 * error message that echoes the key. Callers should still log ids rather than secrets: an unregistered
 * secret inside a free-text value (an error message, a URL) is not recognised.
 */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
  /**
   * Registers a secret value (8 characters or more; shorter ones are ignored): from now on it is written as
   * "[redacted]" wherever it appears inside a string, by this logger, its parent and all its children.
   */
  secret(value: string | undefined | null): void;
  readonly level: LogLevel;
}

export interface LoggerOptions {
  /** Minimum level written. Default "info". */
  level?: LogLevel;
  /** Where lines go. Default: process.stderr. Tests pass a collector. */
  write?: (line: string) => void;
  /** Fields added to every line. */
  base?: LogFields;
  /** Secret values shared with the parent (children only). */
  secrets?: Set<string>;
}

/** Shorter values are too likely to be ordinary words to be replaced everywhere. */
const MIN_SECRET_CHARS = 8;

export const REDACTED = "[redacted]";

/** Key names (lower case, without `-`, `_`, spaces) that hold a secret wherever they appear in the name. */
const SECRET_PARTS = ["password", "passwd", "secret", "apikey", "authorization", "cookie", "credential", "privatekey"];
/** …and at the end of the name: `access_token`, `refreshToken`, `x-auth-token` (not `max_tokens`, `token_count`). */
const SECRET_ENDS = ["token", "auth", "bearer"];

/** True when a field of this name must never be written: see the file comment. */
export function isSecretKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[^a-z0-9]/g, "");
  // `api_key_env` names the environment variable that holds the key: useful, and no secret.
  if (k.endsWith("env")) return false;
  return SECRET_PARTS.some((p) => k.includes(p)) || SECRET_ENDS.some((e) => k.endsWith(e));
}

/** How deep fields are followed; deeper values are written as "[too deep]". */
const MAX_DEPTH = 8;

/**
 * A copy of `value` safe to write: secret keys redacted, errors as plain objects (name, message, stack,
 * their own fields, cause), bigints as strings, cycles as "[circular]".
 */
export function redact(value: unknown, secrets: ReadonlySet<string> = NONE): unknown {
  return walk(value, 0, new Set(), secrets);
}
const NONE: ReadonlySet<string> = new Set();

function scrub(text: string, secrets: ReadonlySet<string>): string {
  for (const s of secrets) if (text.includes(s)) text = text.replaceAll(s, REDACTED);
  return text;
}

function walk(value: unknown, depth: number, parents: Set<object>, secrets: ReadonlySet<string>): unknown {
  if (typeof value === "string") return secrets.size ? scrub(value, secrets) : value;
  if (typeof value === "bigint") return value.toString();
  if (value === null || typeof value !== "object") return value;
  if (parents.has(value)) return "[circular]";
  if (depth >= MAX_DEPTH) return "[too deep]";
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `[${value.byteLength} bytes]`;
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function" && !(value instanceof Error)) return walk(toJSON.call(value), depth, parents, secrets);
  parents.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => walk(v, depth + 1, parents, secrets));
    const source: Record<string, unknown> = value instanceof Error ? errorFields(value) : value instanceof Map ? Object.fromEntries(value) : (value as Record<string, unknown>);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(source)) out[k] = isSecretKey(k) ? REDACTED : walk(v, depth + 1, parents, secrets);
    return out;
  } finally {
    parents.delete(value);
  }
}

/** Every string held under a secret key in `value` (e.g. the config: api keys, tokens, identity_secret), for `secret()`. */
export function secretValues(value: unknown, depth = 0): string[] {
  if (value === null || typeof value !== "object" || depth > MAX_DEPTH) return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    if (isSecretKey(k) && typeof v === "string") out.push(v);
    else out.push(...secretValues(v, depth + 1));
  }
  return out;
}

function errorFields(e: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { name: e.name, message: e.message };
  for (const k of Object.keys(e)) if (k !== "name" && k !== "message" && k !== "stack") out[k] = (e as unknown as Record<string, unknown>)[k];
  if (e.cause !== undefined) out.cause = e.cause;
  out.stack = e.stack;
  return out;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? "info";
  const write = opts.write ?? ((line: string) => process.stderr.write(line + "\n"));
  const base = opts.base ?? {};
  const secrets = opts.secrets ?? new Set<string>();
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields) => {
    if (rank[lvl] < rank[level]) return;
    write(JSON.stringify(redact({ ts: new Date().toISOString(), level: lvl, msg, ...base, ...fields }, secrets)));
  };
  return {
    level,
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => createLogger({ level, write, base: { ...base, ...fields }, secrets }),
    secret: (value) => {
      if (value && value.length >= MIN_SECRET_CHARS) secrets.add(value);
    },
  };
}
