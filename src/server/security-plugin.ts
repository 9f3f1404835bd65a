import { Elysia } from "elysia";
import { KefuError } from "../errors/kefu-error";
import { checkRequestTarget } from "./request-target";

/**
 * Headers on everything the server sends. The pages of public/ load scripts, styles and connections
 * from this origin only; nothing is framed (the widget runs on the shop's page, not in our frame).
 */
export const SECURITY_HEADERS: Record<string, string> = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "strict-origin-when-cross-origin",
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-frame-options": "DENY",
};

/**
 * The first plugin a request meets: refuses request targets and Host headers that the router and our
 * code could read differently (see request-target.ts), and sets the security headers.
 */
export function securityPlugin() {
  return new Elysia({ name: "security" })
    .headers(SECURITY_HEADERS)
    .onRequest(({ request }) => {
      const verdict = checkRequestTarget(request.url, request.headers.get("host"), request.method);
      if (!verdict.ok) throw new KefuError("bad_request_target", 400, verdict.reason);
    });
}
