import { createHash, timingSafeEqual } from "node:crypto";
import { Elysia } from "elysia";
import type { accessPlugin } from "../../auth/access";
import { KefuError } from "../../errors/kefu-error";
import type { AppContext } from "../../server/context";
import { createMetrics, type Metrics } from "./registry";

const digest = (s: string) => createHash("sha256").update(s).digest();

/**
 * The `metrics` access check: true when `token` is `[metrics] token`. Both are hashed first, so the
 * comparison takes the same time whatever the length or content of a guess. Never true when unset.
 */
export function metricsTokenCheck(configured: string): (token: string | null) => boolean {
  if (!configured) return () => false;
  const expected = digest(configured);
  return (token) => token !== null && timingSafeEqual(digest(token), expected);
}

/** "127.0.0.1:9464" or "[::1]:9464" as Bun.serve's hostname and port. */
export function parseListen(listen: string): { hostname: string; port: number } {
  const colon = listen.lastIndexOf(":");
  return { hostname: listen.slice(0, colon).replace(/^\[(.*)\]$/, "$1"), port: Number(listen.slice(colon + 1)) };
}

/**
 * `[metrics] listen`: a second listener that serves only GET /metrics (404 for anything else), asking for
 * the token when one is set. Closed with the connections at shutdown.
 */
function serveMetrics(ctx: AppContext, metrics: Metrics, listen: string, allowed: (token: string | null) => boolean, tokenSet: boolean) {
  const { hostname, port } = parseListen(listen);
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      hostname,
      port,
      async fetch(request) {
        if (new URL(request.url).pathname !== "/metrics" || (request.method !== "GET" && request.method !== "HEAD")) return new Response("not found\n", { status: 404 });
        if (tokenSet) {
          const m = /^Bearer\s+(\S+)$/i.exec(request.headers.get("authorization") ?? "");
          if (!allowed(m ? m[1]! : null)) return new Response("unauthorized\n", { status: 401, headers: { "www-authenticate": "Bearer" } });
        }
        return new Response(await metrics.render(), { headers: { "content-type": metrics.registry.contentType, "cache-control": "no-store" } });
      },
    });
  } catch (e) {
    // Not the raw message: start.ts reads "in use" in a start-up error as the main port being taken.
    const code = (e as NodeJS.ErrnoException).code ?? "listen failed";
    throw new KefuError("metrics_listen_failed", 500, `cannot listen on [metrics] listen = "${listen}" (${code}); pick another address or port, or set it to ""`);
  }
  ctx.log.info("metrics listening", { url: `http://${listen.replace(/:\d+$/, "")}:${server.port}/metrics`, port: server.port, token_required: tokenSet });
  ctx.lifecycle.onShutdown("metrics listener", () => server.stop(true), "connections");
}

/**
 * GET /metrics: the Prometheus exposition, on the main port behind `[metrics] token` (access kind
 * `metrics`, checked before any metric is read), and on `[metrics] listen` when set. Without a token the
 * main port has no /metrics route (404).
 */
export function metricsPlugin(ctx: AppContext, access: ReturnType<typeof accessPlugin>) {
  const plugin = new Elysia({ name: "metrics" }).use(access);
  const { token, listen } = ctx.config.metrics;
  if (!token && !listen) return plugin;
  const metrics = createMetrics(ctx);
  ctx.lifecycle.onShutdown("metrics", () => metrics.stop());
  if (listen) serveMetrics(ctx, metrics, listen, metricsTokenCheck(token), token !== "");
  if (!token) return plugin;
  return plugin.get(
    "/metrics",
    async ({ set }) => {
      set.headers["content-type"] = metrics.registry.contentType;
      set.headers["cache-control"] = "no-store";
      return metrics.render();
    },
    { access: "metrics" },
  );
}
