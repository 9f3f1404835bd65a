import { useEffect, useRef, useState } from "preact/hooks";
import { claim, send, typing } from "../controller";
import { html } from "../html";
import { t } from "../i18n";
import { changed, type ConvState, isMine, state } from "../store";
import type { Canned } from "../types";

/** The "/word" just before the caret, if the agent is typing a canned-reply shortcut. */
function slashQuery(text: string, caret: number): { start: number; q: string } | null {
  const m = /(^|\s)\/([^\s/]*)$/.exec(text.slice(0, caret));
  return m ? { start: m.index + m[1].length, q: m[2].toLowerCase() } : null;
}

function matches(q: string): Canned[] {
  const all = Array.isArray(state.canned) ? state.canned : [];
  const starts = all.filter((c) => c.shortcut.toLowerCase().startsWith(q));
  const rest = all.filter((c) => !starts.includes(c) && (c.shortcut.toLowerCase().includes(q) || (c.title ?? "").toLowerCase().includes(q) || c.text.toLowerCase().includes(q)));
  return [...starts, ...rest].slice(0, 8);
}

export function Composer({ c }: { c: ConvState }) {
  const ref = useRef<HTMLTextAreaElement>(null);
  const [caret, setCaret] = useState(0);
  const [pick, setPick] = useState(0);
  const [dismissed, setDismissed] = useState<string | null>(null);
  const s = c.summary;
  const closed = s?.state === "closed";
  const canReply = isMine(c);
  const noteMode = c.mode === "note";
  const locked = !noteMode && (!canReply || closed);

  useEffect(() => {
    const el = ref.current;
    if (!el || c.composeNonce === 0) return;
    el.focus();
    el.setSelectionRange(el.value.length, el.value.length);
    setCaret(el.value.length);
  }, [c.composeNonce]);

  const slash = noteMode ? null : slashQuery(c.compose, caret);
  const options = slash && slash.q !== dismissed ? matches(slash.q) : [];
  const popup = slash && slash.q !== dismissed && Array.isArray(state.canned);

  const apply = (canned: Canned) => {
    if (!slash) return;
    const before = c.compose.slice(0, slash.start);
    const after = c.compose.slice(caret);
    c.compose = before + canned.text + after;
    const pos = before.length + canned.text.length;
    // A reply that ends in "/word" itself must not open the popup again (Enter would insert, not send).
    setDismissed(slashQuery(c.compose, pos)?.q ?? null);
    changed();
    requestAnimationFrame(() => {
      ref.current?.focus();
      ref.current?.setSelectionRange(pos, pos);
      setCaret(pos);
    });
  };

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.isComposing || e.keyCode === 229) return; // an IME is composing (Chinese input): Enter picks the characters
    if (popup && options.length) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        setPick((p) => (p + (e.key === "ArrowDown" ? 1 : options.length - 1)) % options.length);
        return;
      }
      if (e.key === "Enter" || e.key === "Tab") {
        e.preventDefault();
        apply(options[Math.min(pick, options.length - 1)]);
        return;
      }
    }
    if (popup && e.key === "Escape") {
      e.preventDefault();
      setDismissed(slash!.q);
      return;
    }
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      if (!locked) send(c, c.compose);
    }
  };

  const onInput = (e: Event) => {
    const el = e.target as HTMLTextAreaElement;
    c.compose = el.value;
    setCaret(el.selectionStart);
    setPick(0);
    setDismissed(null);
    if (el.value) typing(c);
    changed();
  };

  const setMode = (mode: ConvState["mode"]) => {
    c.mode = mode;
    changed();
    requestAnimationFrame(() => ref.current?.focus());
  };

  return html`
    <div class=${`composer ${noteMode ? "note-mode" : ""}`}>
      <div class="composer-tabs" role="tablist">
        <button role="tab" aria-selected=${!noteMode} onClick=${() => setMode("reply")}>${t("reply")}</button>
        <button role="tab" class="note-tab" aria-selected=${noteMode} onClick=${() => setMode("note")}>${t("note")}</button>
      </div>
      ${popup &&
      html`<ul class="canned-popup" role="listbox">
        ${options.length === 0 && html`<li class="empty">${t("canned_none")}</li>`}
        ${options.map(
          (o, i) => html`
            <li role="option" aria-selected=${i === pick} class=${i === pick ? "active" : ""} onMouseDown=${(e: Event) => {
              e.preventDefault();
              apply(o);
            }}>
              <span class="shortcut">/${o.shortcut}</span>
              <span class="title">${o.title || ""}</span>
              <span class="text">${o.text}</span>
            </li>
          `,
        )}
      </ul>`}
      ${locked
        ? html`<div class="composer-locked">
            ${closed ? t("closed_no_reply") : html`<span>${t("claim_to_reply")}</span> <button class="primary" onClick=${() => claim(c.id)}>${s?.state === "queued" ? t("claim") : t("take_over")}</button>`}
          </div>`
        : html`<div class="composer-row">
            <textarea
              ref=${ref}
              rows="3"
              aria-label=${noteMode ? t("note") : t("reply")}
              placeholder=${noteMode ? t("note_placeholder") : t("reply_placeholder")}
              value=${c.compose}
              onInput=${onInput}
              onKeyDown=${onKeyDown}
              onKeyUp=${(e: Event) => setCaret((e.target as HTMLTextAreaElement).selectionStart)}
              onClick=${(e: Event) => setCaret((e.target as HTMLTextAreaElement).selectionStart)}
            ></textarea>
            <button class="primary send" disabled=${!c.compose.trim()} onClick=${() => send(c, c.compose)}>${noteMode ? t("add_note") : t("send")}</button>
          </div>`}
    </div>
  `;
}
