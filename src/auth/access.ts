import { Elysia } from "elysia";
import { forbidden, KefuError, unauthorized } from "../errors/kefu-error";
import type { ClientIp } from "../server/client-ip";
import type { User } from "./user-store";

/**
 * Who may call a route, declared on the route itself (`{ access: "admin" }`), so the check runs for the
 * route the router matched — there is no second reading of the URL that could disagree with it.
 *
 * - `public`: anyone (health, login, the visitor socket, static files).
 * - `visitor`: a visitor token (the handler checks it owns the resource) or any staff token.
 * - `staff`: any signed-in account (me, logout, password change).
 * - `agent`: an agent or admin account. `admin`: an admin account; an agent gets 403.
 * - `ask`: a token listed in `[answer] ask_tokens` (or anyone with `ask_open`).
 * - `metrics`: the `[metrics] token` (GET /metrics); never an account's token.
 *
 * The check runs before the body is read (in the parse step for methods with a body, in transform for
 * the rest), and the body is read here with the route's byte limit: an unauthorized caller costs a header
 * lookup, and a body over the limit is refused from its Content-Length before it is sent (413). Bodies
 * are JSON only (415 otherwise): no form post can reach a route, which also rules out login CSRF.
 * Bearer tokens come from the Authorization header; `?access_token=` only where `queryToken` is set
 * (the agent WebSocket upgrade: browsers cannot set headers on a WebSocket).
 */
export type Role = "public" | "visitor" | "staff" | "agent" | "admin" | "ask" | "metrics";
export interface AccessOptions {
  role: Role;
  /** Largest body in bytes. Default: `[server] max_body_bytes`. */
  maxBody?: number;
  /** Also accept `?access_token=` (WebSocket upgrades only). */
  queryToken?: boolean;
  /** Reads the body instead of `readJson` (same limit), for a route that takes more than JSON (the KB import). */
  readBody?: (request: Request, limit: number) => Promise<unknown>;
}
export type Access = Role | AccessOptions;

export interface AccessDeps {
  authenticate(token: string | null): Promise<User | null> | User | null;
  isVisitorToken(token: string): boolean;
  /** True when this bearer token may call POST /api/ask. */
  askAllowed(token: string | null): Promise<boolean> | boolean;
  /** True when this bearer token is the `[metrics] token` (compared in constant time). Default: never. */
  metricsAllowed?(token: string | null): boolean;
  clientIp: ClientIp;
  /** Default body limit, bytes. */
  maxBody: number;
}

/** The role a route declared, read back from its OpenAPI detail (null: the route declared none). */
export function declaredRole(hooks: { detail?: { security?: Record<string, unknown>[] } } | undefined): Role | null {
  const security = hooks?.detail?.security;
  if (!security) return null;
  return security.length === 0 ? "public" : (Object.keys(security[0]!)[0] as Role);
}

// A type, not an interface: Elysia's resolve wants a value assignable to Record<string, unknown>.
export type Caller = {
  user: User | null;
  token: string | null;
  clientIp: string;
};

type Server = { requestIP(r: Request): { address: string } | null } | null;

/** Roles whose check or handler needs the account behind the token (the others never look it up). */
const NEEDS_USER = new Set<Role>(["visitor", "staff", "agent", "admin"]);

export function accessPlugin(deps: AccessDeps) {
  // One resolution per request, shared by the parse, transform and resolve steps of its route.
  const callers = new WeakMap<Request, Promise<Caller & { allowed?: true }>>();

  const caller = (request: Request, server: Server, o: AccessOptions) => {
    let c = callers.get(request);
    if (!c) {
      const token = bearerToken(request, o.queryToken === true);
      const clientIp = deps.clientIp(server?.requestIP(request)?.address, request.headers);
      // Public, ask and metrics routes skip the token-table lookup: an ask token is not an account's.
      c = Promise.resolve(NEEDS_USER.has(o.role) ? deps.authenticate(token) : null).then((user) => ({ user, token, clientIp }));
      callers.set(request, c);
    }
    return c;
  };

  const authorize = async (o: AccessOptions, c: Caller) => {
    switch (o.role) {
      case "public":
        return;
      case "ask":
        if (!(await deps.askAllowed(c.token))) throw unauthorized("POST /api/ask needs an API token (made in the admin console) or one listed in [answer] ask_tokens");
        return;
      case "metrics":
        if (!deps.metricsAllowed?.(c.token)) throw unauthorized("GET /metrics needs Authorization: Bearer <[metrics] token>");
        return;
      case "visitor":
        if (c.user || (c.token && deps.isVisitorToken(c.token))) return;
        throw unauthorized();
      case "staff":
      case "agent": // accounts are agents or admins: any account may
        if (!c.user) throw unauthorized();
        return;
      case "admin":
        if (!c.user) throw unauthorized();
        if (c.user.role !== "admin") throw forbidden();
        return;
    }
  };

  return new Elysia({ name: "access" }).macro({
    access(spec: Access) {
      const o: AccessOptions = typeof spec === "string" ? { role: spec } : spec;
      const maxBody = o.maxBody ?? deps.maxBody;
      const check = async (request: Request, server: Server) => {
        const c = await caller(request, server, o);
        if (!c.allowed) {
          await authorize(o, c);
          c.allowed = true;
        }
      };
      return {
        // The role as an OpenAPI security requirement: route tables, docs and tests read it from here.
        detail: { security: o.role === "public" ? [] : [{ [o.role]: [] }] },
        // Methods with a body: runs before anything reads it. Errors thrown here reach the error
        // handler wrapped in Elysia's ParseError (as its cause).
        async parse({ request, server }) {
          await check(request, server as Server);
          return (o.readBody ?? readJson)(request, maxBody);
        },
        async transform({ request, server }) {
          await check(request, server as Server);
        },
        async resolve({ request, server }) {
          const { user, token, clientIp } = await caller(request, server as Server, o);
          return { user, token, clientIp } as Caller;
        },
      };
    },
  });
}

/** `Authorization: Bearer <token>`; the query parameter only where a route allows it. */
function bearerToken(request: Request, allowQuery: boolean): string | null {
  const header = request.headers.get("authorization");
  if (header) {
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    return m ? m[1]! : null;
  }
  if (!allowQuery) return null;
  const url = request.url;
  const q = url.indexOf("?");
  return q === -1 ? null : new URLSearchParams(url.slice(q + 1)).get("access_token");
}

export const bodyTooLarge = (limit: number) => new KefuError("body_too_large", 413, `request body is larger than this route accepts (${limit} bytes)`);

/**
 * Reads a JSON body, refusing it from its Content-Length when it is too big, and while reading when the
 * length is not announced. An empty body is `null` (a route with a body schema then says what is missing).
 */
export async function readJson(request: Request, limit: number): Promise<unknown> {
  const announced = request.headers.get("content-length");
  if (announced !== null && Number(announced) > limit) throw bodyTooLarge(limit);
  if (!request.body || announced === "0") return null;
  const json = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(request.headers.get("content-type") ?? "");
  const notJson = () => new KefuError("unsupported_media_type", 415, "request body must be JSON (content-type: application/json)");
  if (announced !== null && !json) throw notJson();
  const bytes = await readBytes(request, limit);
  if (!bytes) return null;
  if (!json) throw notJson();
  const text = bytes.toString("utf8");
  if (tooDeep(text, MAX_DEPTH)) throw new KefuError("bad_body", 400, `request body nests deeper than ${MAX_DEPTH} levels`);
  try {
    return JSON.parse(text, (key, value) => {
      if (RESERVED_KEYS.has(key)) throw new KefuError("bad_body", 400, `request body may not use the key ${JSON.stringify(key)}`);
      return value;
    });
  } catch (err) {
    if (err instanceof KefuError) throw err;
    throw new KefuError("bad_body", 400, "request body is not valid JSON");
  }
}

/** Reads a body of any type up to `limit` bytes (413 beyond, from Content-Length when announced); null when empty. */
export async function readBytes(request: Request, limit: number): Promise<Buffer | null> {
  const announced = request.headers.get("content-length");
  if (announced !== null && Number(announced) > limit) throw bodyTooLarge(limit);
  if (!request.body || announced === "0") return null;
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw bodyTooLarge(limit);
    }
    chunks.push(value);
  }
  return size === 0 ? null : Buffer.concat(chunks, size);
}

/**
 * Keys no request of ours uses that make trouble downstream: an object with its own non-callable
 * `toString` makes Elysia's validation message builder throw (a 500 instead of a 400), and
 * `__proto__`/`constructor`/`prototype` are the prototype-pollution keys.
 */
const RESERVED_KEYS = new Set(["toString", "valueOf", "__proto__", "constructor", "prototype"]);
/** No body of ours nests more than a few levels; 5,000 nested arrays overflow the validator's message builder. */
const MAX_DEPTH = 32;

/** True when brackets nest deeper than `max` outside strings (checked before parsing, without recursion). */
function tooDeep(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 || c === 123) {
      if (++depth > max) return true;
    } else if (c === 93 || c === 125) depth--;
  }
  return false;
}
