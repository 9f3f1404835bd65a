import { Elysia } from "elysia";
import type { accessPlugin } from "../auth/access";
import type { AppContext } from "../server/context";
import { CannedCreateBody, CannedIdParams, CannedList, CannedOne, CannedPatchBody } from "./schemas";
import { createCannedReplies } from "./service";

/**
 * Canned replies of the agent console (src/canned/README.md): every route is for agents (admins
 * included); who may change which reply is decided in service.ts.
 */
export function cannedRoutes(ctx: Pick<AppContext, "db" | "auth">, access: ReturnType<typeof accessPlugin>) {
  const canned = createCannedReplies(ctx.db, ctx.auth.users);
  return new Elysia({ name: "canned", prefix: "/api/agent/canned" })
    .use(access)
    .get("", ({ user }) => ({ canned: canned.list(user!) }), { access: "agent", response: { 200: CannedList } })
    .post(
      "",
      ({ user, body, set }) => {
        set.status = 201;
        return { canned: canned.create(user!, body) };
      },
      { access: "agent", body: CannedCreateBody, response: { 201: CannedOne } },
    )
    .patch("/:id", ({ user, params, body }) => ({ canned: canned.update(user!, params.id, body) }), {
      access: "agent",
      params: CannedIdParams,
      body: CannedPatchBody,
      response: { 200: CannedOne },
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
