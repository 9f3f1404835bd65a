import { Elysia } from "elysia";
import { accessPlugin } from "../auth/access";
import { userAdminRoutes } from "../auth/admin-routes";
import { authRoutes } from "../auth/plugin";
import { answerRoutes, askTokenCheck } from "../answer/routes";
import { cannedRoutes } from "../canned/routes";
import { chatPlugin } from "../chat/routes";
import { isVisitorToken } from "../chat/visitor-store";
import { insightsRoutes } from "../insights/routes";
import { kbAdminRoutes } from "../kb/routes";
import { tuningRoutes } from "../kb/tuning/routes";
import { modelsRoutes } from "../models/routes";
import { metricsPlugin, metricsTokenCheck } from "../ops/metrics/plugin";
import { opsRoutes } from "../ops/routes";
import { systemRoutes } from "../ops/system-routes";
import { pluginRoutes } from "../plugins/routes";
import { createClientIp } from "./client-ip";
import type { AppContext } from "./context";
import { errorsPlugin } from "./errors-plugin";
import { healthPlugin } from "./health";
import { securityPlugin } from "./security-plugin";
import { staticFiles } from "./static";
import { webAssets } from "./web-assets";

/** The root composition: one plugin per concern, in the order requests meet them. */
export function createApp(ctx: AppContext) {
  const { config } = ctx;
  const access = accessPlugin({
    authenticate: (token) => ctx.auth.authenticate(token),
    isVisitorToken,
    askAllowed: askTokenCheck(config.answer, (token) => ctx.auth.askTokens.check(token)),
    metricsAllowed: metricsTokenCheck(config.metrics.token),
    clientIp: createClientIp({ trustedProxies: config.server.trusted_proxies, header: config.server.client_ip_header.toLowerCase() }),
    maxBody: config.server.max_body_bytes,
  });
  // standardHostname: false makes Elysia find the path right after "http://" + Host; the security
  // plugin has already refused every URL where that reading and ours could differ.
  return new Elysia({ name: "kefu", handler: { standardHostname: false }, normalize: false })
    .use(securityPlugin())
    .use(errorsPlugin(ctx.log, config.log.requests))
    .use(healthPlugin(ctx, access))
    .use(metricsPlugin(ctx, access))
    .use(opsRoutes(ctx, access)) // before the routes it audits: its hooks apply to routes registered after it
    .use(systemRoutes(ctx, access))
    .use(authRoutes(ctx.auth, access))
    .use(userAdminRoutes(ctx.auth, access))
    .use(chatPlugin(ctx, access))
    .use(cannedRoutes(ctx, access))
    .use(kbAdminRoutes(ctx.kb, access, { chunk: { size: config.kb.chunk_size, overlap: config.kb.chunk_overlap }, maxImportBytes: config.server.max_import_bytes, sql: ctx.sql }))
    .use(tuningRoutes(ctx, access))
    .use(answerRoutes(ctx.answer, access, () => ctx.chat.handoffStats(), ctx.insights.record))
    .use(insightsRoutes(ctx, access))
    .use(pluginRoutes(ctx, access))
    .use(modelsRoutes(ctx.models, ctx.kb, access))
    .use(webAssets(ctx.log.child({ feature: "web" }), access))
    .use(staticFiles(config.server.public_dir, ctx.baseDir));
}
export type App = ReturnType<typeof createApp>;
