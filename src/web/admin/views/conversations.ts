import { useState } from "preact/hooks";
import { has, type Key, t } from "../i18n";
import { api, state } from "../store";
import type { ConversationRow } from "../types";
import { html, Show, useLoad, value, when } from "./common";

const PAGE = 50;
type Filters = { q: string; state: string; agent_id: string; rating: string; from: string; to: string; tag: string; offset: number };

const idOf = (c: ConversationRow) => c.conversation_id ?? c.id ?? "";
const visitorOf = (c: ConversationRow) => c.visitor?.name || c.visitor?.email || c.visitor?.external_id || (c.visitor_id ?? c.visitor?.id ?? "").slice(-8);

/** A conversation's state in the console's language (an unknown one as the server names it). */
const stateText = (s: string | undefined) => (s && has(`state_${s}`) ? t(`state_${s}` as Key) : (s ?? ""));

/** Browse and search every conversation (visitor, text, state, rating, dates, tag); open one's transcript. */
export function ConversationsView() {
  const [f, setF] = useState<Filters>({ q: "", state: "", agent_id: "", rating: "", from: "", to: "", tag: "", offset: 0 });
  const [draft, setDraft] = useState(f);
  const [open, setOpen] = useState<string | null>(() => {
    const id = state.openConversation;
    state.openConversation = null;
    return id;
  });
  const list = useLoad(() => {
    const p = new URLSearchParams({ offset: String(f.offset), limit: String(PAGE) });
    for (const k of ["q", "state", "agent_id", "rating", "tag"] as const) if (f[k]) p.set(k, f[k]);
    // A date input's "2026-03-01" read as local time (new Date("2026-03-01") is UTC midnight: 08:00 in China).
    if (f.from) p.set("from", new Date(`${f.from}T00:00:00`).toISOString());
    if (f.to) p.set("to", new Date(`${f.to}T23:59:59`).toISOString());
    return api.conversations(p.toString());
  }, [f]);
  const users = useLoad(() => api.users(), []);
  const field = (k: keyof Filters) => (e: Event) => setDraft({ ...draft, [k]: value(e) });
  return html`
    <form class="toolbar filters" onSubmit=${(e: Event) => (e.preventDefault(), setF({ ...draft, offset: 0 }))}>
      <input type="search" name="q" placeholder=${t("conv_search")} value=${draft.q} onInput=${field("q")} />
      <select name="state" value=${draft.state} onChange=${field("state")} aria-label=${t("state")}>
        <option value="">${t("state_any")}</option>
        ${["bot", "queued", "agent", "closed"].map((s) => html`<option value=${s}>${t(`state_${s}` as Parameters<typeof t>[0])}</option>`)}
      </select>
      <select name="agent_id" value=${draft.agent_id} onChange=${field("agent_id")} aria-label=${t("agent")}>
        <option value="">${t("agent_any")}</option>
        ${(users.data?.users ?? []).map((u) => html`<option value=${String(u.id)}>${u.display_name || u.name}</option>`)}
      </select>
      <select name="rating" value=${draft.rating} onChange=${field("rating")} aria-label=${t("rating")}>
        <option value="">${t("rating_any")}</option>
        ${[1, 2, 3, 4, 5].map((n) => html`<option value=${String(n)}>${"★".repeat(n)}</option>`)}
      </select>
      <input name="tag" placeholder=${t("tags")} value=${draft.tag} onInput=${field("tag")} />
      <label>${t("from")}<input type="date" name="from" value=${draft.from} onInput=${field("from")} /></label>
      <label>${t("to")}<input type="date" name="to" value=${draft.to} onInput=${field("to")} /></label>
      <button type="submit">${t("search")}</button>
    </form>
    <div class=${open ? "split" : ""}>
      <${Show} load=${list}>
        ${(d: { total: number; conversations: ConversationRow[] }) => html`<div>
          <table class="grid conversations">
            <thead><tr><th>${t("visitor")}</th><th>${t("state")}</th><th>${t("last_message")}</th><th>${t("agent")}</th><th>${t("rating")}</th><th>${t("updated")}</th></tr></thead>
            <tbody>
              ${d.conversations.length === 0 && html`<tr><td colspan="6" class="empty">${t("conv_none")}</td></tr>`}
              ${d.conversations.map(
                (c) => html`<tr class=${open === idOf(c) ? "selected" : ""} data-id=${idOf(c)} onClick=${() => setOpen(idOf(c))}>
                  <td><button class="link">${visitorOf(c)}</button></td>
                  <td><span class=${`state state-${c.state}`}>${stateText(c.state)}</span></td>
                  <td class="clip">${c.last_text ?? ""}</td>
                  <td>${c.agent?.name ?? ""}</td>
                  <td>${c.rating ? "★".repeat(c.rating.score) : ""}</td>
                  <td class="time">${when(c.updated_at)}</td>
                </tr>`,
              )}
            </tbody>
          </table>
          <div class="pager">
            <button disabled=${f.offset === 0} onClick=${() => setF({ ...f, offset: Math.max(0, f.offset - PAGE) })}>${t("prev")}</button>
            <span class="muted">${d.total === 0 ? "0" : `${f.offset + 1}–${Math.min(d.total, f.offset + PAGE)}`} / ${d.total}</span>
            <button disabled=${f.offset + PAGE >= d.total} onClick=${() => setF({ ...f, offset: f.offset + PAGE })}>${t("next")}</button>
          </div>
        </div>`}
      <//>
      ${open && html`<${Transcript} id=${open} close=${() => setOpen(null)} />`}
    </div>
  `;
}

/** One conversation's messages and notes; everything a visitor wrote is a text child, never markup. */
function Transcript({ id, close }: { id: string; close: () => void }) {
  const load = useLoad(() => api.conversation(id), [id]);
  return html`<section class="card transcript-panel">
    <header class="report-head"><h2 class="mono">${id}</h2><button class="ghost" onClick=${close}>${t("close")}</button></header>
    <${Show} load=${load}>
      ${(d: NonNullable<typeof load.data>) => html`
        <p class="muted">${[visitorOf(d.conversation), stateText(d.conversation.state), (d.conversation.tags ?? []).join(", ")].filter(Boolean).join(" · ")}</p>
        <div class="transcript">
          ${d.messages.map((m) =>
            m.type === "state" || m.from === "system"
              ? html`<div class="notice">${m.text}</div>`
              : html`<div class=${`msg from-${m.from}`}><span class="meta">${m.from === "agent" ? (m.agent?.name ?? t("agent")) : t(`from_${m.from}` as Parameters<typeof t>[0])} · ${when(m.at)}</span><div class="bubble">${m.text}</div></div>`,
          )}
          ${(d.notes ?? []).map((n) => html`<div class="note-card"><div class="meta">${t("note")} · ${n.agent?.name ?? ""} · ${when(n.at)}</div><div class="text">${n.text}</div></div>`)}
        </div>
      `}
    <//>
  </section>`;
}
