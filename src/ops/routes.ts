import { Elysia, t } from "elysia";
import type { accessPlugin } from "../auth/access";
import { badRequest, notFound } from "../errors/kefu-error";
import type { AppContext } from "../server/context";
import { createAuditStore } from "./audit/store";
import { auditTrail } from "./audit/trail";
import { eraseVisitor, exportVisitor, findVisitors } from "./erase";

const VisitorParams = t.Object({ id: t.String({ minLength: 1, maxLength: 64 }) });

/** ISO date or epoch milliseconds. */
const Instant = t.String({ minLength: 1, maxLength: 40 });
const instant = (v: string | undefined, name: string) => {
  if (v === undefined) return undefined;
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms)) throw badRequest(`${name} must be an ISO date or epoch milliseconds`);
  return ms;
};

export const AuditQuery = t.Object({
  action: t.Optional(t.String({ maxLength: 64 })),
  actor: t.Optional(t.String({ maxLength: 128 })),
  target: t.Optional(t.String({ maxLength: 256 })),
  since: t.Optional(Instant),
  until: t.Optional(Instant),
  before_id: t.Optional(t.Integer({ minimum: 1 })),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 500 })),
});

/**
 * The audit trail (registered before every other route so its hooks see them all), the audit log's
 * read-only listing, and one visitor's data on request: find, export, erase. Admins only.
 */
export function opsRoutes(ctx: AppContext, access: ReturnType<typeof accessPlugin>) {
  const audit = createAuditStore(ctx.sql);
  return new Elysia({ name: "ops" })
    .use(auditTrail(audit, ctx.log.child({ feature: "audit" })))
    .use(access)
    .get(
      "/api/admin/audit",
      ({ query }) =>
        audit.list({
          action: query.action,
          actor: query.actor,
          target: query.target,
          since: instant(query.since, "since"),
          until: instant(query.until, "until"),
          beforeId: query.before_id,
          limit: query.limit,
        }),
      { access: "admin", query: AuditQuery },
    )
    .get("/api/admin/visitors", async ({ query }) => ({ visitors: await findVisitors(ctx.sql, query.q) }), {
      access: "admin",
      query: t.Object({ q: t.String({ minLength: 1, maxLength: 256 }) }),
    })
    .get(
      "/api/admin/visitors/:id/export",
      async ({ params, set }) => {
        const data = await exportVisitor(ctx.sql, params.id);
        if (!data) throw notFound(`visitor ${params.id}`);
        set.headers["content-disposition"] = `attachment; filename="visitor-${params.id}.json"`;
        return data;
      },
      { access: "admin", params: VisitorParams },
    )
    .delete(
      "/api/admin/visitors/:id",
      async ({ params }) => {
        const erased = await eraseVisitor(ctx.sql, params.id);
        if (!erased) throw notFound(`visitor ${params.id}`);
        return { erased };
      },
      { access: "admin", params: VisitorParams },
    );
}
