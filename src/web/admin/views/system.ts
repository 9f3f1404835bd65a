import { t } from "../i18n";
import { api } from "../store";
import type { SystemInfo } from "../types";
import { html, Show, useLoad, ValueView } from "./common";

const bytes = (n: unknown) => (typeof n === "number" ? (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`) : "–");
const duration = (s: unknown) => (typeof s === "number" ? `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h ${Math.floor((s % 3600) / 60)}m` : "–");

/** Version, storage, LLM providers, plugins, models: what the server reports, as text. */
export function SystemView() {
  const load = useLoad(() => api.system(), []);
  return html`<${Show} load=${load}>
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
        <section class="card"><h2>${t("providers")}</h2><${ValueView} v=${providers} /></section>
        <section class="card"><h2>${t("plugins")}</h2><${ValueView} v=${plugins} /></section>
        <section class="card"><h2>${t("models")}</h2><${ValueView} v=${models} /></section>
        <section class="card"><h2>${t("nav_kb")}</h2><${ValueView} v=${kb} /></section>
        ${Object.keys(rest).length > 0 && html`<section class="card"><h2>${t("other")}</h2><${ValueView} v=${rest} /></section>`}
      `;
    }}
  <//>`;
}
