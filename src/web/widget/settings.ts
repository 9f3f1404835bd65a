import { type Lang, langOf } from "./texts";

/** A signed-in shop user; `hash` = hex HMAC-SHA256(identity secret, id), computed by the shop's server. */
export type KefuUser = { id: string; name?: string; email?: string; hash?: string };

/** `window.kefuSettings`, all optional (docs/widget.md). */
export type KefuSettings = {
  lang?: string;
  position?: "right" | "left";
  color?: string;
  title?: string;
  user?: KefuUser;
  /** "page" fills the page with the open chat and has no launcher (used by /chat). */
  mode?: "launcher" | "page";
  /** The kefu server (default: where widget.js was loaded from). */
  server?: string;
  /** Let agents see what the visitor is typing before it is sent (default true). */
  typingPreview?: boolean;
};

export type Resolved = {
  lang: Lang;
  position: "right" | "left";
  color: string;
  title: string | null;
  user: KefuUser | null;
  mode: "launcher" | "page";
  server: URL;
  typingPreview: boolean;
};

/** A CSS colour the widget accepts: hex, rgb()/hsl() or a name; anything else falls back to the default. */
const safeColor = (c: unknown) => (typeof c === "string" && /^(#[0-9a-f]{3,8}|(rgb|hsl)a?\([\d\s.,%/]+\)|[a-z]{3,20})$/i.test(c.trim()) ? c.trim() : "#1f6feb");

/**
 * Settings from `window.kefuSettings`, then `data-*` attributes of the script tag (pages whose
 * Content-Security-Policy forbids inline scripts), then the page's language.
 */
export function resolveSettings(raw: KefuSettings | undefined, script: HTMLScriptElement | null): Resolved {
  const s = raw ?? {};
  const data = script?.dataset ?? {};
  const lang = langOf(s.lang) ?? langOf(data.lang) ?? langOf(document.documentElement.lang) ?? langOf(navigator.language) ?? "en";
  const base = s.server ?? data.server ?? script?.src ?? location.href;
  const user = s.user && typeof s.user.id === "string" && s.user.id ? s.user : null;
  return {
    lang,
    position: (s.position ?? data.position) === "left" ? "left" : "right",
    color: safeColor(s.color ?? data.color),
    title: typeof (s.title ?? data.title) === "string" ? String(s.title ?? data.title).slice(0, 80) : null,
    user,
    mode: (s.mode ?? data.mode) === "page" ? "page" : "launcher",
    server: new URL(base, location.href),
    typingPreview: s.typingPreview !== false && data.typingPreview !== "false",
  };
}
