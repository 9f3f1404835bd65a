/**
 * The one error family of kefu. Every failure a client can see carries a stable
 * machine-readable `code`, the HTTP `status` it maps to, and a human message.
 * WebSocket `error` frames reuse `code` and `message`.
 */
export class KefuError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "KefuError";
  }

  toJSON() {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details === undefined ? {} : { details: this.details }),
      },
    };
  }
}

export const badRequest = (message: string, details?: unknown) =>
  new KefuError("bad_request", 400, message, details);
export const unauthorized = (message = "missing or invalid credentials") =>
  new KefuError("unauthorized", 401, message);
export const forbidden = (message = "not allowed for this account") =>
  new KefuError("forbidden", 403, message);
export const notFound = (what: string) => new KefuError("not_found", 404, `${what} not found`);
export const conflict = (message: string) => new KefuError("conflict", 409, message);

/** Turns anything thrown into a KefuError; unknown errors become an opaque 500. */
export function toKefuError(err: unknown): KefuError {
  if (err instanceof KefuError) return err;
  return new KefuError("internal", 500, "internal server error");
}
