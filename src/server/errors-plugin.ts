import { ValueErrorType } from "@sinclair/typebox/errors";
import { Elysia } from "elysia";
import { KefuError } from "../errors/kefu-error";
import type { Logger } from "../log/logger";

/**
 * The one place where anything thrown becomes an HTTP response, plus request ids and
 * access logs. Framework errors (validation, bad JSON, unknown route) are turned into
 * the same `{ error: { code, message } }` shape as our own.
 */
export function errorsPlugin(log: Logger, logRequests: boolean) {
  return new Elysia({ name: "errors" })
    .derive({ as: "global" }, ({ request }) => {
      const given = request.headers.get("x-request-id");
      const requestId = given && /^[\w.-]{1,64}$/.test(given) ? given : crypto.randomUUID();
      return { requestId, requestStartedAt: performance.now() };
    })
    .onAfterHandle({ as: "global" }, ({ set, requestId }) => {
      if (requestId) set.headers["x-request-id"] = requestId;
    })
    .onError({ as: "global" }, ({ code, error, set, request, path }) => {
      const err = toResponseError(code, error, request, path, log);
      set.status = err.status;
      set.headers["content-type"] = "application/json; charset=utf-8";
      return err.toJSON();
    })
    .onAfterResponse({ as: "global" }, (ctx) => {
      if (!logRequests) return;
      const { request, path, set } = ctx;
      const { requestId, requestStartedAt, clientIp } = ctx as unknown as { requestId?: string; requestStartedAt?: number; clientIp?: string };
      log.info("request", {
        rid: requestId,
        method: request.method,
        path, // never the query string: it may carry an access token
        status: typeof set.status === "number" ? set.status : 200,
        ms: requestStartedAt ? Math.round((performance.now() - requestStartedAt) * 10) / 10 : undefined,
        ip: clientIp, // as the limits see it (after trusted proxies): check a proxy set-up here
      });
    });
}

/**
 * Maps anything thrown to the error a client sees. Elysia wraps errors thrown while parsing a body (our
 * access and body-limit checks run there) in a ParseError whose cause is ours. Formatting a validation
 * error can itself throw on hostile input (e.g. a field that is an object with a `toString` key), so
 * it is guarded: bad input gets a 400, never a 500.
 */
function toResponseError(code: string | number, error: unknown, request: Request, path: string, log: Logger): KefuError {
  if (error instanceof KefuError) return error;
  const cause = (error as { cause?: unknown } | null)?.cause;
  if (code === "PARSE") return cause instanceof KefuError ? cause : new KefuError("bad_body", 400, "request body is not valid for its content type");
  if (code === "VALIDATION") return validationError(error);
  if (code === "NOT_FOUND") return new KefuError("not_found", 404, `no route for ${request.method} ${path}`);
  if (code === "INVALID_COOKIE_SIGNATURE") return new KefuError("bad_request", 400, "invalid cookie");
  if (isStorageConnectionError(error) || isStorageConnectionError(cause)) {
    log.warn("shared database unavailable", { err: error, path, method: request.method });
    return new KefuError("storage_unavailable", 503, "the shared database is unavailable; try again shortly");
  }
  log.error("unhandled error", { err: error, path, method: request.method });
  return new KefuError("internal", 500, "internal server error");
}

/**
 * A PostgreSQL connection that failed or was lost (Bun.SQL's ERR_POSTGRES_CONNECTION_* / socket codes, SQLSTATE
 * class 08, admin shutdown 57P01-3, too many connections 53300), when one escapes the driver's own mapping:
 * the client should retry (503), it is not a bug of ours (500).
 */
export function isStorageConnectionError(err: unknown): boolean {
  const e = err as { code?: unknown; errno?: unknown } | null;
  if (!e || typeof e !== "object") return false;
  if (e instanceof KefuError) return e.code === "storage_unavailable";
  if (typeof e.errno === "string" && (e.errno.startsWith("08") || /^57P0[123]$/.test(e.errno) || e.errno === "53300")) return true;
  return typeof e.code === "string" && /^ERR_POSTGRES_(CONNECTION_|IDLE_TIMEOUT|LIFETIME_TIMEOUT|TLS|SOCKET)/.test(e.code);
}

/**
 * The first problem of a failed validation, as one line. An unknown field comes first whatever else is wrong
 * (bodies are strict: a misspelled `dry_run` is the likeliest reason a required field looks missing) and is
 * named with its path, nested fields dotted (`unknown field "entry.answr"`).
 */
function validationError(error: unknown): KefuError {
  let detail = "does not match the schema";
  let where = "";
  try {
    const v = error as { all?: { type?: unknown; path?: unknown; message?: unknown; summary?: unknown }[] };
    const all = v.all ?? [];
    const unknown = all.find((e) => e.type === ValueErrorType.ObjectAdditionalProperties && typeof e.path === "string");
    if (unknown) return new KefuError("validation_failed", 400, `invalid request: unknown field ${JSON.stringify(dotted(unknown.path as string))}`);
    const first = all[0];
    if (typeof first?.path === "string") where = dotted(first.path);
    const text = first?.summary ?? first?.message;
    if (typeof text === "string") detail = text;
  } catch {
    // Elysia's own formatter failed on this input; the generic message is still true.
  }
  return new KefuError("validation_failed", 400, `invalid request${where ? ` field ${where}` : ""}: ${detail}`);
}

/** A JSON pointer ("/entry/alt_questions/0") as a dotted path ("entry.alt_questions.0"), escapes undone. */
function dotted(pointer: string): string {
  return pointer
    .replace(/^\//, "")
    .split("/")
    .map((k) => k.replaceAll("~1", "/").replaceAll("~0", "~"))
    .join(".");
}
