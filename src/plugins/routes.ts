import { Elysia, t } from "elysia";
import type { accessPlugin } from "../auth/access";
import { forbidden, KefuError, notFound, unauthorized } from "../errors/kefu-error";
import { createRateLimiter } from "../limits/rate-limit";
import type { AppContext } from "../server/context";

const NameParams = t.Object({ name: t.String({ pattern: "^[a-z0-9][a-z0-9-]{0,62}$" }) }, { additionalProperties: false });
/** The admin actions take no body; an empty JSON object is accepted, anything else refused (an unknown field by name: not a union, whose error names none). */
const NoBody = t.Optional(t.Object({}, { additionalProperties: false }));

const PREFIX = "/api/plugins/";

/**
 * The plugins' admin API (list, reload, enable/disable: admins only) and the plugins' own routes under
 * /api/plugins/<name>/. Those are declared by the plugin at run time, so one route serves them all and
 * checks, per plugin route, what the route declared: an admin token, or (public routes) the per-address
 * rate limit. The plugin's handler runs in its worker with the route timeout.
 */
export function pluginRoutes(ctx: Pick<AppContext, "plugins" | "auth" | "config">, access: ReturnType<typeof accessPlugin>) {
  const host = ctx.plugins;
  const limits = ctx.config.plugins;
  const publicLimit = createRateLimiter({ burst: limits.public_route_burst, perSecond: limits.public_route_per_minute / 60 });
  const one = (name: string) => {
    const p = host.listing().find((l) => l.name === name);
    if (!p) throw notFound(`plugin ${name}`);
    return p;
  };

  const handle = async ({ request, params, query, body, clientIp }: { request: Request; params: Record<string, string>; query: Record<string, string | undefined>; body: unknown; clientIp: string }) => {
    const url = new URL(request.url);
    const rest = url.pathname.slice(PREFIX.length);
    const slash = rest.indexOf("/");
    const name = params.name ?? (slash < 0 ? rest : rest.slice(0, slash));
    const sub = slash < 0 ? "/" : rest.slice(slash);
    const found = host.findRoute(name, request.method, sub);
    let user: { id: number; name: string; role: string } | null = null;
    if (found?.public) {
      if (!publicLimit.take(clientIp)) throw new KefuError("rate_limited", 429, "too many requests to this plugin route; try again shortly");
    } else {
      // Routes that are not public, and paths no plugin serves, answer like an admin route to strangers.
      const m = /^Bearer\s+(\S+)$/i.exec(request.headers.get("authorization") ?? "");
      const u = await ctx.auth.authenticate(m ? m[1]! : null);
      if (!u) throw unauthorized();
      if (u.role !== "admin") throw forbidden();
      user = { id: u.id, name: u.name, role: u.role };
    }
    if (!found) throw notFound(`route ${request.method} ${url.pathname}`);
    const q: Record<string, string> = {};
    for (const [k, v] of Object.entries(query)) if (typeof v === "string") q[k] = v;
    const out = await host.callRoute(found, { method: request.method, path: sub, params: found.params, query: q, body: body ?? null, user, client_ip: clientIp });
    if (!out) throw new KefuError("plugin_failed", 502, `plugin ${name} failed to answer; see GET /api/admin/plugins`);
    return new Response(JSON.stringify(out.body), { status: out.status, headers: { "content-type": "application/json; charset=utf-8" } });
  };

  const app = new Elysia({ name: "plugins" })
    .use(access)
    .get("/api/admin/plugins", () => ({ dir: host.dir, plugins: host.listing() }), { access: "admin" })
    .post(
      "/api/admin/plugins/reload",
      async () => {
        await host.reload();
        return { plugins: host.listing() };
      },
      { access: "admin", body: NoBody },
    );
  const actions = {
    reload: (name: string) => host.reload(name),
    enable: (name: string) => host.setEnabled(name, true),
    disable: (name: string) => host.setEnabled(name, false),
  };
  for (const [action, run] of Object.entries(actions)) {
    app.post(
      `/api/admin/plugins/:name/${action}`,
      async ({ params }) => {
        one(params.name);
        await run(params.name);
        return { plugin: one(params.name) };
      },
      { access: "admin", params: NameParams, body: NoBody },
    );
  }
  for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE"] as const) {
    app.route(method, "/api/plugins/:name/*", handle as never, { access: "public" } as never);
  }
  return app;
}
