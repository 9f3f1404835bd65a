import { useState } from "preact/hooks";
import { login, switchLang } from "../controller";
import { html } from "../html";
import { lang, t } from "../i18n";
import { state } from "../store";

export function LoginView() {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    await login(name, password);
    setBusy(false);
  };
  return html`
    <main class="login">
      <form class="login-card" onSubmit=${submit}>
        <h1><span class="brand">kefu</span> ${t("title")}</h1>
        <label>${t("login_name")}<input name="name" autocomplete="username" required value=${name} onInput=${(e: Event) => setName((e.target as HTMLInputElement).value)} /></label>
        <label>${t("login_password")}<input name="password" type="password" autocomplete="current-password" required value=${password} onInput=${(e: Event) => setPassword((e.target as HTMLInputElement).value)} /></label>
        ${state.loginError && html`<p class="error" role="alert">${state.loginError}</p>`}
        <button class="primary" type="submit" disabled=${busy}>${t("login")}</button>
        <button class="link" type="button" onClick=${() => switchLang(lang() === "zh" ? "en" : "zh")}>${t("language_switch")}</button>
      </form>
    </main>
  `;
}
