import { Elysia } from "elysia";
import type { accessPlugin } from "../auth/access";
import type { AppContext } from "../server/context";
import { CannedCreateBody, CannedIdParams, CannedList, CannedOne, CannedPatchBody } from "./schemas";
import { createCannedReplies } from "./service";

/**
 * Canned replies of the agent console (src/canned/README.md): every route is for agents (admins
 * included); who may change which reply is decided in service.ts.
 */
export function cannedRoutes(ctx: Pick<AppContext, "sql" | "auth">, access: ReturnType<typeof accessPlugin>) {
  const canned = createCannedReplies(ctx.sql, ctx.auth.users);
  return new Elysia({ name: "canned", prefix: "/api/agent/canned" })
    .use(access)
    .get("", async ({ user }) => ({ canned: await canned.list(user!) }), { access: "agent", response: { 200: CannedList } })
    .post(
      "",
      async ({ user, body, set }) => {
        const created = await canned.create(user!, body);
        set.status = 201;
        return { canned: created };
      },
      { access: "agent", body: CannedCreateBody, response: { 201: CannedOne } },
    )
    .patch("/:id", async ({ user, params, body }) => ({ canned: await canned.update(user!, params.id, body) }), {
      access: "agent",
      params: CannedIdParams,
      body: CannedPatchBody,
      response: { 200: CannedOne },
    })
    .delete(
      "/:id",
      async ({ user, params, set }) => {
        await canned.delete(user!, params.id);
        set.status = 204;
      },
      { access: "agent", params: CannedIdParams },
    );
}
