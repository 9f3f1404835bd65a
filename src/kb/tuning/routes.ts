/**
 * Admin REST API of knowledge-base tuning (admins only; docs/api.md "Hit test and batch runs", "Thresholds"):
 * the hit test, saved batch runs and their comparison, the thresholds with their estimated consequences, and
 * changing them (the settings table: live, over the config file; DELETE goes back to the file).
 */
import { Elysia, t } from "elysia";
import type { accessPlugin } from "../../auth/access.ts";
import { KefuError } from "../../errors/kefu-error.ts";
import type { AppContext } from "../../server/context.ts";
import { settingsProblem } from "../../settings/settings.ts";
import { createBatchRuns, MAX_QUESTION, parseCases } from "./batch-runs.ts";
import { decisionFigures } from "../eval.ts";
import { curve, estimateAt, type ScoredSample, scoreSamples } from "./curves.ts";
import { hitTest } from "./hit-test.ts";
import { createSampleSource } from "./samples.ts";

const strict = { additionalProperties: false } as const;
export const HitTestBody = t.Object({ q: t.String({ minLength: 1, maxLength: MAX_QUESTION }) }, strict);
export const BatchRunBody = t.Object(
  {
    name: t.Optional(t.String({ maxLength: 200 })),
    cases: t.Optional(t.Array(t.Object({ question: t.String({ maxLength: MAX_QUESTION }), expected: t.Union([t.String({ maxLength: 256 }), t.Null()]) }, strict))),
    text: t.Optional(t.String()),
  },
  strict,
);
const Threshold = t.Number({ minimum: 0, maximum: 1 });
export const ThresholdsBody = t.Object({ direct: Threshold, suggest: Threshold }, strict);
const RunParams = t.Object({ id: t.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) });
const CompareParams = t.Object({ id: t.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), other: t.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) });

export function tuningRoutes(ctx: AppContext, access: ReturnType<typeof accessPlugin>) {
  const { kb, settings } = ctx;
  const runs = createBatchRuns(ctx.sql, kb);
  const log = ctx.log.child({ feature: "tuning" });
  const samples = createSampleSource(kb, (err) => log.warn("calibration samples for the threshold curves failed", { err }));
  const llm = () => ctx.answer.registry.providers.length > 0;

  /** The calibration samples scored with the calibrator in force, or why they are not there yet. */
  const calibrationView = () => {
    const s = samples.current();
    const scored = s.samples ? scoreSamples(s.samples, kb.calibrator) : null;
    const inScope = s.samples?.filter((x) => x.inScope).length ?? 0;
    return {
      scored,
      info: { status: s.status, kb_version: s.version, samples: s.samples ? { in_scope: inScope, out_of_scope: s.samples.length - inScope } : null },
    };
  };
  /** The newest saved run's outcomes as equally weighted samples. */
  const batchView = async () => {
    const run = await runs.latest();
    if (!run) return null;
    const scored: ScoredSample[] = run.outcomes.map((o) => ({ confidence: o.confidence, right: o.expected !== null && o.top === o.expected, inScope: o.expected !== null, w: 1 }));
    const info = { id: run.id, name: run.name, created_at: run.created_at, kb_version: run.kb_version, stale: runs.stale(run) };
    const outcomes = run.outcomes.map((o) => ({ query: o.question, expected: o.expected, ranked: o.ranked, confidence: o.confidence, choices: o.choices, ms: 0 }));
    return { scored, info, outcomes };
  };
  const thresholdsView = async () => {
    const cal = calibrationView();
    const batch = await batchView();
    const source = settings.source("kb.direct") === "settings" || settings.source("kb.suggest") === "settings" ? "settings" : "config";
    const override = settings.override("kb.direct") ?? settings.override("kb.suggest");
    return {
      ...kb.thresholds,
      source,
      config: { direct: ctx.config.kb.direct, suggest: ctx.config.kb.suggest },
      updated_at: override ? new Date(override.updatedAt).toISOString() : null,
      updated_by: override?.updatedBy ?? null,
      settings_ignored: settings.ignored,
      calibration: cal.info,
      curve: cal.scored ? curve(cal.scored) : [],
      ...(batch ? { batch_run: batch.info, batch_curve: curve(batch.scored) } : {}),
    };
  };

  return new Elysia({ name: "kb-tuning", prefix: "/api/admin/kb" })
    .use(access)
    .post("/hit-test", ({ body }) => hitTest(kb, body.q, llm()), { access: "admin", body: HitTestBody })
    .post(
      "/batch-runs",
      async ({ body, user, set, request, server }) => {
        const cases = parseCases(body);
        // A long list takes a while: the default idle timeout (10 s) must not cut the request.
        server?.timeout(request, 0);
        const run = await runs.run({ name: body.name, cases, llm: llm(), by: user?.name ?? null });
        set.status = 201;
        return run;
      },
      { access: { role: "admin", maxBody: ctx.config.server.max_import_bytes }, body: BatchRunBody },
    )
    .get("/batch-runs", async () => ({ runs: await runs.list() }), { access: "admin" })
    .get("/batch-runs/:id", ({ params }) => runs.get(params.id), { access: "admin", params: RunParams })
    .delete(
      "/batch-runs/:id",
      async ({ params }) => {
        await runs.delete(params.id);
        return { deleted: params.id };
      },
      { access: "admin", params: RunParams },
    )
    .get("/batch-runs/:id/compare/:other", ({ params }) => runs.compare(params.id, params.other), { access: "admin", params: CompareParams })
    .get("/thresholds", () => thresholdsView(), { access: "admin" })
    .get(
      "/thresholds/preview",
      async ({ query }) => {
        const point = { direct: query.direct ?? kb.thresholds.direct, suggest: query.suggest ?? kb.thresholds.suggest };
        const problem = settingsProblem(ctx.config, { "kb.direct": point.direct, "kb.suggest": point.suggest });
        if (problem) throw new KefuError("invalid_setting", 400, problem);
        const cal = calibrationView();
        const batch = await batchView();
        return {
          ...point,
          calibration: { ...cal.info, estimate: cal.scored ? estimateAt(cal.scored, point) : null },
          ...(batch ? { batch_run: { ...batch.info, estimate: estimateAt(batch.scored, point), figures: decisionFigures(batch.outcomes, point) } } : {}),
        };
      },
      { access: "admin", query: t.Object({ direct: t.Optional(Threshold), suggest: t.Optional(Threshold) }) },
    )
    .put(
      "/thresholds",
      async ({ body, user }) => {
        await settings.set({ "kb.direct": body.direct, "kb.suggest": body.suggest }, user?.name ?? null);
        return thresholdsView();
      },
      { access: "admin", body: ThresholdsBody },
    )
    .delete(
      "/thresholds",
      async () => {
        await settings.reset(["kb.direct", "kb.suggest"]);
        return thresholdsView();
      },
      { access: "admin" },
    );
}
