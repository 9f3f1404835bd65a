/**
 * The widget's only way to make DOM: text goes in as text nodes, never as HTML, so nothing a visitor,
 * an agent or the knowledge base wrote can run in the shop's page.
 */
type Attrs = Record<string, string | boolean | undefined | ((ev: Event) => void)>;
export type Child = Node | string | null | undefined | false;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = String(v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  append(node, ...children);
  return node;
}

export function append(node: Node, ...children: Child[]) {
  for (const c of children) if (c) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
}

/** A small inline icon from path data (no markup parsing involved). */
export function icon(d: string, size = 24): SVGSVGElement {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", String(size));
  svg.setAttribute("height", String(size));
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", d);
  path.setAttribute("fill", "currentColor");
  svg.appendChild(path);
  return svg;
}

export const ICON_CHAT = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2zm3 6v2h2v-2H7zm4 0v2h2v-2h-2zm4 0v2h2v-2h-2z";
export const ICON_CLOSE = "M6.4 5 5 6.4 10.6 12 5 17.6 6.4 19 12 13.4 17.6 19 19 17.6 13.4 12 19 6.4 17.6 5 12 10.6z";
export const ICON_SEND = "M3 20.5 21 12 3 3.5v6.6L15 12 3 13.9z";

/** Only http(s) links are ever made clickable; anything else (javascript:, data:) is shown as text. */
export function safeUrl(url: string | undefined): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    return u.protocol === "https:" || u.protocol === "http:" ? u.href : null;
  } catch {
    return null;
  }
}
