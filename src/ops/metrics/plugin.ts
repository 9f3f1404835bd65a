import { createHash, timingSafeEqual } from "node:crypto";
import { Elysia } from "elysia";
import type { accessPlugin } from "../../auth/access";
import type { AppContext } from "../../server/context";
import { createMetrics } from "./registry";

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

/**
 * GET /metrics: the Prometheus exposition, on the main port behind `[metrics] token` (access kind
 * `metrics`, checked before any metric is read). Without a token configured the route does not exist (404).
 */
export function metricsPlugin(ctx: AppContext, access: ReturnType<typeof accessPlugin>) {
  const plugin = new Elysia({ name: "metrics" }).use(access);
  const token = ctx.config.metrics.token;
  if (!token) return plugin;
  const metrics = createMetrics(ctx);
  ctx.lifecycle.onShutdown("metrics", () => metrics.stop());
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
