import { useState } from "preact/hooks";
import { t } from "../i18n";
import { api, toastError } from "../store";
import type { BatchCompare, BatchRun } from "../types";
import { ConfirmButton, ErrorNote, html, pct, Show, useLoad, value, when } from "./common";
import { pathText } from "./labels";

/** A figure of `kefu eval` as text: rates as percentages, the rest as they are. */
const figure = (k: string, v: unknown) =>
  v === null || v === undefined ? "–" : typeof v === "number" ? (k === "n" || k.endsWith("_ms") ? String(Math.round(v)) : pct(v)) : typeof v === "object" ? JSON.stringify(v) : String(v);

function Figures({ figures }: { figures?: Record<string, unknown> }) {
  if (!figures) return null;
  return html`<dl class="figures">${Object.entries(figures).map(([k, v]) => html`<div><dt>${k}</dt><dd>${figure(k, v)}</dd></div>`)}</dl>`;
}

/** Batch hit test: paste or upload `question,expected` lines, run, see per-question outcomes; runs are kept and compared. */
export function BatchView() {
  const [text, setText] = useState("");
  const [name, setName] = useState("");
  const [run, setRun] = useState<BatchRun | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [pick, setPick] = useState<BatchRun["id"][]>([]);
  const [cmp, setCmp] = useState<BatchCompare | null>(null);
  const runs = useLoad(() => api.batchRuns(), []);
  const start = async () => {
    setBusy(true);
    try {
      // Unnamed: the run is named in the UI's language and local time (the server's default is "run <UTC time>").
      setRun(await api.runBatch(name.trim() || t("batch_default_name", when(Date.now())), text));
      setError(null);
      runs.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const open = async (id: BatchRun["id"]) => {
    try {
      setRun(await api.batchRun(id));
    } catch (err) {
      toastError(err);
    }
  };
  const compare = async () => {
    try {
      setCmp(await api.compareRuns(pick[0]!, pick[1]!));
    } catch (err) {
      toastError(err);
    }
  };
  const toggle = (id: BatchRun["id"]) => setPick((p) => (p.includes(id) ? p.filter((x) => x !== id) : [...p, id].slice(-2)));
  return html`
    <section class="card batch-form">
      <label>${t("batch_cases")} <span class="muted">${t("batch_format")}</span>
        <textarea name="cases" rows="8" placeholder=${"运费怎么算,shipping-fee\nHow do I return an item?,returns\n今天天气怎么样,"} value=${text} onInput=${(e: Event) => setText(value(e))}></textarea>
      </label>
      <div class="form-row">
        <label class="file">${t("batch_upload")}<input type="file" accept=".csv,.txt,text/csv,text/plain" onChange=${async (e: Event) => {
          const f = (e.target as HTMLInputElement).files?.[0];
          if (f) setText(await f.text());
        }} /></label>
        <label>${t("batch_name")}<input name="name" value=${name} onInput=${(e: Event) => setName(value(e))} /></label>
        <button class="primary run-batch" disabled=${busy || !text.trim()} onClick=${start}>${t("batch_run")}</button>
      </div>
    </section>
    ${error && html`<${ErrorNote} error=${error} />`}
    ${run && html`<${RunView} run=${run} />`}
    <section class="card batch-runs">
      <header class="report-head"><h2>${t("batch_saved")}</h2>
        <button disabled=${pick.length !== 2} onClick=${compare}>${t("batch_compare")}</button></header>
      <${Show} load=${runs}>
        ${(d: { runs: BatchRun[] }) => html`<table class="grid">
          <thead><tr><th></th><th>${t("batch_name")}</th><th>${t("created")}</th><th>${t("kb_version_short")}</th><th>${t("figures")}</th><th></th></tr></thead>
          <tbody>
            ${d.runs.length === 0 && html`<tr><td colspan="6" class="empty">${t("batch_none")}</td></tr>`}
            ${d.runs.map(
              (r) => html`<tr key=${String(r.id)}>
                <td><input type="checkbox" aria-label=${t("select")} checked=${pick.includes(r.id)} onChange=${() => toggle(r.id)} /></td>
                <td><button class="link" onClick=${() => open(r.id)}>${r.name || `#${r.id}`}</button></td>
                <td class="time">${when(r.created_at)}</td>
                <td>${r.kb_version ?? "–"}</td>
                <td class="muted">${r.figures ? Object.entries(r.figures).slice(0, 3).map(([k, v]) => `${k} ${figure(k, v)}`).join(" · ") : ""}</td>
                <td><${ConfirmButton} class="small danger" label=${t("delete")} confirm=${t("sure")} onConfirm=${async () => {
                  await api.deleteBatchRun(r.id).catch(toastError);
                  runs.reload();
                }} /></td>
              </tr>`,
            )}
          </tbody>
        </table>`}
      <//>
    </section>
    ${cmp && html`<${CompareView} cmp=${cmp} />`}
  `;
}

function RunView({ run }: { run: BatchRun }) {
  const outcomes = run.outcomes ?? [];
  return html`
    <section class="card batch-result">
      <header class="report-head"><h2>${run.name || `#${run.id}`}</h2><span class="muted">${when(run.created_at)}${run.thresholds ? ` · ${t("thresholds_now", run.thresholds.direct, run.thresholds.suggest)}` : ""}</span></header>
      <${Figures} figures=${run.figures} />
      <table class="grid outcomes">
        <thead><tr><th>${t("question")}</th><th>${t("expected")}</th><th>${t("top")}</th><th class="num">${t("confidence")}</th><th>${t("decision")}</th><th>${t("correct")}</th></tr></thead>
        <tbody>${outcomes.map(
          (o) => html`<tr class=${o.correct ? "right" : "bad"}>
            <td>${o.question}</td><td class="mono">${o.expected ?? t("expected_none")}</td><td class="mono">${o.top ?? "–"}</td>
            <td class="num">${pct(o.confidence)}</td><td>${pathText(o.decision)}</td><td>${o.correct ? "✓" : "✗"}</td>
          </tr>`,
        )}</tbody>
      </table>
    </section>
  `;
}

type Brief = { top: string | null; confidence: number; decision: string; correct: boolean };
const briefText = (b?: Brief) => (b ? `${b.top ?? "–"} · ${pathText(b.decision)} · ${pct(b.confidence)} ${b.correct ? "✓" : "✗"}` : "–");

/** Two runs side by side: each figure in both, and the questions whose outcome changed. */
function CompareView({ cmp }: { cmp: BatchCompare }) {
  const figures = (cmp.figures ?? {}) as Record<string, { run: unknown; other: unknown }>;
  const name = (r: unknown) => ((r as BatchRun | undefined)?.name || `#${(r as BatchRun | undefined)?.id ?? "?"}`);
  return html`<section class="card batch-compare">
    <h2>${t("batch_compare")}</h2>
    <table class="grid">
      <thead><tr><th>${t("figures")}</th><th class="num">${name(cmp.run)}</th><th class="num">${name(cmp.other)}</th></tr></thead>
      <tbody>${Object.entries(figures).map(([k, v]) => html`<tr><td>${k}</td><td class="num">${figure(k, v.run)}</td><td class="num">${figure(k, v.other)}</td></tr>`)}</tbody>
    </table>
    <h3>${t("batch_changed", cmp.changed.length)}</h3>
    <table class="grid changed">
      <thead><tr><th>${t("question")}</th><th>${t("expected")}</th><th>${name(cmp.run)}</th><th>${name(cmp.other)}</th></tr></thead>
      <tbody>${cmp.changed.map(
        (c) => html`<tr><td>${c.question}</td><td class="mono">${(c.expected as string | null) ?? t("expected_none")}</td><td>${briefText(c.run as Brief)}</td><td>${briefText(c.other as Brief)}</td></tr>`,
      )}</tbody>
    </table>
  </section>`;
}
