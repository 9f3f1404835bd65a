import { Elysia } from "elysia";
import type { Logger } from "../../log/logger";
import type { AuditAction, AuditEvent, AuditStore } from "./store";

/**
 * The audit trail of the HTTP API, kept beside the routes rather than in them: one row per audited route,
 * "METHOD /template" -> what to record. A row is written after the handler succeeded and before the
 * response is sent (a failed request changed nothing and leaves no row), except failed logins, which are
 * recorded once answered 401 (refusals by the login rate limit, 429, are not: they are unbounded and
 * logged instead). tests/ops-audit.test.ts checks that every mutating /api/admin route is listed here or
 * in NOT_AUDITED, so a new route cannot be forgotten.
 */
type Seen = { params: Record<string, string>; body: any; query: Record<string, string | undefined>; response: any };
type Rule = { action: AuditAction; target?: (s: Seen) => unknown; detail?: (s: Seen) => Record<string, unknown> | undefined; skip?: (s: Seen) => boolean };

export const AUDITED_ROUTES: Record<string, Rule> = {
  "POST /api/auth/password": { action: "user.passwd", detail: () => ({ own: true }) },
  "POST /api/admin/users": { action: "user.add", target: (s) => s.response?.user?.name, detail: (s) => ({ id: s.response?.user?.id, role: s.body?.role }) },
  "PATCH /api/admin/users/:id": {
    action: "user.update",
    target: (s) => s.response?.user?.name ?? s.params.id,
    detail: (s) => ({ id: Number(s.params.id), ...s.body }),
  },
  "POST /api/admin/users/:id/password": { action: "user.passwd", target: (s) => s.response?.user?.name ?? s.params.id, detail: (s) => ({ id: Number(s.params.id) }) },
  "POST /api/admin/tokens": { action: "token.create", target: (s) => s.response?.label, detail: (s) => ({ id: s.response?.id }) },
  "DELETE /api/admin/tokens/:id": { action: "token.revoke", target: (s) => s.params.id },
  "POST /api/admin/kb/entries": { action: "kb.entry.create", target: (s) => s.response?.id },
  "PUT /api/admin/kb/entries/:id": { action: "kb.entry.update", target: (s) => s.params.id },
  "DELETE /api/admin/kb/entries/:id": { action: "kb.entry.delete", target: (s) => s.params.id },
  "DELETE /api/admin/kb/documents/:id": { action: "kb.document.delete", target: (s) => s.params.id },
  "POST /api/admin/kb/import": {
    action: "kb.import",
    skip: (s) => s.response?.dry_run === true || s.response?.applied === false,
    target: (s) => s.body?.document_id ?? s.body?.title ?? s.body?.file_name ?? null,
    detail: (s) => ({
      format: s.response?.format ?? null,
      mode: s.response?.mode,
      added: s.response?.counts?.added,
      updated: s.response?.counts?.updated,
      deleted: s.response?.counts?.deleted,
      rejected: s.response?.counts?.rejected,
      documents: s.response?.documents?.length,
    }),
  },
  "POST /api/admin/kb/entries/bulk": { action: "kb.entry.bulk", skip: (s) => !s.response?.affected, detail: (s) => ({ action: s.body?.action, ids: s.body?.ids?.length, affected: s.response?.affected }) },
  "POST /api/admin/kb/demo/remove": { action: "kb.demo.remove", skip: (s) => !s.response?.deleted, detail: (s) => ({ deleted: s.response?.deleted }) },
  "PUT /api/admin/kb/thresholds": { action: "kb.thresholds.update", detail: (s) => ({ direct: s.body?.direct, suggest: s.body?.suggest }) },
  "DELETE /api/admin/kb/thresholds": { action: "kb.thresholds.reset", detail: (s) => ({ direct: s.response?.direct, suggest: s.response?.suggest }) },
  "POST /api/admin/unanswered/resolve": {
    action: "insights.resolve",
    target: (s) => s.response?.entry?.id,
    detail: (s) => ({ rows: s.body?.log_ids?.length, new_entry: s.body?.entry !== undefined }),
  },
  "POST /api/admin/unanswered/dismiss": { action: "insights.dismiss", detail: (s) => ({ rows: s.response?.dismissed }) },
  "POST /api/admin/plugins/reload": { action: "plugin.reload", target: () => "*" },
  "POST /api/admin/plugins/:name/reload": { action: "plugin.reload", target: (s) => s.params.name },
  "POST /api/admin/plugins/:name/enable": { action: "plugin.enable", target: (s) => s.params.name },
  "POST /api/admin/plugins/:name/disable": { action: "plugin.disable", target: (s) => s.params.name },
  "GET /api/admin/kb/export": { action: "kb.export", detail: (s) => ({ format: s.query.format ?? "csv" }) },
  "GET /api/admin/visitors/:id/export": { action: "visitor.export", target: (s) => s.params.id, detail: (s) => ({ conversations: s.response?.conversations?.length }) },
  "DELETE /api/admin/visitors/:id": { action: "visitor.erase", target: (s) => s.params.id, detail: (s) => s.response?.erased },
};

/** Mutating admin routes that change no data worth auditing (or audit themselves), with the reason. */
export const NOT_AUDITED: Record<string, string> = {
  "POST /api/admin/pending/run": "runs the off-hours batch now; its answers are chat messages",
  "POST /api/auth/logout": "ends the caller's own session",
  "POST /api/admin/kb/hit-test": "read only: one search, nothing is written",
  "POST /api/admin/kb/batch-runs": "an evaluation: saves its own result, changes nothing visitors get",
  "DELETE /api/admin/kb/batch-runs/:id": "deletes a saved evaluation, changes nothing visitors get",
};

type Ctx = {
  request: Request;
  route: string;
  set: { status?: number | string };
  params?: Record<string, string>;
  body?: unknown;
  query?: Record<string, string | undefined>;
  responseValue?: unknown;
  response?: unknown;
  user?: { id: number; name: string } | null;
  clientIp?: string;
};

const asTarget = (v: unknown) => (v === undefined || v === null || v === "" ? null : String(v));

export function auditTrail(audit: AuditStore, log: Logger) {
  const write = async (e: AuditEvent) => {
    try {
      await audit.record(e);
    } catch (err) {
      // The change itself is done; a lost audit row is reported loudly, not turned into a failed request.
      log.error("audit row not written", { action: e.action, target: e.target, err });
    }
  };
  return new Elysia({ name: "audit-trail" })
    .onAfterHandle({ as: "global" }, async (c) => {
      const ctx = c as unknown as Ctx;
      const key = `${ctx.request.method} ${ctx.route}`;
      if (key === "POST /api/auth/login") {
        const u = (ctx.responseValue as { user?: { id: number; name: string } } | undefined)?.user;
        if (u) await write({ actor: u.name, actorId: u.id, action: "auth.login", target: u.name, ip: ctx.clientIp });
        return;
      }
      const rule = AUDITED_ROUTES[key];
      if (!rule || !ctx.user) return;
      const status = typeof ctx.set.status === "number" ? ctx.set.status : 200;
      if (status >= 400) return;
      const seen: Seen = { params: ctx.params ?? {}, body: ctx.body, query: ctx.query ?? {}, response: ctx.responseValue ?? ctx.response };
      if (rule.skip?.(seen)) return;
      await write({
        actor: ctx.user.name,
        actorId: ctx.user.id,
        action: rule.action,
        target: asTarget(rule.target ? rule.target(seen) : null) ?? (key.startsWith("POST /api/auth") ? ctx.user.name : null),
        ip: ctx.clientIp,
        detail: rule.detail?.(seen) ?? null,
      });
    })
    .onAfterResponse({ as: "global" }, (c) => {
      const ctx = c as unknown as Ctx;
      if (ctx.request.method !== "POST" || ctx.route !== "/api/auth/login" || ctx.set.status !== 401) return;
      const name = typeof (ctx.body as { name?: unknown } | undefined)?.name === "string" ? (ctx.body as { name: string }).name.slice(0, 64) : "?";
      void write({ actor: name, action: "auth.login_failed", target: name, ip: ctx.clientIp });
    });
}
