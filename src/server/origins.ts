/**
 * Which web pages may talk to the visitor endpoints from a browser: `[server] allowed_origins`.
 * The server's own origin (the Host the browser used, over http or https: TLS usually ends at a proxy)
 * is always allowed; "*" allows any origin, and only when listed explicitly. A request without an
 * Origin header does not come from a web page's script (curl, native apps) and is not the browser's
 * cross-site problem this guards against.
 */
export function createOriginPolicy(allowed: string[]) {
  const any = allowed.includes("*");
  const listed = new Set(allowed.filter((o) => o !== "*").map((o) => o.toLowerCase().replace(/\/$/, "")));
  return {
    allows(origin: string | null, host: string | null): boolean {
      if (origin === null) return true;
      if (any) return true;
      const o = origin.toLowerCase();
      if (listed.has(o)) return true;
      if (!host) return false;
      const h = host.toLowerCase();
      return o === `http://${h}` || o === `https://${h}`;
    },
  };
}
export type OriginPolicy = ReturnType<typeof createOriginPolicy>;

/** Config check: every entry is "*" or scheme://host[:port], nothing else (a path never matches an Origin). */
export function badOrigin(allowed: string[]): string | null {
  for (const o of allowed) {
    if (o === "*") continue;
    if (!/^https?:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?\/?$|^https?:\/\/\[[0-9A-Fa-f:.]+\](?::\d{1,5})?\/?$/.test(o)) return o;
  }
  return null;
}

/** CORS answer headers for an allowed cross-origin caller of a visitor REST route. */
export function corsHeaders(origin: string, methods: string): Record<string, string> {
  return {
    "access-control-allow-origin": origin,
    "access-control-allow-methods": methods,
    "access-control-allow-headers": "authorization, content-type",
    "access-control-max-age": "600",
    vary: "Origin",
  };
}
