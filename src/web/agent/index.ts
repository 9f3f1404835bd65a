import { render } from "preact";
import { boot } from "./controller";
import { html } from "./html";
import { lang } from "./i18n";
import { unlockAudio } from "./notify";
import { changed, subscribe } from "./store";
import { App } from "./views/app";

const root = document.getElementById("app")!;
document.documentElement.lang = lang() === "zh" ? "zh-CN" : "en";
// Audio may start only after a gesture; the first click or key press anywhere unlocks the notification beep.
for (const ev of ["pointerdown", "keydown"]) document.addEventListener(ev, unlockAudio, { once: true, capture: true });

boot(subscribe);
subscribe(() => render(html`<${App} />`, root));
// "3 min ago" labels move on.
setInterval(changed, 30_000);
changed();
