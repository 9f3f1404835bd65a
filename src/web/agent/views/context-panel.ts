import { select, toggle } from "../controller";
import { describeDevice } from "../device";
import { ago, formatTime } from "../format";
import { html } from "../html";
import { t } from "../i18n";
import { type ConvState, state } from "../store";
import { AssistPanel } from "./assist-panel";
import { TagEditor } from "./tag-editor";

/** Only http(s) URLs become links: a visitor-supplied `javascript:` URL stays plain text. */
const safeUrl = (u: string) => /^https?:\/\//i.test(u);

function Link({ url, label }: { url: string; label?: string }) {
  const text = label || url;
  return safeUrl(url) ? html`<a href=${url} target="_blank" rel="noopener noreferrer" title=${url}>${text}</a>` : html`<span title=${url}>${text}</span>`;
}

export function ContextPanel({ c }: { c: ConvState }) {
  const s = c.summary;
  const d = c.detail && c.detail !== "unavailable" ? c.detail : null;
  const ctx = d?.context;
  const v = d?.visitor ?? s?.visitor;
  const rows: [string, unknown][] = [];
  if (ctx?.url) rows.push([t("page"), html`<${Link} url=${ctx.url} label=${ctx.title} />`]);
  if (ctx?.referrer) rows.push([t("referrer"), html`<${Link} url=${ctx.referrer} />`]);
  if (ctx?.user_agent) rows.push([t("device"), html`<span title=${ctx.user_agent}>${describeDevice(ctx.user_agent)}</span>`]);
  const language = ctx?.lang ?? s?.lang;
  if (language) rows.push([t("language"), language]);
  const firstSeen = d?.visitor.first_seen_at;
  if (firstSeen) rows.push([t("first_seen"), `${formatTime(firstSeen)} (${ago(firstSeen)})`]);
  if (s) rows.push([t("started"), formatTime(s.created_at)]);
  if (s?.rating) rows.push([t("rating"), `${"★".repeat(s.rating.score)}${"☆".repeat(5 - s.rating.score)}${s.rating.comment ? ` ${s.rating.comment}` : ""}`]);
  return html`
    <aside class="context" aria-label=${t("context")} onKeyDown=${(e: KeyboardEvent) => e.key === "Escape" && state.contextDrawer && toggle("contextDrawer")}>
      <section class="panel visitor">
        <div class="panel-head">
          <h3>${t("context")}</h3>
          <button class="ghost context-close" aria-label=${t("context_close")} onClick=${() => toggle("contextDrawer")}>×</button>
        </div>
        <div class="identity">
          <strong>${v?.name || v?.email || t("anonymous")}</strong>
          ${v && (v.name || v.email || v.external_id) && html`<span class=${v.verified ? "badge-ok" : "badge-warn"}>${v.verified ? t("verified") : t("unverified")}</span>`}
        </div>
        ${v?.email && v.name && html`<div class="muted">${v.email}</div>`}
        ${v?.external_id && html`<div class="muted">ID ${v.external_id}</div>`}
        <div class="muted mono">${s?.visitor_id ?? ""}</div>
        <dl>
          ${rows.map(([k, val]) => html`<dt>${k}</dt><dd>${val}</dd>`)}
        </dl>
      </section>
      ${s &&
      html`<section class="panel">
        <h3>${t("tags")}</h3>
        <${TagEditor} id=${c.id} tags=${s.tags ?? []} />
      </section>`}
      <${AssistPanel} c=${c} />
      ${d?.previous &&
      html`<section class="panel previous">
        <h3>${t("previous")}</h3>
        ${d.previous.length === 0 && html`<p class="muted">${t("no_previous")}</p>`}
        <ul>
          ${d.previous.map(
            (p) => html`<li><button class="link" onClick=${() => select(p.conversation_id)}>
              <span class="when">${formatTime(p.created_at)}</span> <span class=${`state state-${p.state}`}>${t(`state_${p.state}`)}</span>
              <span class="preview">${p.last_text ?? ""}</span>
            </button></li>`,
          )}
        </ul>
      </section>`}
    </aside>
  `;
}
