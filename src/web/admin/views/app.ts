import { useState } from "preact/hooks";
import { type Key, lang, setLang, t } from "../i18n";
import { changed, go, login, logout, state, type View, VIEWS } from "../store";
import { BatchView } from "./batch";
import { html, value } from "./common";
import { ConversationsView } from "./conversations";
import { DashboardView } from "./dashboard";
import { HitTestView } from "./hit-test";
import { ImportView } from "./import";
import { KbView } from "./kb";
import { SystemView } from "./system";
import { TeamView } from "./team";
import { ThresholdsView } from "./thresholds";
import { UnansweredView } from "./unanswered";

const PAGES: Record<View, () => unknown> = {
  dashboard: DashboardView,
  kb: KbView,
  import: ImportView,
  hit: HitTestView,
  batch: BatchView,
  thresholds: ThresholdsView,
  unanswered: UnansweredView,
  conversations: ConversationsView,
  team: TeamView,
  system: SystemView,
};

const switchLang = () => {
  setLang(lang() === "zh" ? "en" : "zh");
  changed();
};

export function App() {
  if (!state.session) return html`<${LoginView} />`;
  const Page = PAGES[state.view];
  const user = state.session.user;
  return html`
    <div class="admin">
      <header class="top-bar">
        <div class="brand"><strong>kefu</strong> <span>${t("title")}</span></div>
        <div class="spacer"></div>
        <a class="ghost-link" href="/agent">${t("agent_console")}</a>
        <button class="ghost lang-switch" onClick=${switchLang}>${t("language_switch")}</button>
        <span class="me" title=${user.name}>${user.display_name || user.name}</span>
        <button class="ghost logout" onClick=${() => void logout()}>${t("logout")}</button>
      </header>
      <nav class="admin-nav" aria-label=${t("title")}>
        ${VIEWS.map(
          (v) => html`<a href=${`#${v}`} class=${`nav-${v}`} aria-current=${state.view === v ? "page" : undefined} onClick=${(e: Event) => (e.preventDefault(), go(v))}>${t(`nav_${v}` as Key)}</a>`,
        )}
      </nav>
      <main class="admin-main" key=${state.view}>
        <h1 class="page-title">${t(`nav_${state.view}` as Key)}</h1>
        <${Page} />
      </main>
      <div class="toasts" role="alert">${state.toasts.map((x) => html`<div class=${`toast toast-${x.kind}`} key=${x.id}>${x.text}</div>`)}</div>
      ${state.expired && html`<${LoginView} again=${user.name} />`}
    </div>
  `;
}

/** The sign-in form; `again`: the session ended, a dialog over the console signs in again (name filled in). */
function LoginView({ again }: { again?: string }) {
  const [name, setName] = useState(again ?? "");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    await login(name, password);
    setBusy(false);
  };
  const form = html`
      <form class=${again ? "modal login-card relogin" : "login-card"} role=${again ? "dialog" : undefined} aria-modal=${again ? "true" : undefined} onSubmit=${submit}>
        <h1><span class="brand">kefu</span> ${t("title")}</h1>
        ${again && html`<p class="muted">${t("session_expired")}</p>`}
        <label>${t("login_name")}<input name="name" autocomplete="username" required value=${name} onInput=${(e: Event) => setName(value(e))} /></label>
        <label>${t("login_password")}<input name="password" type="password" autocomplete="current-password" required value=${password} onInput=${(e: Event) => setPassword(value(e))} /></label>
        ${state.loginError && html`<p class="error" role="alert">${state.loginError}</p>`}
        <button class="primary" type="submit" disabled=${busy}>${t("login")}</button>
        ${again
          ? html`<button class="link" type="button" onClick=${() => void logout()}>${t("logout")}</button>`
          : html`<button class="link" type="button" onClick=${switchLang}>${t("language_switch")}</button>`}
      </form>`;
  return again ? html`<div class="modal-backdrop relogin-backdrop">${form}</div>` : html`<main class="login">${form}</main>`;
}
