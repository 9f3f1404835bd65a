import { useState } from "preact/hooks";
import { t } from "../i18n";
import { api, showConversation, toast, toastError } from "../store";
import type { Entry, EntryBody, UnansweredGroup } from "../types";
import { html, PeriodSelect, Show, useLoad, value, when } from "./common";
import { EntryEditor } from "./entry-editor";
import { pathText } from "./labels";

/** Bounds of an entry (MAX_QUESTION_CHARS, MAX_ALT_QUESTIONS in src/kb/schemas.ts, not bundled): a phrasing's length, how many alternatives. */
const MAX_TEXT = 2000;
const MAX_ALTS = 500;

/** The group's phrasings other than its question (most asked first, within the entry's bounds): the new entry's alternatives. */
const alternatives = (g: UnansweredGroup) =>
  g.phrasings
    .map((p) => p.text)
    .filter((p) => p !== g.question && p.length <= MAX_TEXT)
    .slice(0, MAX_ALTS);

/**
 * What the bot could not answer directly, grouped and counted, with the agent's reply where a human answered;
 * one click makes an entry of a group (editable first) or adds its phrasings to an existing entry.
 */
export function UnansweredView() {
  const [days, setDays] = useState(30);
  const [creating, setCreating] = useState<UnansweredGroup | null>(null);
  const [adding, setAdding] = useState<UnansweredGroup | null>(null);
  const load = useLoad(() => api.unanswered(days), [days]);
  const dismiss = async (g: UnansweredGroup) => {
    try {
      await api.dismiss(g.log_ids);
      toast(t("dismissed"));
      load.reload();
    } catch (err) {
      toastError(err);
    }
  };
  const create = async (e: EntryBody) => {
    const g = creating!;
    const r = await api.resolve({ log_ids: g.log_ids, entry: { question: e.question, alt_questions: e.alt_questions, answer: e.answer, tags: e.tags } });
    toast(t("entry_created", r.entry.question));
    load.reload();
  };
  return html`
    <div class="toolbar">
      <${PeriodSelect} days=${days} set=${setDays} />
      <button onClick=${load.reload}>${t("refresh")}</button>
    </div>
    <${Show} load=${load}>
      ${(d: { groups: UnansweredGroup[] }) => html`
        ${d.groups.length === 0 && html`<p class="empty-note">${t("unanswered_none")}</p>`}
        <ul class="groups">
          ${d.groups.map(
            (g) => html`<li class="card group" key=${g.key} data-key=${g.key}>
              <header class="group-head">
                <span class="count-badge" title=${t("times_asked")}>${g.count}×</span>
                <strong class="group-question">${g.question}</strong>
                <span class="paths">${Object.entries(g.paths).map(([p, n]) => html`<span class="tag">${pathText(p)} ${n}</span> `)}</span>
                <span class="muted">${when(g.last_at)}</span>
              </header>
              ${g.phrasings.length > 1 && html`<ul class="phrasings">${g.phrasings.map((p) => html`<li>${p.text} <span class="muted">×${p.count}</span></li>`)}</ul>`}
              ${g.conversation_ids.length > 0 &&
              html`<p class="muted conversations-of">${t("in_conversations")} ${g.conversation_ids.slice(0, 5).map((id, i) => html`${i > 0 ? " · " : ""}<button class="link open-conversation" onClick=${() => showConversation(id)}>${i + 1}</button>`)}${g.conversation_ids.length > 5 ? ` +${g.conversation_ids.length - 5}` : ""}</p>`}
              ${g.agent_reply && html`<blockquote class="agent-reply"><span class="muted">${t("agent_replied", g.agent_reply.agent)}</span><div class="text">${g.agent_reply.text}</div></blockquote>`}
              <div class="buttons">
                <button class="primary create-entry" onClick=${() => setCreating(g)}>${t("create_entry")}</button>
                <button class="add-existing" onClick=${() => setAdding(adding === g ? null : g)}>${t("add_to_entry")}</button>
                <button class="ghost dismiss" onClick=${() => dismiss(g)}>${t("dismiss")}</button>
              </div>
              ${adding === g && html`<${AddToEntry} g=${g} done=${() => (setAdding(null), load.reload())} />`}
            </li>`,
          )}
        </ul>
      `}
    <//>
    ${creating &&
    html`<${EntryEditor}
      title=${t("create_entry")}
      initial=${{ question: creating.question.slice(0, MAX_TEXT), alt_questions: alternatives(creating), answer: creating.agent_reply?.text ?? "", tags: [], enabled: true }}
      save=${create}
      close=${() => setCreating(null)}
      showEnabled=${false}
    />`}
  `;
}

/** Finds an entry by text and adds the group's phrasings (its question included) as its alternatives. */
function AddToEntry({ g, done }: { g: UnansweredGroup; done: () => void }) {
  const [q, setQ] = useState(g.question);
  const [found, setFound] = useState<Entry[] | null>(null);
  const search = async (e: Event) => {
    e.preventDefault();
    try {
      setFound((await api.entries(new URLSearchParams({ q, limit: "10" }).toString())).entries);
    } catch (err) {
      toastError(err);
    }
  };
  const pick = async (entry: Entry) => {
    try {
      await api.resolve({ log_ids: g.log_ids, entry_id: entry.id, phrasings: g.phrasings.map((p) => p.text).filter((p) => p.length <= MAX_TEXT).slice(0, MAX_ALTS) });
      toast(t("phrasings_added", entry.question));
      done();
    } catch (err) {
      toastError(err);
    }
  };
  return html`<div class="add-to-entry">
    <form class="search-form" onSubmit=${search}><input name="entry_q" value=${q} onInput=${(e: Event) => setQ(value(e))} /><button type="submit">${t("search")}</button></form>
    ${found && found.length === 0 && html`<p class="muted">${t("no_entries")}</p>`}
    ${found && html`<ul class="pick-list">${found.map((e) => html`<li><button class="link" onClick=${() => pick(e)}>${e.question}</button> <span class="mono">${e.id}</span></li>`)}</ul>`}
  </div>`;
}
