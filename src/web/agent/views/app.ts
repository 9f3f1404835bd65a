import { html } from "../html";
import { t } from "../i18n";
import { state } from "../store";
import { CannedManager } from "./canned-manager";
import { ContextPanel } from "./context-panel";
import { Sidebar } from "./conversation-list";
import { ConversationView } from "./conversation-view";
import { LoginView } from "./login-view";
import { TopBar } from "./top-bar";

export function App() {
  if (!state.session) return html`<${LoginView} />`;
  const c = state.selected ? state.convs.get(state.selected) : undefined;
  return html`
    <div class=${`console ${c && state.showContext ? "with-context" : ""} ${c && state.contextDrawer ? "drawer-open" : ""}`}>
      <${TopBar} />
      <${Sidebar} />
      ${c ? html`<${ConversationView} c=${c} />` : html`<section class="conversation empty-state"><p>${t("pick")}</p></section>`}
      ${c && (state.showContext || state.contextDrawer) && html`<${ContextPanel} c=${c} />`}
      ${state.showCanned && html`<${CannedManager} />`}
      <div class="toasts" role="alert">${state.toasts.map((x) => html`<div class="toast" key=${x.id}>${x.text}</div>`)}</div>
    </div>
  `;
}
