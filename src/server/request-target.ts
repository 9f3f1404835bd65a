/**
 * The one reading of a request's path, checked before routing.
 *
 * Bun builds `request.url` from the Host header and the request target; it resolves dot segments and
 * replaces an absolute-form target's authority with the Host header before any of our code runs. When the
 * Host header is empty or holds a `/` or `?`, `request.url` is the bare path. Elysia then finds the path by
 * searching for the first `/` after a fixed offset, so a bare path (or, with its default offset, a short
 * Host like `x`) makes it route on a different path than `new URL(request.url)` reports: a guard that
 * read the URL itself checked one path while the router served another.
 *
 * This check makes every request one whose path all readers agree on, or refuses it with 400:
 * - the Host header is a plain host name, IPv4 or bracketed IPv6 address, with an optional port;
 *   requests without one (HTTP/1.0 health checkers) may only GET the health probes;
 * - the path is origin-form and canonical: no empty segments (`//`), no `.`/`..` segments, no encoded
 *   slash, backslash or dot, no backslash, no control characters.
 * Authorization itself is attached to the routes (src/auth/access.ts), so it sees the route that runs.
 */

export type TargetVerdict = { ok: true; path: string } | { ok: false; reason: string };

// Underscores too: nginx sends the upstream's name (e.g. kefu_app:8080) as Host unless told otherwise.
const HOST = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;
/** Health probes answer a request without Host: load balancers and HTTP/1.0 checkers send none. */
const HOSTLESS_OK = new Set(["/healthz", "/readyz"]);
const PREFIX = "http://";

export function checkRequestTarget(url: string, host: string | null, method: string): TargetVerdict {
  let path: string;
  if (url.startsWith(PREFIX)) {
    if (host === null || host.length > 255 || !HOST.test(host)) return { ok: false, reason: "invalid Host header" };
    // Bun writes the Host header after the scheme (lower-cased, without a default :80); the path starts
    // at the first "/" after it, which is where Elysia (standardHostname: false) starts reading too.
    const slash = url.indexOf("/", PREFIX.length);
    if (slash === -1) return { ok: false, reason: "request target must be an origin-form path" };
    if (url.slice(PREFIX.length, slash) !== host.toLowerCase().replace(/:80$/, "")) return { ok: false, reason: "request target does not match the Host header" };
    path = url.slice(slash);
  } else if (url.startsWith("/")) {
    // Bun gives a bare path when the Host header is missing, empty or not a host.
    if (host !== null) return { ok: false, reason: "invalid Host header" };
    path = url;
  } else {
    return { ok: false, reason: "request target must be an origin-form path" };
  }
  const q = path.indexOf("?");
  const pathname = q === -1 ? path : path.slice(0, q);
  const problem = pathProblem(pathname);
  if (problem) return { ok: false, reason: problem };
  if (host === null && !((method === "GET" || method === "HEAD") && HOSTLESS_OK.has(pathname))) {
    return { ok: false, reason: "a Host header is required" };
  }
  return { ok: true, path: pathname };
}

function pathProblem(p: string): string | null {
  if (!p.startsWith("/")) return "request target must be an origin-form path";
  if (p.length > 2048) return "request path too long";
  // Printable ASCII only: Bun percent-encodes everything else it lets through.
  if (/[^\x21-\x7e]/.test(p)) return "request path has characters that must be percent-encoded";
  if (p.includes("\\")) return "request path has a backslash";
  if (/%(?:2f|5c|2e|00)/i.test(p)) return "request path has an encoded slash, backslash, dot or NUL";
  if (p.includes("#")) return "request path has a fragment";
  if (p.includes("//")) return "request path has an empty segment (//)";
  if (/\/\.\.?(?:\/|$)/.test(p)) return "request path has a dot segment";
  return null;
}
