import { claim, close, contextShown, returnToBot, toggleContext, transfer } from "../controller";
import { html } from "../html";
import { reasonText, t } from "../i18n";
import { type ConvState, isMine, state, visitorLabel } from "../store";
import { Composer } from "./composer";
import { Transcript } from "./transcript";

export function ConversationView({ c }: { c: ConvState }) {
  const s = c.summary;
  const mine = isMine(c);
  const st = s?.state;
  const me = state.session?.user.id;
  const others = (state.queue?.agents ?? []).filter((a) => a.id !== me && a.status !== "offline");
  return html`
    <section class="conversation" aria-label=${visitorLabel(s, t("visitor"))}>
      <header class="conv-header">
        <div class="title">
          <h2>${visitorLabel(s, t("visitor"))}</h2>
          ${st && html`<span class=${`state state-${st}`}>${t(`state_${st}`)}</span>`}
          ${s?.agent && st === "agent" && !mine && html`<span class="agent-name">${s.agent.name}</span>`}
          ${s?.state === "queued" && s.queued_reason && html`<span class="reason">${reasonText(s.queued_reason)}</span>`}
        </div>
        <div class="actions">
          ${st && st !== "closed" && !mine && html`<button class="primary action-claim" onClick=${() => claim(c.id)}>${st === "queued" ? t("claim") : t("take_over")}</button>`}
          ${mine &&
          html`<select class="action-transfer" aria-label=${t("transfer")} disabled=${others.length === 0} onChange=${(e: Event) => {
            const el = e.target as HTMLSelectElement;
            if (el.value) transfer(c.id, Number(el.value));
            el.value = "";
          }}>
            <option value="">${t("transfer")}</option>
            ${others.map((a) => html`<option value=${a.id}>${a.name} (${t(a.status === "online" ? "online" : "away")}, ${a.load}/${a.max_concurrent})</option>`)}
          </select>`}
          ${(mine || st === "queued") && html`<button class="action-return" onClick=${() => returnToBot(c.id)}>${t("return_to_bot")}</button>`}
          ${st && st !== "closed" && (mine || state.session?.user.role === "admin") && html`<button class="danger action-close" onClick=${() => close(c.id)}>${t("close")}</button>`}
          <button class="ghost action-context" aria-expanded=${contextShown()} onClick=${toggleContext}>${t("context_toggle")}</button>
        </div>
      </header>
      <${Transcript} c=${c} />
      <${Composer} key=${c.id} c=${c} />
    </section>
  `;
}
