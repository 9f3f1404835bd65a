import { Elysia } from "elysia";
import type { accessPlugin } from "../auth/access";
import type { AppContext } from "../server/context";
import { CannedCreateBody, CannedIdParams, CannedPatchBody } from "./schemas";
import { createCannedReplies } from "./service";

/**
 * Canned replies of the agent console (src/canned/README.md): every route is for agents (admins
 * included); who may change which reply is decided in service.ts.
 */
export function cannedRoutes(ctx: Pick<AppContext, "db" | "auth">, access: ReturnType<typeof accessPlugin>) {
  const canned = createCannedReplies(ctx.db, ctx.auth.users);
  return new Elysia({ name: "canned", prefix: "/api/agent/canned" })
    .use(access)
    .get("", ({ user }) => ({ canned: canned.list(user!) }), { access: "agent" })
    .post(
      "",
      ({ user, body, set }) => {
        set.status = 201;
        return { canned: canned.create(user!, body) };
      },
      { access: "agent", body: CannedCreateBody },
    )
    .patch("/:id", ({ user, params, body }) => ({ canned: canned.update(user!, params.id, body) }), {
      access: "agent",
      params: CannedIdParams,
      body: CannedPatchBody,
    })
    .delete(
      "/:id",
      ({ user, params, set }) => {
        canned.delete(user!, params.id);
        set.status = 204;
      },
      { access: "agent", params: CannedIdParams },
    );
}
