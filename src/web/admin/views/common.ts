import type { VNode } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import { html } from "../../agent/html";
import { ApiError, isMissing } from "../api";
import { errorText, t } from "../i18n";
import { state, toast, toastError } from "../store";

export { html };

export type Loaded<T> = { data: T | null; error: unknown; loading: boolean; reload: () => void };

/**
 * Runs `fn` when `deps` change (and on reload()); keeps the last data while a reload is in flight. Also again
 * after signing in anew (a load refused with the ended session then loads, without the view losing its state).
 */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [nonce, setNonce] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    fn().then(
      (d) => live && (setData(d), setError(null), setLoading(false)),
      (e) => live && (setError(e), setLoading(false)),
    );
    return () => {
      live = false;
    };
  }, [...deps, nonce, state.session?.token]);
  const reload = useCallback(() => setNonce((n) => n + 1), []);
  return { data, error, loading, reload };
}

/** A failed call in words: "not available on this server" for a 404 route, else the error's text. */
export function ErrorNote({ error }: { error: unknown }) {
  if (isMissing(error)) return html`<div class="unavailable" role="status"><strong>${t("not_available")}</strong><p class="muted">${t("not_available_hint")}</p></div>`;
  const text = error instanceof ApiError ? errorText(error.code, error.message) : String(error);
  return html`<p class="error" role="alert">${text}</p>`;
}

/** Loading, error or the content of a loaded resource. */
export function Show<T>({ load, children }: { load: Loaded<T>; children: (data: T) => VNode | VNode[] | null }) {
  if (load.error && !load.data) return html`<${ErrorNote} error=${load.error} />`;
  if (!load.data) return html`<p class="muted">${t("loading")}</p>`;
  return html`${children(load.data)}`;
}

/** A button that asks once more before doing something that cannot be undone. */
export function ConfirmButton({ label, confirm, onConfirm, class: cls = "danger", disabled }: { label: string; confirm: string; onConfirm: () => unknown; class?: string; disabled?: boolean }) {
  const [asking, setAsking] = useState(false);
  if (!asking) return html`<button class=${cls} disabled=${disabled} onClick=${() => setAsking(true)}>${label}</button>`;
  return html`<span class="confirm" role="group">
    <span>${confirm}</span>
    <button class="danger confirm-yes" onClick=${() => (setAsking(false), onConfirm())}>${t("yes")}</button>
    <button class="confirm-no" onClick=${() => setAsking(false)}>${t("no")}</button>
  </span>`;
}

/** The value of an input event's target. */
export const value = (e: Event) => (e.target as HTMLInputElement).value;

/** 0.8734 → "87.3%" */
export const pct = (x: number | null | undefined, digits = 1) => (typeof x === "number" && Number.isFinite(x) ? `${(x * 100).toFixed(digits)}%` : "–");

const pad = (n: number) => String(n).padStart(2, "0");

/** A time the API sends as ISO text or epoch milliseconds, local: "12-01 14:05" this year, else "2025-12-01 14:05". */
export function when(x: string | number | null | undefined): string {
  if (x === null || x === undefined || x === "") return "–";
  const d = new Date(x);
  if (Number.isNaN(d.getTime())) return String(x);
  const day = `${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
  return d.getFullYear() === new Date().getFullYear() ? day : `${d.getFullYear()}-${day}`;
}

/** Saves a Blob as a file the browser downloads. */
export function saveBlob(blob: Blob, name: string) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Any JSON value as nested text (a system report's unknown parts): never markup. */
export function ValueView({ v }: { v: unknown }): VNode {
  if (v === null || v === undefined) return html`<span class="muted">–</span>`;
  if (Array.isArray(v)) {
    if (v.length === 0) return html`<span class="muted">${t("none")}</span>`;
    return html`<ul class="value-list">${v.map((x) => html`<li><${ValueView} v=${x} /></li>`)}</ul>`;
  }
  if (typeof v === "object") {
    return html`<dl class="kv">${Object.entries(v as Record<string, unknown>).map(([k, x]) => html`<dt>${k}</dt><dd><${ValueView} v=${x} /></dd>`)}</dl>`;
  }
  return html`<span>${String(v)}</span>`;
}

/** Runs a call, toasts `ok` when it worked (else the error), then `after` (a reload of what it changed). */
export async function act(fn: () => Promise<unknown>, ok: string, after: () => void) {
  try {
    await fn();
    toast(ok);
    after();
  } catch (err) {
    toastError(err);
  }
}

/** "Last N days" for the views that look back over a period. */
export function PeriodSelect({ days, set }: { days: number; set: (d: number) => void }) {
  return html`<label>${t("period")}
    <select name="days" value=${String(days)} onChange=${(e: Event) => set(Number(value(e)))}>
      ${[7, 14, 30, 90].map((d) => html`<option value=${String(d)}>${t("last_days", d)}</option>`)}
    </select>
  </label>`;
}
