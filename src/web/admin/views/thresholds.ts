import { useEffect, useState } from "preact/hooks";
import { t } from "../i18n";
import { api, toast, toastError } from "../store";
import type { CurvePoint, Thresholds } from "../types";
import { CurveChart } from "./charts";
import { html, pct, Show, useLoad, ValueView } from "./common";

/** The curve's point at `direct`, interpolated between its neighbours. */
export function estimate(curve: CurvePoint[], direct: number): { precision: number; coverage: number } | null {
  if (curve.length === 0) return null;
  const pts = [...curve].sort((a, b) => a.direct - b.direct);
  if (direct <= pts[0]!.direct) return pts[0]!;
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1]!;
    const b = pts[i]!;
    if (direct <= b.direct) {
      const f = b.direct === a.direct ? 0 : (direct - a.direct) / (b.direct - a.direct);
      return { precision: a.precision + f * (b.precision - a.precision), coverage: a.coverage + f * (b.coverage - a.coverage) };
    }
  }
  return pts.at(-1)!;
}

/** Sliders for the direct and suggest thresholds with what they mean: right verbatim answers, share answered directly. */
export function ThresholdsView() {
  const load = useLoad(() => api.thresholds(), []);
  return html`<${Show} load=${load}>${(d: Thresholds) => html`<${Editor} key=${`${d.direct}:${d.suggest}:${d.source}`} d=${d} reload=${load.reload} />`}<//>`;
}

function Editor({ d, reload }: { d: Thresholds; reload: () => void }) {
  const [direct, setDirect] = useState(d.direct);
  const [suggest, setSuggest] = useState(d.suggest);
  const [preview, setPreview] = useState<Record<string, unknown> | null>(null);
  useEffect(() => {
    const timer = setTimeout(() => {
      api.previewThresholds(direct, suggest).then(setPreview, () => setPreview(null));
    }, 250);
    return () => clearTimeout(timer);
  }, [direct, suggest]);
  const est = estimate(d.curve, direct);
  const batch = d.batch_curve && d.batch_curve.length ? estimate(d.batch_curve, direct) : null;
  const changed = direct !== d.direct || suggest !== d.suggest;
  const save = async () => {
    try {
      await api.saveThresholds(direct, suggest);
      toast(t("saved"));
      reload();
    } catch (err) {
      toastError(err);
    }
  };
  const revert = async () => {
    try {
      await api.revertThresholds();
      toast(t("thresholds_reverted"));
      reload();
    } catch (err) {
      toastError(err);
    }
  };
  const lines = [
    { name: t("est_precision"), cls: "s-precision", points: d.curve.map((p) => ({ x: p.direct, y: p.precision })) },
    { name: t("est_coverage"), cls: "s-coverage", points: d.curve.map((p) => ({ x: p.direct, y: p.coverage })) },
  ];
  if (d.batch_curve?.length) lines.push({ name: t("batch_precision"), cls: "s-batch", points: d.batch_curve.map((p) => ({ x: p.direct, y: p.precision })) });
  return html`
    <section class="card thresholds">
      <p class="muted">${d.source === "settings" ? t("thresholds_from_settings") : t("thresholds_from_config")}</p>
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
        ${batch && html`<div class="stat"><span class="label">${t("batch_precision")}</span><strong>${pct(batch.precision)}</strong></div>`}
      </div>
      ${d.curve.length === 0 && html`<p class="muted">${t("curve_empty")}</p>`}
      ${d.curve.length > 0 && html`<${CurveChart} title=${t("nav_thresholds")} lines=${lines} at=${direct} />`}
      ${preview && html`<details class="preview-figures"><summary>${t("preview_details")}</summary><${ValueView} v=${preview} /></details>`}
      <div class="buttons">
        <button class="primary save-thresholds" disabled=${!changed} onClick=${save}>${t("save")}</button>
        <button disabled=${!changed} onClick=${() => (setDirect(d.direct), setSuggest(d.suggest))}>${t("undo_changes")}</button>
        <button disabled=${d.source !== "settings"} onClick=${revert}>${t("revert_config")}</button>
      </div>
    </section>
  `;
}
