import { useEffect, useState } from "preact/hooks";
import { has, type Key, t } from "../i18n";
import { api } from "../store";
import type { CurvePoint, Estimate, ThresholdPreview, Thresholds } from "../types";
import { CurveChart } from "./charts";
import { act, html, pct, Show, useLoad, when } from "./common";

/** The curve's point at `direct`, interpolated between its neighbours (points without a precision skipped). */
export function estimate(curve: CurvePoint[], direct: number): Estimate | null {
  const pts = curve.filter((p) => p.precision !== null).sort((a, b) => a.direct - b.direct);
  if (pts.length === 0) return null;
  if (direct <= pts[0]!.direct) return pts[0]!;
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1]!;
    const b = pts[i]!;
    if (direct <= b.direct) {
      const f = b.direct === a.direct ? 0 : (direct - a.direct) / (b.direct - a.direct);
      return { precision: a.precision! + f * (b.precision! - a.precision!), coverage: a.coverage + f * (b.coverage - a.coverage) };
    }
  }
  return pts.at(-1)!;
}

const statusText = (s: string) => (has(`calibration_${s}`) ? t(`calibration_${s}` as Key) : s);

const points = (curve: CurvePoint[], key: "precision" | "coverage") => curve.filter((p) => p[key] !== null).map((p) => ({ x: p.direct, y: p[key] as number }));

/** Sliders for the direct and suggest thresholds with what they mean: right verbatim answers, share answered directly. */
export function ThresholdsView() {
  const load = useLoad(() => api.thresholds(), []);
  // The curve is computed in the background after a start or a knowledge-base change: look again until it is there.
  const pending = load.data && load.data.curve.length === 0 && (load.data.calibration?.status === "calibrating" || load.data.calibration?.status === "computing");
  useEffect(() => {
    if (!pending) return;
    const timer = setTimeout(load.reload, 3000);
    return () => clearTimeout(timer);
  }, [pending, load.data]);
  return html`<${Show} load=${load}>${(d: Thresholds) => html`<${Editor} key=${`${d.direct}:${d.suggest}:${d.source}`} d=${d} reload=${load.reload} />`}<//>`;
}

function Editor({ d, reload }: { d: Thresholds; reload: () => void }) {
  const [direct, setDirect] = useState(d.direct);
  const [suggest, setSuggest] = useState(d.suggest);
  const [preview, setPreview] = useState<ThresholdPreview | null>(null);
  useEffect(() => {
    const timer = setTimeout(() => {
      api.previewThresholds(direct, suggest).then(setPreview, () => setPreview(null));
    }, 200);
    return () => clearTimeout(timer);
  }, [direct, suggest, d.curve.length]);
  // The server's estimate at exactly these thresholds; the curve's, interpolated, until it answers.
  const fresh = preview && preview.direct === direct && preview.suggest === suggest ? preview : null;
  const est = fresh?.calibration?.estimate ?? estimate(d.curve, direct);
  const batch = fresh?.batch_run?.estimate ?? (d.batch_curve?.length ? estimate(d.batch_curve, direct) : null);
  const changed = direct !== d.direct || suggest !== d.suggest;
  const call = (fn: () => Promise<unknown>, ok: string) => act(fn, ok, reload);
  const lines = [
    { name: t("est_precision"), cls: "s-precision", points: points(d.curve, "precision") },
    { name: t("est_coverage"), cls: "s-coverage", points: points(d.curve, "coverage") },
  ];
  if (d.batch_curve?.length) lines.push({ name: t("batch_precision"), cls: "s-batch", points: points(d.batch_curve, "precision") });
  const samples = d.calibration?.samples;
  return html`
    <section class="card thresholds">
      <p class="muted threshold-source">
        ${d.source === "settings" ? t("thresholds_from_settings", d.updated_by ?? "", when(d.updated_at)) : t("thresholds_from_config")}
        ${d.config && ` ${t("config_values", d.config.direct, d.config.suggest)}`}
      </p>
      <label class="slider">${t("direct")} <strong class="direct-value">${direct.toFixed(2)}</strong>
        <input type="range" name="direct" min="0" max="1" step="0.01" value=${direct} onInput=${(e: Event) => {
          const v = Number((e.target as HTMLInputElement).value);
          setDirect(v);
          if (suggest > v) setSuggest(v);
        }} />
        <span class="muted">${t("direct_hint")}</span>
      </label>
      <label class="slider">${t("suggest")} <strong class="suggest-value">${suggest.toFixed(2)}</strong>
        <input type="range" name="suggest" min="0" max="1" step="0.01" value=${suggest} onInput=${(e: Event) => setSuggest(Math.min(direct, Number((e.target as HTMLInputElement).value)))} />
        <span class="muted">${t("suggest_hint")}</span>
      </label>
      <div class="estimates">
        <div class="stat"><span class="label">${t("est_precision")}</span><strong class="est-precision">${pct(est?.precision)}</strong></div>
        <div class="stat"><span class="label">${t("est_coverage")}</span><strong class="est-coverage">${pct(est?.coverage)}</strong></div>
        ${est?.false_direct_rate !== undefined && html`<div class="stat"><span class="label">${t("est_false_direct")}</span><strong>${pct(est.false_direct_rate)}</strong></div>`}
        ${est?.suggest_share !== undefined && html`<div class="stat"><span class="label">${t("est_suggest_share")}</span><strong>${pct(est.suggest_share)}</strong></div>`}
        ${batch && html`<div class="stat"><span class="label">${t("batch_precision")}</span><strong class="batch-precision">${pct(batch.precision)}</strong><span class="muted">${t("est_coverage")} ${pct(batch.coverage)}</span></div>`}
      </div>
      <p class="muted">
        ${samples ? t("calibration_samples", samples.in_scope, samples.out_of_scope) : d.calibration?.status ? t("calibration_status", statusText(d.calibration.status)) : ""}
        ${d.batch_run && ` ${t("batch_basis", d.batch_run.name || `#${d.batch_run.id}`)}${d.batch_run.stale ? ` ${t("batch_stale")}` : ""}`}
      </p>
      ${d.curve.length === 0 ? html`<p class="muted">${t("curve_empty")}</p>` : html`<${CurveChart} title=${t("nav_thresholds")} lines=${lines} at=${direct} />`}
      <div class="buttons">
        <button class="primary save-thresholds" disabled=${!changed} onClick=${() => call(() => api.saveThresholds(direct, suggest), t("saved"))}>${t("save")}</button>
        <button disabled=${!changed} onClick=${() => (setDirect(d.direct), setSuggest(d.suggest))}>${t("undo_changes")}</button>
        <button class="revert-thresholds" disabled=${d.source !== "settings"} onClick=${() => call(() => api.revertThresholds(), t("thresholds_reverted"))}>${t("revert_config")}</button>
      </div>
    </section>
  `;
}
