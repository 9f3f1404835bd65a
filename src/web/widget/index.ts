/**
 * widget.js: `<script src="https://kefu.example.com/widget.js" async></script>`. Commands queued on
 * `window.kefu` before this script loaded run once it has; afterwards `kefu(...)` runs them at once.
 * docs/widget.md documents every setting and command.
 */
import { type KefuSettings, resolveSettings } from "./settings";
import { createWidget, type Widget, type WidgetEvent } from "./widget";

type Queued = IArguments | unknown[];
type KefuGlobal = ((...args: unknown[]) => unknown) & { q?: Queued[]; loaded?: boolean };
declare global {
  interface Window {
    kefu?: KefuGlobal;
    kefuSettings?: KefuSettings;
  }
}

const EVENTS: WidgetEvent[] = ["message", "open", "close", "unread"];

function run(widget: Widget, args: ArrayLike<unknown>): unknown {
  const [command, a, b] = Array.from(args);
  switch (command) {
    case "open":
      return widget.open();
    case "close":
      return widget.close();
    case "setUser":
      return widget.setUser((a ?? null) as Parameters<Widget["setUser"]>[0]);
    case "reset":
      return widget.reset();
    case "on":
      if (EVENTS.includes(a as WidgetEvent) && typeof b === "function") return widget.on(a as WidgetEvent, b as (p?: unknown) => void);
      console.warn(`kefu: on(event, fn) needs one of ${EVENTS.join(", ")} and a function`);
      return () => {};
    default:
      console.warn(`kefu: unknown command ${String(command)}`);
  }
}

const script = document.currentScript as HTMLScriptElement | null;
function start() {
  if (window.kefu?.loaded) return; // the tag twice on one page
  const widget = createWidget(resolveSettings(window.kefuSettings, script));
  const queued = window.kefu?.q ?? [];
  const api: KefuGlobal = (...args: unknown[]) => run(widget, args);
  api.loaded = true;
  window.kefu = api;
  widget.mount();
  for (const args of queued) run(widget, args);
}
if (document.body) start();
else document.addEventListener("DOMContentLoaded", start);
