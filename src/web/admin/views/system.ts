import { useEffect } from "preact/hooks";
import { t } from "../i18n";
import { api } from "../store";
import type { SystemInfo } from "../types";
import { html, Show, useLoad, ValueView, when } from "./common";
import { breakerText, label, pluginText, poolText } from "./labels";

const bytes = (n: unknown) => (typeof n === "number" ? (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`) : "–");
const duration = (s: unknown) => (typeof s === "number" ? `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h ${Math.floor((s % 3600) / 60)}m` : "–");

/** Version, storage, LLM providers, plugins, models: what the server reports, as text. */
export function SystemView() {
  const load = useLoad(() => api.system(), []);
  // Breakers, pools and sizes move: the page follows them while it is open.
  useEffect(() => {
    const timer = setInterval(load.reload, 10_000);
    return () => clearInterval(timer);
  }, []);
  return html`<div class="toolbar"><button class="refresh" onClick=${load.reload}>${t("refresh")}</button><span class="muted">${t("auto_refresh")}</span></div>
  <${Show} load=${load}>
    ${(d: SystemInfo) => {
      const storage = (d.storage ?? {}) as Record<string, unknown>;
      const { version, schema_version, uptime_s, storage: _s, providers, plugins, models, kb, ...rest } = d;
      return html`
        <div class="stats">
          <div class="stat"><span class="label">${t("version")}</span><strong class="sys-version">${String(version ?? "–")}</strong></div>
          <div class="stat"><span class="label">${t("schema_version")}</span><strong>${String(schema_version ?? "–")}</strong></div>
          <div class="stat"><span class="label">${t("uptime")}</span><strong>${duration(uptime_s)}</strong></div>
          <div class="stat"><span class="label">${t("db_size")}</span><strong>${bytes(storage.db_bytes)}</strong></div>
          <div class="stat"><span class="label">${t("wal_size")}</span><strong>${bytes(storage.wal_bytes)}</strong></div>
        </div>
        <section class="card providers"><h2>${t("providers")}</h2>${Array.isArray(providers) && providers.length > 0 ? html`<${Providers} list=${providers as Provider[]} />` : html`<p class="muted">${t("providers_none")}</p>`}</section>
        <section class="card plugins"><h2>${t("plugins")}</h2>${Array.isArray(plugins) && plugins.length > 0 ? html`<${Plugins} list=${plugins as Plugin[]} />` : html`<p class="muted">${t("plugins_none")}</p>`}</section>
        <section class="card models"><h2>${t("models")}</h2>${Array.isArray(models) && models.length > 0 ? html`<${Models} list=${models as Model[]} />` : html`<p class="muted">${t("models_none")}</p>`}</section>
        <section class="card sys-kb"><h2>${t("nav_kb")}</h2><${KbFacts} kb=${kb} /></section>
        ${Object.keys(rest).length > 0 && html`<section class="card"><h2>${t("other")}</h2><${ValueView} v=${rest} /></section>`}
      `;
    }}
  <//>`;
}

/** What the server reports of a provider (GET /api/admin/llm/providers); every field optional to the console. */
type Provider = {
  name: string;
  model?: string;
  breaker?: { state?: string };
  gate?: { limit?: number; in_flight?: number; waiting?: number };
  latency_ms?: { total?: { p50: number; p95: number } };
  error_rate?: number | null;
};
type Plugin = { name: string; file?: string; status?: string; version?: string | null; last_error?: { stage?: string; message?: string; at?: string } | null; counters?: { calls?: number; errors?: number } };

/** A local model of [models] as GET /api/admin/system reports it: role, model, dtype and its worker pool. */
type Model = {
  role: string;
  model: string;
  dtype?: string;
  state?: string;
  error?: string;
  workers?: number;
  ready_workers?: number;
  in_flight?: number;
  queued?: number;
  failed?: number;
  latency_ms?: { p50: number; p95: number };
};

/** The knowledge base's line of the report ({ entries, version, thresholds, calibration }) in words; anything else as it is. */
function KbFacts({ kb }: { kb: unknown }) {
  if (!kb || typeof kb !== "object") return html`<${ValueView} v=${kb} />`;
  const { entries, version, thresholds, calibration, ...rest } = kb as { entries?: number; version?: number; thresholds?: { direct?: number; suggest?: number }; calibration?: string };
  return html`<dl class="kv">
      <dt>${t("sys_entries")}</dt><dd>${entries ?? "–"}</dd>
      <dt>${t("kb_version_short")}</dt><dd>${version ?? "–"}</dd>
      <dt>${t("nav_thresholds")}</dt><dd>${thresholds ? t("thresholds_now", thresholds.direct ?? "–", thresholds.suggest ?? "–") : "–"}</dd>
      <dt>${t("sys_calibration")}</dt><dd>${calibration ? label("sys_calibration", calibration) : "–"}</dd>
    </dl>
    ${Object.keys(rest).length > 0 && html`<${ValueView} v=${rest} />`}`;
}

function Models({ list }: { list: Model[] }) {
  return html`<table class="grid">
    <thead><tr><th>${t("role")}</th><th>${t("model")}</th><th>${t("status")}</th><th class="num">${t("workers")}</th><th class="num">${t("in_flight")}</th><th class="num">p50 / p95</th><th class="num">${t("failed_n")}</th></tr></thead>
    <tbody>${list.map(
      (m) => html`<tr>
        <td>${m.role}</td><td class="mono">${m.model}${m.dtype ? ` (${m.dtype})` : ""}</td>
        <td><span class=${`state model-${m.state ?? ""}`}>${m.state ? poolText(m.state) : "–"}</span>${m.error && html`<div class="error">${m.error}</div>`}</td>
        <td class="num">${m.ready_workers ?? "–"} / ${m.workers ?? "–"}</td>
        <td class="num">${m.in_flight ?? 0}${m.queued ? ` (+${m.queued})` : ""}</td>
        <td class="num">${m.latency_ms ? `${m.latency_ms.p50} / ${m.latency_ms.p95} ms` : "–"}</td>
        <td class="num">${m.failed ?? 0}</td>
      </tr>`,
    )}</tbody>
  </table>`;
}

function Providers({ list }: { list: Provider[] }) {
  return html`<table class="grid">
    <thead><tr><th>${t("name")}</th><th>${t("model")}</th><th>${t("breaker")}</th><th class="num">${t("limit")}</th><th class="num">${t("in_flight")}</th><th class="num">p50 / p95</th><th class="num">${t("error_rate")}</th></tr></thead>
    <tbody>${list.map(
      (p) => html`<tr>
        <td>${p.name}</td><td class="mono">${p.model ?? ""}</td>
        <td><span class=${`state breaker-${p.breaker?.state ?? ""}`}>${p.breaker?.state ? breakerText(p.breaker.state) : "–"}</span></td>
        <td class="num">${p.gate?.limit ?? "–"}</td><td class="num">${p.gate?.in_flight ?? "–"}${p.gate?.waiting ? ` (+${p.gate.waiting})` : ""}</td>
        <td class="num">${p.latency_ms?.total ? `${p.latency_ms.total.p50} / ${p.latency_ms.total.p95} ms` : "–"}</td>
        <td class="num">${typeof p.error_rate === "number" ? `${(p.error_rate * 100).toFixed(1)}%` : "–"}</td>
      </tr>`,
    )}</tbody>
  </table>
  <details><summary>${t("details")}</summary><${ValueView} v=${list} /></details>`;
}

function Plugins({ list }: { list: Plugin[] }) {
  return html`<table class="grid">
    <thead><tr><th>${t("name")}</th><th>${t("status")}</th><th>${t("version")}</th><th class="num">${t("calls_errors")}</th><th>${t("last_error")}</th></tr></thead>
    <tbody>${list.map(
      (p) => html`<tr>
        <td>${p.name}<div class="mono">${p.file ?? ""}</div></td>
        <td><span class=${`state plugin-${p.status ?? ""}`}>${p.status ? pluginText(p.status) : "–"}</span></td>
        <td>${p.version ?? "–"}</td>
        <td class="num">${p.counters ? `${p.counters.calls ?? 0} / ${p.counters.errors ?? 0}` : "–"}</td>
        <td>${p.last_error ? `${p.last_error.stage ?? ""}: ${p.last_error.message ?? ""} (${when(p.last_error.at)})` : "–"}</td>
      </tr>`,
    )}</tbody>
  </table>`;
}
