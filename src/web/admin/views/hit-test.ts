import { useEffect, useState } from "preact/hooks";
import { t } from "../i18n";
import { api, state } from "../store";
import type { HitTest } from "../types";
import { ErrorNote, html, pct, value } from "./common";
import { pathText } from "./labels";


/** Ask the knowledge base a question as a visitor would: ranked entries, confidence, signals, the decision and why. */
export function HitTestView() {
  const [q, setQ] = useState(state.hitQuestion ?? "");
  const [result, setResult] = useState<HitTest | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const run = async (text: string) => {
    if (!text.trim()) return;
    setBusy(true);
    try {
      setResult(await api.hitTest(text.trim()));
      setError(null);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  // Opened from another view with a question: run it at once.
  useEffect(() => {
    if (state.hitQuestion === null) return;
    const text = state.hitQuestion;
    state.hitQuestion = null;
    void run(text);
  }, []);
  const submit = (e: Event) => {
    e.preventDefault();
    void run(q);
  };
  return html`
    <form class="card hit-form" onSubmit=${submit}>
      <input name="q" class="hit-q" placeholder=${t("hit_placeholder")} value=${q} onInput=${(e: Event) => setQ(value(e))} />
      <button class="primary" type="submit" disabled=${busy}>${t("hit_run")}</button>
    </form>
    ${error && html`<${ErrorNote} error=${error} />`}
    ${result && html`<${HitResult} r=${result} />`}
  `;
}

const num = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(3));

function HitResult({ r }: { r: HitTest }) {
  return html`
    <section class="card hit-result">
      <div class=${`decision decision-${r.decision.path}`}>
        <strong>${t("decision")}: ${pathText(r.decision.path)}</strong>
        <span class="reason">${r.decision.reason}</span>
        <span class="muted">${t("thresholds_now", r.thresholds.direct, r.thresholds.suggest)}</span>
      </div>
      <table class="grid hits">
        <thead><tr><th>#</th><th>${t("entry")}</th><th class="num">${t("confidence")}</th><th>${t("signals")}</th></tr></thead>
        <tbody>
          ${r.entries.length === 0 && html`<tr><td colspan="4" class="empty">${t("hit_none")}</td></tr>`}
          ${r.entries.map(
            (e, i) => html`<tr data-id=${e.id}>
              <td>${i + 1}</td>
              <td class="hit-entry"><div class="hit-question">${e.question}</div>${e.matched && e.matched !== e.question && html`<div class="muted">${t("matched")}: ${e.matched}</div>`}<div class="mono">${e.id}</div></td>
              <td class="num"><span class="bar" style=${`--w:${Math.round(Math.max(0, Math.min(1, e.confidence)) * 100)}%`}></span>${pct(e.confidence)}</td>
              <td><span class="signals">${Object.entries(e.signals ?? {}).map(([k, v]) => html`<span class="signal"><span class="muted">${k}</span> ${typeof v === "number" ? num(v) : String(v)}</span>`)}</span>
                ${e.explanation && html`<div class="explanation muted">${e.explanation}</div>`}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    </section>
  `;
}
