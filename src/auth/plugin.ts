import { Elysia, t } from "elysia";
import { forbidden, unauthorized } from "../errors/kefu-error";
import { bearerToken, requiredRoles } from "./guard";
import type { Auth } from "./service";
import type { User } from "./user-store";

export const LoginBody = t.Object({
  name: t.String({ minLength: 1, maxLength: 64 }),
  password: t.String({ minLength: 1, maxLength: 1024 }),
});

const publicUser = (u: User) => ({ id: u.id, name: u.name, role: u.role, display_name: u.displayName });

/**
 * Resolves the bearer token on every request and enforces the protected prefixes
 * (see guard.ts) before any handler runs. Also serves login / logout / me.
 */
export function authPlugin(auth: Auth) {
  // Resolved once per request in onRequest, which runs before body parsing and
  // validation: an unauthenticated caller learns nothing about a route's schema.
  const resolved = new WeakMap<Request, { user: User | null; token: string | null }>();
  return new Elysia({ name: "auth" })
    .onRequest(({ request }) => {
      const url = new URL(request.url);
      const token = bearerToken(request, url);
      const user = auth.authenticate(token);
      resolved.set(request, { user, token: user ? token : null });
      const needs = requiredRoles(url.pathname);
      if (!needs) return;
      if (!user) throw unauthorized();
      if (!needs.includes(user.role)) throw forbidden();
    })
    .derive({ as: "global" }, ({ request }) => resolved.get(request) ?? { user: null, token: null })
    .post(
      "/api/auth/login",
      async ({ body }) => {
        const { token, expiresAt, user } = await auth.login(body.name, body.password);
        return { token, expires_at: new Date(expiresAt).toISOString(), user: publicUser(user) };
      },
      { body: LoginBody },
    )
    .post("/api/auth/logout", ({ token }) => {
      if (!token) throw unauthorized();
      auth.logout(token);
      return { ok: true };
    })
    .get("/api/auth/me", ({ user }) => {
      if (!user) throw unauthorized();
      return { user: publicUser(user) };
    });
}
