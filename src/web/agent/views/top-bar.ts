import { useState } from "preact/hooks";
import { logout, setPresence, switchLang, toggle } from "../controller";
import { html } from "../html";
import { lang, t } from "../i18n";
import { askNotificationPermission, notificationPermission, setSound, soundEnabled } from "../notify";
import { state } from "../store";

export function TopBar() {
  const [, rerender] = useState(0);
  const user = state.session!.user;
  const conn = state.connection;
  const permission = notificationPermission();
  return html`
    <header class="top-bar">
      <div class="brand"><strong>kefu</strong> <span>${t("title")}</span></div>
      <div class="presence" role="group" aria-label="presence">
        ${(["online", "away"] as const).map(
          (s) => html`<button class=${`presence-${s} ${state.status === s ? "active" : ""}`} aria-pressed=${state.status === s} onClick=${() => setPresence(s)}>${t(s)}</button>`,
        )}
      </div>
      ${conn !== "online" && html`<span class="conn-warning" role="status">${conn === "connecting" ? t("connecting") : t("disconnected")}</span>`}
      <div class="spacer"></div>
      ${permission === "default" &&
      html`<button class="ghost" onClick=${async () => {
        await askNotificationPermission();
        rerender((n) => n + 1);
      }}>${t("notify_enable")}</button>`}
      <button class="ghost" aria-pressed=${soundEnabled()} onClick=${() => {
        setSound(!soundEnabled());
        rerender((n) => n + 1);
      }}>${soundEnabled() ? t("sound_on") : t("sound_off")}</button>
      <button class="ghost" onClick=${() => toggle("showCanned")}>${t("canned")}</button>
      <button class="ghost" onClick=${() => switchLang(lang() === "zh" ? "en" : "zh")}>${t("language_switch")}</button>
      <span class="me" title=${user.name}>${user.display_name || user.name}</span>
      <button class="ghost" onClick=${() => void logout()}>${t("logout")}</button>
    </header>
  `;
}
