import { useState } from "preact/hooks";
import { search, select, setView } from "../controller";
import { ago } from "../format";
import { html } from "../html";
import { t } from "../i18n";
import { conv, current, listOf, state, unreadCount, visitorLabel, type View } from "../store";
import type { Summary } from "../types";

const TABS: { view: Exclude<View, "search">; label: () => string; empty: () => string }[] = [
  { view: "mine", label: () => t("view_mine"), empty: () => t("empty_mine") },
  { view: "queued", label: () => t("view_queued"), empty: () => t("empty_queued") },
  { view: "open", label: () => t("view_open"), empty: () => t("empty_open") },
];

export function Sidebar() {
  const [q, setQ] = useState(state.search.q);
  const list = listOf(state.view);
  const empty = state.view === "search" ? (state.search.error ?? (state.search.busy ? "…" : t("no_results"))) : TABS.find((x) => x.view === state.view)!.empty();
  return html`
    <aside class="sidebar">
      <form class="search" role="search" onSubmit=${(e: Event) => {
        e.preventDefault();
        void search(q);
      }}>
        <input type="search" placeholder=${t("search_placeholder")} aria-label=${t("view_search")} value=${q} onInput=${(e: Event) => setQ((e.target as HTMLInputElement).value)} />
      </form>
      <nav class="tabs" role="tablist">
        ${TABS.map((tab) => {
          const items = listOf(tab.view);
          // Mine counts unread visitor messages; the queue counts who waits.
          const unread = tab.view === "mine" ? items.reduce((n, s) => n + unreadCount(conv(s.conversation_id)), 0) : 0;
          const hot = unread > 0 || (tab.view === "queued" && items.length > 0);
          return html`
            <button role="tab" class=${`tab tab-${tab.view}`} aria-selected=${state.view === tab.view} onClick=${() => setView(tab.view)}>
              ${tab.label()} <span class=${`count ${hot ? "hot" : ""}`} title=${unread ? `${unread} unread` : ""}>${items.length}</span>
            </button>
          `;
        })}
      </nav>
      ${state.view === "search" && html`<div class="search-head">${t("view_search")}: ${state.search.q}</div>`}
      <ul class="conv-list">
        ${list.length === 0 && html`<li class="empty">${empty}</li>`}
        ${list.map((s) => html`<${ListItem} key=${s.conversation_id} summary=${current(s)} />`)}
      </ul>
    </aside>
  `;
}

function ListItem({ summary: s }: { summary: Summary }) {
  const unread = unreadCount(conv(s.conversation_id));
  const since = s.state === "queued" && s.queued_at ? s.queued_at : s.updated_at;
  const selected = state.selected === s.conversation_id;
  const otherAgent = s.state === "agent" && s.agent && s.agent.id !== state.session?.user.id;
  return html`
    <li>
      <button class=${`conv-item ${selected ? "selected" : ""} ${unread ? "unread" : ""}`} data-id=${s.conversation_id} aria-current=${selected} onClick=${() => select(s.conversation_id)}>
        <span class="row">
          <span class="who">${visitorLabel(s, t("visitor"))}</span>
          ${s.visitor?.verified && html`<span class="verified" title=${t("verified")}>✓</span>`}
          <span class=${`state state-${s.state}`}>${t(`state_${s.state}`)}</span>
          <span class="when">${ago(since)}</span>
        </span>
        <span class="row">
          <span class="preview">${s.last_text ?? ""}</span>
          ${unread > 0 && html`<span class="badge">${unread}</span>`}
        </span>
        ${otherAgent || s.tags?.length ?
        html`<span class="row meta">
          ${otherAgent && html`<span class="agent-name">${s.agent!.name}</span>`}
          ${(s.tags ?? []).map((tag) => html`<span class="tag">${tag}</span>`)}
        </span>`
        : null}
      </button>
    </li>
  `;
}
