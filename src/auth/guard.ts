import type { Role } from "./user-store";

/**
 * The one table of protected areas. Every route under these prefixes needs a
 * bearer token of a role listed; features cannot forget to opt in because the
 * check runs on the path before routing.
 */
const protectedPrefixes: { prefix: string; roles: Role[] }[] = [
  { prefix: "/api/admin/", roles: ["admin"] },
  { prefix: "/api/agent/", roles: ["admin", "agent"] },
  { prefix: "/ws/agent", roles: ["admin", "agent"] },
];

export function requiredRoles(path: string): Role[] | null {
  for (const p of protectedPrefixes) {
    if (path === p.prefix.replace(/\/$/, "") || path.startsWith(p.prefix)) return p.roles;
  }
  return null;
}

/** Bearer header, or `access_token` query parameter for browser WebSockets (which cannot set headers). */
export function bearerToken(request: Request, url: URL): string | null {
  const header = request.headers.get("authorization");
  if (header) {
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    return m ? m[1] : null;
  }
  return url.searchParams.get("access_token");
}
