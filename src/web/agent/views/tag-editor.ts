import { useState } from "preact/hooks";
import { setTags } from "../controller";
import { html } from "../html";
import { t } from "../i18n";

const MAX_TAGS = 20;
const MAX_TAG_CHARS = 32;

export function TagEditor({ id, tags }: { id: string; tags: string[] }) {
  const [draft, setDraft] = useState("");
  const add = () => {
    const tag = draft.trim().slice(0, MAX_TAG_CHARS);
    setDraft("");
    if (!tag || tags.includes(tag) || tags.length >= MAX_TAGS) return;
    void setTags(id, [...tags, tag]);
  };
  return html`
    <div class="tag-editor">
      ${tags.map(
        (tag) => html`<span class="tag">${tag}<button class="remove" aria-label=${`${t("delete")} ${tag}`} onClick=${() => void setTags(id, tags.filter((x) => x !== tag))}>×</button></span>`,
      )}
      <input
        class="tag-input"
        placeholder=${t("add_tag")}
        maxlength=${MAX_TAG_CHARS}
        value=${draft}
        onInput=${(e: Event) => setDraft((e.target as HTMLInputElement).value)}
        onKeyDown=${(e: KeyboardEvent) => {
          if (e.key === "Enter" && !e.isComposing) {
            e.preventDefault();
            add();
          }
        }}
      />
    </div>
  `;
}
