import { ApiError, createApi } from "./api";
import { errorText, t } from "./i18n";
import { loginErrorText } from "../shared/console-i18n";
import type { Session } from "./types";

export const VIEWS = ["dashboard", "kb", "import", "hit", "batch", "thresholds", "unanswered", "conversations", "team", "system"] as const;
export type View = (typeof VIEWS)[number];

export interface State {
  session: Session | null;
  view: View;
  loginError: string | null;
  toasts: { id: number; text: string; kind: "ok" | "error" }[];
  /** A conversation another view asked the Conversations view to open. */
  openConversation: string | null;
  /** A question another view asked the hit test to run. */
  hitQuestion: string | null;
  /**
   * The server refused the session's token (expired, signed out elsewhere, password reset): the console stays
   * as it is, an open editor with its unsaved text included, under a dialog that signs in again.
   */
  expired: boolean;
}

/** The session is kept in localStorage, as the agent console keeps its own (under its own key). */
const SESSION_KEY = "kefu.admin.session";

function storedSession(): Session | null {
  try {
    const raw = localStorage.getItem(SESSION_KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

const viewOf = (hash: string): View => {
  const v = hash.replace(/^#\/?/, "").split("?")[0] as View;
  return VIEWS.includes(v) ? v : "dashboard";
};

export const state: State = { session: storedSession(), view: viewOf(location.hash), loginError: null, toasts: [], openConversation: null, hitQuestion: null, expired: false };

/** Runs the hit test for `q`. */
export function testQuestion(q: string) {
  state.hitQuestion = q;
  go("hit");
}

/** Shows one conversation's transcript in the Conversations view. */
export function showConversation(id: string) {
  state.openConversation = id;
  go("conversations");
}

export const api = createApi(
  () => state.session?.token ?? null,
  () => {
    if (!state.session || state.expired) return;
    state.expired = true;
    changed();
  },
);

export function saveSession(s: Session | null) {
  state.session = s;
  state.expired = false;
  if (s) localStorage.setItem(SESSION_KEY, JSON.stringify(s));
  else localStorage.removeItem(SESSION_KEY);
  changed();
}

export function signOutLocally() {
  saveSession(null);
}

export async function login(name: string, password: string) {
  state.loginError = null;
  try {
    const s = await api.login(name, password);
    if (s.user.role !== "admin") {
      // An agent's valid login: say where they belong and revoke the token at once.
      await fetch("/api/auth/logout", { method: "POST", headers: { authorization: `Bearer ${s.token}` } }).catch(() => {});
      state.loginError = t("login_not_admin");
    } else saveSession(s);
  } catch (err) {
    state.loginError = loginErrorText(err, err instanceof ApiError ? err.status : null, {
      wrong: t("login_wrong"),
      limited: t("login_limited"),
      failed: (detail) => t("login_failed", detail),
    });
  }
  changed();
}

export async function logout() {
  await api.logout().catch(() => {});
  signOutLocally();
}

export function go(view: View) {
  if (location.hash !== `#${view}`) location.hash = view;
  state.view = view;
  changed();
}
addEventListener("hashchange", () => {
  state.view = viewOf(location.hash);
  changed();
});

let toastId = 0;
export function toast(text: string, kind: "ok" | "error" = "ok") {
  const item = { id: ++toastId, text, kind };
  state.toasts = [...state.toasts.slice(-3), item];
  setTimeout(() => {
    state.toasts = state.toasts.filter((x) => x !== item);
    changed();
  }, 6000);
  changed();
}

/** A failed call as a toast in the console's language. */
export function toastError(err: unknown) {
  // A refused session: the sign-in dialog says so.
  if (err instanceof ApiError && err.status === 401 && state.expired) return;
  toast(err instanceof ApiError ? errorText(err.code, err.message) : String(err), "error");
}

const listeners = new Set<() => void>();
let scheduled = false;

export function subscribe(fn: () => void) {
  listeners.add(fn);
}

/** Re-renders once per task however much changed. */
export function changed() {
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(() => {
    scheduled = false;
    for (const fn of listeners) fn();
  });
}
