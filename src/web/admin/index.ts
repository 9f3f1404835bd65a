import { render } from "preact";
import { html } from "../agent/html";
import { lang } from "./i18n";
import { changed, subscribe } from "./store";
import { App } from "./views/app";

const root = document.getElementById("app")!;
document.documentElement.lang = lang() === "zh" ? "zh-CN" : "en";
subscribe(() => render(html`<${App} />`, root));
changed();
