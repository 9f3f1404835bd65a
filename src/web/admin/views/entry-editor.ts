import { useEffect, useRef, useState } from "preact/hooks";
import { t } from "../i18n";
import { toastError } from "../store";
import type { EntryBody } from "../types";
import { html, value } from "./common";

/** Lines of a textarea, trimmed, empty ones dropped. */
export const lines = (text: string) => text.split("\n").map((s) => s.trim()).filter(Boolean);
/** "a, b，c" → ["a", "b", "c"] */
export const tagList = (text: string) => text.split(/[,，]/).map((s) => s.trim()).filter(Boolean);

/**
 * Edits one entry (or a new one): question, alternative phrasings one per line, answer, tags, enabled.
 * `save` gets the body; the dialog closes when it resolves, stays open (with the error shown) when it throws.
 */
export function EntryEditor({ title, initial, save, close, showEnabled = true }: { title: string; initial: EntryBody; save: (e: EntryBody) => Promise<unknown>; close: () => void; showEnabled?: boolean }) {
  const [question, setQuestion] = useState(initial.question);
  const [alts, setAlts] = useState(initial.alt_questions.join("\n"));
  const [answer, setAnswer] = useState(initial.answer);
  const [tags, setTags] = useState(initial.tags.join(", "));
  const [enabled, setEnabled] = useState(initial.enabled);
  const [busy, setBusy] = useState(false);
  // A click beside the dialog or Escape closes it only while nothing was typed: a stray click must not drop
  // thirty phrasings (Cancel still discards on purpose).
  const dirty =
    question !== initial.question || alts !== initial.alt_questions.join("\n") || answer !== initial.answer || tags !== initial.tags.join(", ") || enabled !== initial.enabled;
  const closeIfClean = () => !dirty && close();
  // Keyboard use: the dialog takes the focus when it opens (Escape and Tab then work inside it).
  const form = useRef<HTMLFormElement>(null);
  useEffect(() => form.current?.querySelector<HTMLInputElement>("input[name=question]")?.focus(), []);
  // Escape wherever the focus is (the dialog's or the page's).
  const escape = useRef(closeIfClean);
  escape.current = closeIfClean;
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && escape.current();
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      await save({ question: question.trim(), alt_questions: lines(alts), answer: answer.trim(), tags: tagList(tags), enabled });
      close();
    } catch (err) {
      toastError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <div class="modal-backdrop" onClick=${(e: Event) => e.target === e.currentTarget && closeIfClean()}>
      <form ref=${form} class="modal entry-editor" role="dialog" aria-modal="true" aria-label=${title} onSubmit=${submit}>
        <header><h2>${title}</h2>${initial.id && html`<span class="mono">${initial.id}</span>`}</header>
        <label>${t("question")}<input name="question" required maxlength="2000" value=${question} onInput=${(e: Event) => setQuestion(value(e))} /></label>
        <label><span>${t("alt_questions")} <span class="muted">${t("one_per_line")}</span></span>
          <textarea name="alt_questions" rows="4" value=${alts} onInput=${(e: Event) => setAlts(value(e))}></textarea></label>
        <label>${t("answer")}<textarea name="answer" required rows="6" value=${answer} onInput=${(e: Event) => setAnswer(value(e))}></textarea></label>
        <label><span>${t("tags")} <span class="muted">${t("comma_separated")}</span></span><input name="tags" value=${tags} onInput=${(e: Event) => setTags(value(e))} /></label>
        ${showEnabled && html`<label class="check"><input type="checkbox" name="enabled" checked=${enabled} onChange=${(e: Event) => setEnabled((e.target as HTMLInputElement).checked)} /> ${t("enabled")}</label>`}
        <div class="buttons">
          <button class="primary" type="submit" disabled=${busy}>${t("save")}</button>
          <button type="button" onClick=${close}>${t("cancel")}</button>
        </div>
      </form>
    </div>
  `;
}
