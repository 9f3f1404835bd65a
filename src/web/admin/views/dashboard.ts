import { useState } from "preact/hooks";
import { t } from "../i18n";
import { api, go, testQuestion } from "../store";
import type { Dashboard } from "../types";
import { BarChart, HBars, LatencyBars } from "./charts";
import { html, PeriodSelect, pct, Show, useLoad } from "./common";
import { pathText, reasonText } from "./labels";

/** Always shown, in this order; any other path (local, choice, busy …) when it answered something. */
const PATHS = ["cache", "direct", "choices", "llm", "plugin", "human", "fallback"];

/** The numbers of the last days: volume, answers by path, auto-resolution, handoffs, latency, CSAT, top unanswered. */
export function DashboardView() {
  const [days, setDays] = useState(14);
  const load = useLoad(() => api.dashboard(days), [days]);
  return html`
    <div class="toolbar">
      <${PeriodSelect} days=${days} set=${setDays} />
    </div>
    <${Show} load=${load}>${(d: Dashboard) => html`<${Figures} d=${d} />`}<//>
  `;
}

/** A rate over no conversations (a new install, a quiet period) is shown as "–", not as 0% (the API sends 0 for 0/0). */
function Figures({ d }: { d: Dashboard }) {
  const conversations = d.days.reduce((n, x) => n + x.conversations, 0);
  const messages = d.days.reduce((n, x) => n + x.messages, 0);
  const paths = [...PATHS, ...Object.keys(d.answers_by_path).filter((p) => !PATHS.includes(p) && (d.answers_by_path[p] ?? 0) > 0)];
  const answers = paths.map((p) => ({ label: pathText(p), value: d.answers_by_path[p] ?? 0 }));
  const totalAnswers = answers.reduce((n, a) => n + a.value, 0);
  const latency = Object.entries(d.latency_ms).filter(([, v]) => v.count > 0);
  return html`
    <div class="stats dashboard-stats">
      <div class="stat"><span class="label">${t("conversations")}</span><strong class="fig-conversations">${conversations}</strong></div>
      <div class="stat"><span class="label">${t("messages")}</span><strong class="fig-messages">${messages}</strong></div>
      <div class="stat"><span class="label">${t("auto_resolution")}</span><strong class="fig-auto">${d.auto_resolution.total > 0 ? pct(d.auto_resolution.rate) : "–"}</strong><span class="muted">${d.auto_resolution.resolved} / ${d.auto_resolution.total}</span></div>
      <div class="stat"><span class="label">${t("handoff_rate")}</span><strong class="fig-handoff">${(d.handoff.conversations ?? conversations) > 0 ? pct(d.handoff.rate) : "–"}</strong><span class="muted">${t("n_handoffs", d.handoff.total)}</span></div>
      <div class="stat"><span class="label">${t("csat")}</span><strong class="fig-csat">${typeof d.csat.average === "number" ? d.csat.average.toFixed(2) : "–"}</strong><span class="muted">${t("n_ratings", d.csat.count)}</span></div>
    </div>
    <div class="dash-grid">
      <section class="card wide"><h2>${t("per_day")}</h2>
        <${BarChart} title=${t("per_day")} width=${1100} height=${240} labels=${d.days.map((x) => x.date.slice(5))} series=${[
          { name: t("conversations"), values: d.days.map((x) => x.conversations), cls: "s-1" },
          { name: t("messages"), values: d.days.map((x) => x.messages), cls: "s-2" },
        ]} />
      </section>
      <section class="card answers-by-path"><h2>${t("answers_by_path")}</h2>
        <${HBars} title=${t("answers_by_path")} items=${answers} format=${(v: number) => `${v} (${pct(totalAnswers ? v / totalAnswers : 0, 0)})`} />
      </section>
      <section class="card handoff-reasons"><h2>${t("handoff_reasons")}</h2>
        ${Object.keys(d.handoff.reasons).length === 0
          ? html`<p class="muted">${t("none")}</p>`
          : html`<${HBars} title=${t("handoff_reasons")} items=${Object.entries(d.handoff.reasons).map(([r, n]) => ({ label: reasonText(r), value: n }))} />`}
      </section>
      <section class="card latency"><h2>${t("latency")}</h2>
        ${latency.length === 0
          ? html`<p class="muted">${t("none")}</p>`
          : html`<figure class="chart">
              <${LatencyBars} title=${t("latency")} rows=${latency.map(([p, v]) => ({ label: pathText(p), p50: v.p50, p95: v.p95 }))} />
              <figcaption><span class="legend"><i class="s-1"></i>p50</span><span class="legend"><i class="s-3"></i>p95</span><span>${t("log_scale")}</span></figcaption>
            </figure>`}
      </section>
      <section class="card csat-scores"><h2>${t("csat_scores")}</h2>
        ${d.csat.count === 0
          ? html`<p class="muted">${t("none")}</p>`
          : html`<${HBars} title=${t("csat_scores")} items=${[5, 4, 3, 2, 1].map((n) => ({ label: "★".repeat(n), value: d.csat.scores?.[String(n)] ?? 0 }))} />`}
      </section>
      <section class="card wide top-unanswered"><h2>${t("top_unanswered")}</h2>
        ${d.top_unanswered.length === 0
          ? html`<p class="muted">${t("none")}</p>`
          : html`<ol>${d.top_unanswered.map((u) => html`<li><button class="link q" title=${t("hit_this")} onClick=${() => testQuestion(u.question)}>${u.question}</button> <span class="muted">×${u.count}</span></li>`)}</ol>
            <button class="link" onClick=${() => go("unanswered")}>${t("all_unanswered")}</button>`}
      </section>
    </div>
  `;
}
