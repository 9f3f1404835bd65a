import { insert } from "../controller";
import { html } from "../html";
import { t } from "../i18n";
import { type ConvState, isMine } from "../store";

/** Knowledge-base answers for the visitor's current question; "Insert" puts one into the reply box. */
export function AssistPanel({ c }: { c: ConvState }) {
  const s = c.suggestions;
  if (s === "unavailable" || s === null) return null;
  return html`
    <section class="panel assist">
      <h3>${t("assist")}</h3>
      ${s.question && html`<p class="muted">${t("assist_question", s.question)}</p>`}
      ${s.suggestions.length === 0 && html`<p class="muted">${t("assist_none")}</p>`}
      ${s.suggestions.map(
        (x) => html`
          <div class="suggestion">
            <div class="q"><span>${x.question}</span> <span class="confidence">${Math.round(x.confidence * 100)}%</span></div>
            <div class="a">${x.answer}</div>
            <button class="small" disabled=${!isMine(c)} onClick=${() => insert(c, x.answer)}>${t("insert")}</button>
          </div>
        `,
      )}
    </section>
  `;
}
