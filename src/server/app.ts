import { Elysia } from "elysia";
import { userAdminRoutes } from "../auth/admin-routes";
import { authPlugin } from "../auth/plugin";
import { answerRoutes } from "../answer/routes";
import { chatPlugin } from "../chat/routes";
import { kbAdminRoutes } from "../kb/routes";
import type { AppContext } from "./context";
import { errorsPlugin } from "./errors-plugin";
import { healthPlugin } from "./health";
import { staticFiles } from "./static";

/** The root composition: one plugin per concern, in the order requests meet them. */
export function createApp(ctx: AppContext) {
  return new Elysia({ name: "kefu" })
    .use(errorsPlugin(ctx.log, ctx.config.log.requests))
    .use(authPlugin(ctx.auth))
    .use(healthPlugin(ctx))
    .use(userAdminRoutes(ctx.auth))
    .use(chatPlugin(ctx))
    .use(kbAdminRoutes(ctx.kb, { size: ctx.config.kb.chunk_size, overlap: ctx.config.kb.chunk_overlap }))
    .use(answerRoutes(ctx.answer, ctx.config.answer))
    .use(staticFiles(ctx.config.server.public_dir, ctx.baseDir));
}
export type App = ReturnType<typeof createApp>;
