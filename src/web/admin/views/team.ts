import { useState } from "preact/hooks";
import { isMissing } from "../api";
import { t } from "../i18n";
import { api, state, toastError } from "../store";
import type { ApiToken, Canned, User } from "../types";
import { act, ConfirmButton, html, Show, useLoad, value, when } from "./common";

/** Agents and admins, canned replies, API tokens for /api/ask. */
export function TeamView() {
  return html`<${Users} /><${CannedReplies} /><${Tokens} />`;
}

function Users() {
  const load = useLoad(() => api.users(), []);
  const [adding, setAdding] = useState(false);
  const [form, setForm] = useState({ name: "", display_name: "", role: "agent", password: "", max_concurrent: "5" });
  const field = (k: keyof typeof form) => (e: Event) => setForm({ ...form, [k]: value(e) });
  const add = (e: Event) => {
    e.preventDefault();
    void act(
      () => api.addUser({ name: form.name.trim(), role: form.role, password: form.password, display_name: form.display_name.trim() || undefined, max_concurrent: Number(form.max_concurrent) || undefined }),
      t("user_added", form.name),
      () => (setAdding(false), load.reload()),
    );
  };
  return html`<section class="card team-users">
    <header class="report-head"><h2>${t("agents")}</h2><button class="primary add-user" onClick=${() => setAdding(!adding)}>${t("add_user")}</button></header>
    ${adding &&
    html`<form class="form-row user-form" onSubmit=${add}>
      <label>${t("login_name")}<input name="name" required maxlength="64" value=${form.name} onInput=${field("name")} /></label>
      <label>${t("display_name")}<input name="display_name" maxlength="64" value=${form.display_name} onInput=${field("display_name")} /></label>
      <label>${t("role")}<select name="role" value=${form.role} onChange=${field("role")}><option value="agent">${t("role_agent")}</option><option value="admin">${t("role_admin")}</option></select></label>
      <label>${t("max_concurrent")}<input name="max_concurrent" type="number" min="1" max="1000" value=${form.max_concurrent} onInput=${field("max_concurrent")} /></label>
      <label>${t("login_password")}<input name="password" type="password" required minlength="10" autocomplete="new-password" value=${form.password} onInput=${field("password")} /></label>
      <button class="primary" type="submit">${t("save")}</button>
    </form>`}
    <${Show} load=${load}>
      ${(d: { users: User[] }) => html`<table class="grid users">
        <thead><tr><th>${t("login_name")}</th><th>${t("display_name")}</th><th>${t("role")}</th><th>${t("max_concurrent")}</th><th>${t("status")}</th><th></th></tr></thead>
        <tbody>${d.users.map((u) => html`<${UserRow} key=${u.id} u=${u} reload=${load.reload} />`)}</tbody>
      </table>`}
    <//>
  </section>`;
}

function UserRow({ u, reload }: { u: User; reload: () => void }) {
  const [name, setName] = useState(u.display_name ?? "");
  const [max, setMax] = useState(String(u.max_concurrent ?? ""));
  const [password, setPassword] = useState<string | null>(null);
  const me = state.session?.user.id === u.id;
  const patch = (p: Parameters<typeof api.patchUser>[1]) => act(() => api.patchUser(u.id, p), t("saved"), reload);
  return html`<tr class=${u.disabled ? "disabled" : ""} data-name=${u.name}>
    <td>${u.name}${me && html` <span class="muted">(${t("you")})</span>`}</td>
    <td><input class="inline" aria-label=${t("display_name")} value=${name} onInput=${(e: Event) => setName(value(e))}
      onChange=${() => name !== (u.display_name ?? "") && patch({ display_name: name.trim() || null })} /></td>
    <td><select aria-label=${t("role")} value=${u.role} disabled=${me} title=${me ? t("own_role") : undefined} onChange=${(e: Event) => patch({ role: value(e) })}><option value="agent">${t("role_agent")}</option><option value="admin">${t("role_admin")}</option></select></td>
    <td><input class="inline narrow" type="number" min="1" max="1000" aria-label=${t("max_concurrent")} value=${max} onInput=${(e: Event) => setMax(value(e))}
      onChange=${() => Number(max) > 0 && Number(max) !== u.max_concurrent && patch({ max_concurrent: Number(max) })} /></td>
    <td><button class=${`small toggle ${u.disabled ? "off" : "on"}`} disabled=${me} onClick=${() => patch({ disabled: !u.disabled })}>${u.disabled ? t("disabled") : t("active")}</button></td>
    <td class="row-actions">
      ${password === null
        ? html`<button class="small" onClick=${() => setPassword("")}>${t("reset_password")}</button>`
        : html`<form class="inline-form" onSubmit=${(e: Event) => {
            e.preventDefault();
            void act(() => api.setPassword(u.id, password), t("password_set"), () => setPassword(null));
          }}><input type="password" minlength="10" required autocomplete="new-password" aria-label=${t("new_password")} placeholder=${t("new_password")} value=${password} onInput=${(e: Event) => setPassword(value(e))} /><button class="small primary" type="submit">${t("save")}</button><button class="small" type="button" onClick=${() => setPassword(null)}>${t("cancel")}</button></form>`}
    </td>
  </tr>`;
}

function CannedReplies() {
  const load = useLoad(() => api.canned(), []);
  const [form, setForm] = useState({ shortcut: "", title: "", text: "", shared: true });
  const add = (e: Event) => {
    e.preventDefault();
    void act(() => api.addCanned({ shortcut: form.shortcut.trim(), title: form.title.trim() || null, text: form.text, shared: form.shared }), t("saved"), () => {
      setForm({ shortcut: "", title: "", text: "", shared: true });
      load.reload();
    });
  };
  return html`<section class="card team-canned">
    <header class="report-head"><h2>${t("canned")}</h2></header>
    <${Show} load=${load}>
      ${(d: { canned: Canned[] }) => html`<table class="grid">
        <thead><tr><th>${t("shortcut")}</th><th>${t("title_field")}</th><th>${t("text")}</th><th>${t("owner")}</th><th></th></tr></thead>
        <tbody>
          ${d.canned.length === 0 && html`<tr><td colspan="5" class="empty">${t("none")}</td></tr>`}
          ${d.canned.map(
            (c) => html`<tr><td class="mono">/${c.shortcut}</td><td>${c.title ?? ""}</td><td class="clip">${c.text}</td><td>${c.shared ? t("shared") : c.owner_name}</td>
              <td><${ConfirmButton} class="small danger" label=${t("delete")} confirm=${t("sure")} onConfirm=${() => act(() => api.deleteCanned(c.id), t("deleted"), load.reload)} /></td></tr>`,
          )}
        </tbody>
      </table>`}
    <//>
    <form class="form-row canned-add" onSubmit=${add}>
      <label>${t("shortcut")}<input name="shortcut" required pattern="[a-z0-9_\\-]{1,32}" value=${form.shortcut} onInput=${(e: Event) => setForm({ ...form, shortcut: value(e) })} /></label>
      <label>${t("title_field")}<input name="title" maxlength="100" value=${form.title} onInput=${(e: Event) => setForm({ ...form, title: value(e) })} /></label>
      <label class="grow">${t("text")}<input name="text" required value=${form.text} onInput=${(e: Event) => setForm({ ...form, text: value(e) })} /></label>
      <label class="check"><input type="checkbox" checked=${form.shared} onChange=${(e: Event) => setForm({ ...form, shared: (e.target as HTMLInputElement).checked })} /> ${t("shared")}</label>
      <button type="submit">${t("add")}</button>
    </form>
  </section>`;
}

function Tokens() {
  const load = useLoad(() => api.tokens(), []);
  const [label, setLabel] = useState("");
  const [created, setCreated] = useState<string | null>(null);
  const create = async (e: Event) => {
    e.preventDefault();
    try {
      const r = (await api.createToken(label.trim())) as { token?: string | ApiToken };
      // The token is in the answer once: `{ token: "kfa_…" }`, or nested as `{ token: { token } }`.
      setCreated(typeof r.token === "string" ? r.token : (r.token?.token ?? null));
      setLabel("");
      load.reload();
    } catch (err) {
      toastError(err);
    }
  };
  return html`<section class="card team-tokens">
    <header class="report-head"><h2>${t("tokens")}</h2><span class="muted">${t("tokens_hint")}</span></header>
    ${created && html`<div class="token-once" role="status"><p>${t("token_once")}</p><code class="mono token-value">${created}</code>
      <button class="small" onClick=${() => void navigator.clipboard?.writeText(created)}>${t("copy")}</button><button class="small ghost" onClick=${() => setCreated(null)}>${t("done")}</button></div>`}
    <${Show} load=${load}>
      ${(d: { tokens: ApiToken[] }) => html`<table class="grid">
        <thead><tr><th>${t("label")}</th><th>${t("created")}</th><th>${t("last_used")}</th><th></th></tr></thead>
        <tbody>
          ${d.tokens.length === 0 && html`<tr><td colspan="4" class="empty">${t("none")}</td></tr>`}
          ${d.tokens.map(
            (x) => html`<tr><td>${x.label}</td><td>${when(x.created_at)}</td><td>${when(x.last_used_at)}</td>
              <td><${ConfirmButton} class="small danger" label=${t("revoke")} confirm=${t("sure")} onConfirm=${() => act(() => api.revokeToken(x.id), t("revoked"), load.reload)} /></td></tr>`,
          )}
        </tbody>
      </table>`}
    <//>
    ${!isMissing(load.error) &&
    html`<form class="form-row token-form" onSubmit=${create}>
      <label class="grow">${t("label")}<input name="label" required maxlength="100" value=${label} onInput=${(e: Event) => setLabel(value(e))} /></label>
      <button class="primary" type="submit">${t("create_token")}</button>
    </form>`}
  </section>`;
}
