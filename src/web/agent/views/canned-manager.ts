import { useState } from "preact/hooks";
import { deleteCanned, saveCanned, toggle } from "../controller";
import { html } from "../html";
import { t } from "../i18n";
import { state } from "../store";
import type { Canned } from "../types";

type Draft = { id: Canned["id"] | null; shortcut: string; title: string; text: string; shared: boolean };

const SHORTCUT = "[a-z0-9_\\-]{1,32}";

/** Lists the agent's own and shared canned replies; add, edit, delete (shared ones only by their owner or an admin). */
export function CannedManager() {
  const [draft, setDraft] = useState<Draft | null>(null);
  const list = Array.isArray(state.canned) ? state.canned : [];
  const me = state.session!.user;
  const canEdit = (c: Canned) => c.owner_id === me.id || me.role === "admin";
  const field = (key: keyof Draft) => (e: Event) => {
    const el = e.target as HTMLInputElement;
    setDraft((d) => d && { ...d, [key]: el.type === "checkbox" ? el.checked : el.value });
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!draft) return;
    const ok = await saveCanned(draft.id, { shortcut: draft.shortcut.trim(), title: draft.title.trim(), text: draft.text, shared: draft.shared });
    if (ok) setDraft(null);
  };
  return html`
    <div class="modal-backdrop" onClick=${(e: Event) => e.target === e.currentTarget && toggle("showCanned")}>
      <div class="modal" role="dialog" aria-modal="true" aria-label=${t("canned_manage")}>
        <header>
          <h2>${t("canned_manage")}</h2>
          <button class="ghost" onClick=${() => toggle("showCanned")}>${t("done")}</button>
        </header>
        ${state.canned === "unavailable"
          ? html`<p class="muted">${t("unavailable")}</p>`
          : html`
              <ul class="canned-list">
                ${list.map(
                  (c) => html`
                    <li>
                      <div class="head">
                        <span class="shortcut">/${c.shortcut}</span>
                        <span class="title">${c.title ?? ""}</span>
                        <span class=${c.shared ? "tag shared" : "tag"}>${c.shared ? t("canned_shared_tag") : t("canned_mine")}</span>
                        ${c.owner_name && c.owner_id !== me.id && html`<span class="muted">${c.owner_name}</span>`}
                        <span class="spacer"></span>
                        ${canEdit(c) &&
                        html`<button class="small" onClick=${() => setDraft({ id: c.id, shortcut: c.shortcut, title: c.title ?? "", text: c.text, shared: c.shared })}>${t("edit")}</button>
                          <button class="small danger" onClick=${() => void deleteCanned(c.id)}>${t("delete")}</button>`}
                      </div>
                      <div class="text">${c.text}</div>
                    </li>
                  `,
                )}
              </ul>
              ${draft
                ? html`<form class="canned-form" onSubmit=${submit}>
                    <label>${t("canned_shortcut")}<input name="shortcut" required pattern=${SHORTCUT} maxlength="32" value=${draft.shortcut} onInput=${field("shortcut")} /></label>
                    <label>${t("canned_title")}<input name="title" maxlength="100" value=${draft.title} onInput=${field("title")} /></label>
                    <label>${t("canned_text")}<textarea name="text" required rows="4" value=${draft.text} onInput=${field("text")}></textarea></label>
                    <label class="check"><input type="checkbox" name="shared" checked=${draft.shared} onChange=${field("shared")} /> ${t("canned_shared")}</label>
                    <div class="buttons">
                      <button class="primary" type="submit">${t("save")}</button>
                      <button type="button" onClick=${() => setDraft(null)}>${t("cancel")}</button>
                    </div>
                  </form>`
                : html`<button class="primary" onClick=${() => setDraft({ id: null, shortcut: "", title: "", text: "", shared: false })}>${t("new")}</button>`}
            `}
      </div>
    </div>
  `;
}
