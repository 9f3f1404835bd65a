import { useEffect, useState } from "preact/hooks";
import { t } from "../i18n";
import { api, go, testQuestion, toast, toastError } from "../store";
import type { Entry, EntryBody } from "../types";
import { act, ConfirmButton, html, Show, useLoad, value, when } from "./common";
import { EntryEditor } from "./entry-editor";
import { ExportLinks } from "./import";

const PAGE = 50;
type Filters = { q: string; tag: string; enabled: "" | "true" | "false"; sort: string; order: "asc" | "desc"; offset: number };
const EMPTY: EntryBody = { question: "", alt_questions: [], answer: "", tags: [], enabled: true };

/** The knowledge base: search, filters, sort by hits / last hit, edit, enable/disable, delete, bulk actions. */
export function KbView() {
  const [f, setF] = useState<Filters>({ q: "", tag: "", enabled: "", sort: "updated", order: "desc", offset: 0 });
  const [q, setQ] = useState("");
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [editing, setEditing] = useState<Entry | "new" | null>(null);
  const query = () => {
    const p = new URLSearchParams({ sort: f.sort, order: f.order, offset: String(f.offset), limit: String(PAGE) });
    if (f.q) p.set("q", f.q);
    if (f.tag) p.set("tag", f.tag);
    if (f.enabled) p.set("enabled", f.enabled);
    return p.toString();
  };
  const list = useLoad(() => api.entries(query()), [f]);
  // A page emptied by deletes (the last one, deleted whole) shows the last page that has entries.
  useEffect(() => {
    const d = list.data;
    if (d && d.entries.length === 0 && f.offset > 0) setF((old) => ({ ...old, offset: Math.max(0, Math.floor((d.total - 1) / PAGE) * PAGE) }));
  }, [list.data]);
  const tags = useLoad(() => api.tags().catch(() => ({ tags: [] })), [list.data?.version]);
  const set = (patch: Partial<Filters>) => {
    setF((old) => ({ ...old, offset: 0, ...patch }));
    setSelected(new Set());
  };
  const done = (text: string) => {
    toast(text);
    setSelected(new Set());
    list.reload();
  };
  const run = async (fn: () => Promise<string>) => {
    try {
      done(await fn());
    } catch (err) {
      toastError(err);
    }
  };
  const bulk = (action: "delete" | "enable" | "disable") => run(async () => t("bulk_done", (await api.bulk(action, [...selected])).affected));
  const toggleOne = (id: string) =>
    setSelected((s) => {
      const n = new Set(s);
      if (!n.delete(id)) n.add(id);
      return n;
    });
  // The header box ticks or unticks this page's entries; what other pages had selected stays selected.
  const selectPage = (entries: Entry[], on: boolean) =>
    setSelected((s) => {
      const n = new Set(s);
      for (const e of entries) on ? n.add(e.id) : n.delete(e.id);
      return n;
    });
  const save = async (e: EntryBody) => {
    if (editing === "new") await api.createEntry(e);
    else if (editing) await api.updateEntry(editing.id, e);
    done(t("saved"));
  };
  return html`
    <div class="toolbar">
      <form class="search-form" role="search" onSubmit=${(e: Event) => (e.preventDefault(), set({ q: q.trim() }))}>
        <input type="search" name="q" placeholder=${t("kb_search")} value=${q} onInput=${(e: Event) => setQ(value(e))} />
        <button type="submit">${t("search")}</button>
      </form>
      <select name="tag" aria-label=${t("tags")} value=${f.tag} onChange=${(e: Event) => set({ tag: value(e) })}>
        <option value="">${t("all_tags")}</option>
        ${(tags.data?.tags ?? []).map((x) => html`<option value=${x.tag}>${x.tag} (${x.count})</option>`)}
      </select>
      <select name="enabled" aria-label=${t("enabled")} value=${f.enabled} onChange=${(e: Event) => set({ enabled: value(e) as Filters["enabled"] })}>
        <option value="">${t("enabled_any")}</option>
        <option value="true">${t("enabled_only")}</option>
        <option value="false">${t("disabled_only")}</option>
      </select>
      <select name="sort" aria-label=${t("sort")} value=${`${f.sort}:${f.order}`} onChange=${(e: Event) => {
        const [sort, order] = value(e).split(":");
        set({ sort, order: order as Filters["order"] });
      }}>
        <option value="updated:desc">${t("sort_updated")}</option>
        <option value="hits:desc">${t("sort_hits")}</option>
        <option value="hits:asc">${t("sort_hits_asc")}</option>
        <option value="last_hit:desc">${t("sort_last_hit")}</option>
        <option value="last_hit:asc">${t("sort_last_hit_asc")}</option>
        <option value="question:asc">${t("sort_question")}</option>
      </select>
      <div class="spacer"></div>
      <button class="primary new-entry" onClick=${() => setEditing("new")}>${t("new_entry")}</button>
      <button onClick=${() => go("import")}>${t("nav_import")}</button>
      <${ConfirmButton} label=${t("remove_demo")} confirm=${t("remove_demo_confirm")} onConfirm=${() => run(async () => t("demo_removed", (await api.removeDemo()).deleted))} />
    </div>
    ${selected.size > 0 &&
    html`<div class="bulk-bar" role="toolbar">
      <span>${t("n_selected", selected.size)}</span>
      <button class="bulk-enable" onClick=${() => bulk("enable")}>${t("enable")}</button>
      <button class="bulk-disable" onClick=${() => bulk("disable")}>${t("disable")}</button>
      <${ConfirmButton} label=${t("delete")} confirm=${t("delete_n_confirm", selected.size)} onConfirm=${() => bulk("delete")} />
      <button class="ghost" onClick=${() => setSelected(new Set())}>${t("clear_selection")}</button>
    </div>`}
    <${Show} load=${list}>
      ${(data: NonNullable<typeof list.data>) => html`
        <p class="muted summary">${t("kb_summary", data.total, data.version)}</p>
        <table class="grid entries">
          <thead><tr>
            <th><input type="checkbox" aria-label=${t("select_all")} checked=${data.entries.length > 0 && data.entries.every((e) => selected.has(e.id))} onChange=${(e: Event) =>
              selectPage(data.entries, (e.target as HTMLInputElement).checked)} /></th>
            <th>${t("question")}</th><th>${t("tags")}</th><th>${t("enabled")}</th><th class="num">${t("hits")}</th><th>${t("last_hit")}</th><th>${t("updated")}</th><th></th>
          </tr></thead>
          <tbody>
            ${data.entries.length === 0 && html`<tr><td colspan="8" class="empty">${t("no_entries")}</td></tr>`}
            ${data.entries.map(
              (e) => html`<tr key=${e.id} data-id=${e.id} class=${e.enabled ? "" : "disabled"}>
                <td><input type="checkbox" aria-label=${t("select")} checked=${selected.has(e.id)} onChange=${() => toggleOne(e.id)} /></td>
                <td class="question-cell">
                  <button class="link entry-question" onClick=${() => setEditing(e)}>${e.question}</button>
                  ${(e.alt_questions?.length ?? 0) > 0 && html`<span class="muted"> +${e.alt_questions.length} ${t("phrasings")}</span>`}
                  <div class="answer-preview">${e.answer}</div>
                </td>
                <td>${e.tags.map((x) => html`<span class="tag">${x}</span> `)}</td>
                <td><button class=${`small toggle ${e.enabled ? "on" : "off"}`} aria-pressed=${e.enabled} onClick=${() => run(async () => (await api.bulk(e.enabled ? "disable" : "enable", [e.id]), t("saved")))}>${e.enabled ? t("on") : t("off")}</button></td>
                <td class="num">${e.hits ?? 0}</td>
                <td class="time">${when(e.last_hit_at)}</td>
                <td class="time">${when(e.updated_at)}</td>
                <td class="row-actions">
                  <button class="small" onClick=${() => setEditing(e)}>${t("edit")}</button>
                  <button class="small test-entry" title=${t("hit_this")} onClick=${() => testQuestion(e.question)}>${t("nav_hit")}</button>
                  <${ConfirmButton} class="small danger" label=${t("delete")} confirm=${t("sure")} onConfirm=${() => run(async () => (await api.deleteEntry(e.id), t("deleted")))} />
                </td>
              </tr>`,
            )}
          </tbody>
        </table>
        <div class="pager">
          <button disabled=${f.offset === 0} onClick=${() => setF({ ...f, offset: Math.max(0, f.offset - PAGE) })}>${t("prev")}</button>
          <span class="muted">${data.total === 0 ? "0" : `${f.offset + 1}–${Math.min(data.total, f.offset + PAGE)}`} / ${data.total}</span>
          <button disabled=${f.offset + PAGE >= data.total} onClick=${() => setF({ ...f, offset: f.offset + PAGE })}>${t("next")}</button>
          <div class="spacer"></div>
          <${ExportLinks} />
        </div>
      `}
    <//>
    <${Documents} version=${list.data?.version} />
    ${editing &&
    html`<${EntryEditor}
      title=${editing === "new" ? t("new_entry") : t("edit_entry")}
      initial=${editing === "new" ? EMPTY : { id: editing.id, question: editing.question, alt_questions: editing.alt_questions ?? [], answer: editing.answer, tags: editing.tags, enabled: editing.enabled }}
      save=${save}
      close=${() => setEditing(null)}
    />`}
  `;
}

/** Documents imported for the LLM to answer from (split into chunks; not entries): listed, deleted. */
function Documents({ version }: { version?: number }) {
  const docs = useLoad(() => api.documents(), [version]);
  if (!docs.data || docs.data.documents.length === 0) return null;
  return html`<section class="card documents">
    <h2>${t("documents")}</h2>
    <p class="muted">${t("documents_hint")}</p>
    <table class="grid">
      <thead><tr><th>${t("document_title")}</th><th>${t("source")}</th><th>${t("updated")}</th><th></th></tr></thead>
      <tbody>${docs.data.documents.map(
        (d) => html`<tr data-id=${d.id}><td>${d.title}<div class="mono">${d.id}</div></td><td class="clip">${d.source ?? ""}</td><td class="time">${when(d.updated_at)}</td>
          <td><${ConfirmButton} class="small danger" label=${t("delete")} confirm=${t("sure")} onConfirm=${() => act(() => api.deleteDocument(d.id), t("deleted"), docs.reload)} /></td></tr>`,
      )}</tbody>
    </table>
  </section>`;
}
