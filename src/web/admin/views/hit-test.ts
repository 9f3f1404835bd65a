import { useEffect, useState } from "preact/hooks";
import { lang, t } from "../i18n";
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

/** A threshold as set (0.85, 0.995). */
const th = (x: number) => String(Math.round(x * 10_000) / 10_000);
/** A confidence to two decimals, or more where two would put it on the other side of `threshold` (as the server words it). */
function conf(c: number, threshold: number): string {
  for (let d = 2; d < 6; d++) if (Number(c.toFixed(d)) >= threshold === c >= threshold) return c.toFixed(d);
  return c.toFixed(6);
}

/**
 * Why, in the console's language: the server words its reason in English (src/kb/tuning/decision.ts); the
 * Chinese console says the same from the decision's path, the thresholds and the top entry.
 */
export function reasonText(r: HitTest): string {
  if (lang() !== "zh") return r.decision.reason;
  const top = r.entries[0];
  const d = r.thresholds.direct;
  const s = r.thresholds.suggest;
  const c = top ? [conf(top.confidence, d), conf(top.confidence, s)].sort((a, b) => b.length - a.length)[0]! : "";
  const below = !top ? t("why_none") : t("why_below", c, th(s));
  switch (r.decision.path) {
    case "direct":
      return top ? t("why_direct", c, th(d), r.decision.entry_id ?? top.id) : r.decision.reason;
    case "choices":
      return t("why_choices", th(s), c, th(d));
    case "llm":
      return top && top.confidence >= s ? t("why_llm_top", c, th(d)) : t("why_llm", below);
    case "fallback":
      return t("why_fallback", below);
    default:
      return r.decision.reason;
  }
}

const num = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(3));

function HitResult({ r }: { r: HitTest }) {
  return html`
    <section class="card hit-result">
      <div class=${`decision decision-${r.decision.path}`}>
        <strong>${t("decision")}: ${pathText(r.decision.path)}</strong>
        <span class="reason" title=${r.decision.reason}>${reasonText(r)}</span>
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
