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
      let err: KefuError;
      if (error instanceof KefuError) err = error;
      else if (code === "VALIDATION") {
        const v = error as { all?: { path?: string; message?: string; summary?: string }[]; message: string };
        const first = v.all?.[0];
        const where = first?.path ? first.path.replace(/^\//, "").replaceAll("/", ".") : "";
        err = new KefuError("validation_failed", 400, `invalid request${where ? ` field ${where}` : ""}: ${first?.summary ?? first?.message ?? "does not match the schema"}`);
      } else if (code === "PARSE") err = new KefuError("bad_body", 400, "request body is not valid for its content type");
      else if (code === "NOT_FOUND") err = new KefuError("not_found", 404, `no route for ${request.method} ${path}`);
      else if (code === "INVALID_COOKIE_SIGNATURE") err = new KefuError("bad_request", 400, "invalid cookie");
      else {
        log.error("unhandled error", { err: error, path, method: request.method });
        err = new KefuError("internal", 500, "internal server error");
      }
      set.status = err.status;
      set.headers["content-type"] = "application/json; charset=utf-8";
      return err.toJSON();
    })
    .onAfterResponse({ as: "global" }, (ctx) => {
      if (!logRequests) return;
      const { request, path, set } = ctx;
      const { requestId, requestStartedAt } = ctx as unknown as { requestId?: string; requestStartedAt?: number };
      log.info("request", {
        rid: requestId,
        method: request.method,
        path, // never the query string: it may carry an access token
        status: typeof set.status === "number" ? set.status : 200,
        ms: requestStartedAt ? Math.round((performance.now() - requestStartedAt) * 10) / 10 : undefined,
      });
    });
}
