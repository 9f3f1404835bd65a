/** The two forms the widget shows inside the conversation: the rating after a close, the offline message. */
import { el } from "./dom";
import type { Texts } from "./texts";

export function ratingCard(t: Texts, submit: (score: number, comment: string) => void) {
  let score = 0;
  const stars = [1, 2, 3, 4, 5].map((n) =>
    el("button", { type: "button", class: "star", "aria-pressed": "false", "aria-label": t("star", { n }), onclick: () => pick(n) }, "★"),
  );
  const comment = el("textarea", { class: "field", rows: "2", maxlength: "1000", placeholder: t("csat_comment"), "aria-label": t("csat_comment") });
  const send = el("button", { type: "submit", class: "primary", disabled: true }, t("csat_submit"));
  const pick = (n: number) => {
    score = n;
    stars.forEach((s, i) => {
      s.setAttribute("aria-pressed", String(i < n));
      s.classList.toggle("on", i < n);
    });
    send.disabled = false;
  };
  const form = el(
    "form",
    { class: "card rating", onsubmit: (ev: Event) => { ev.preventDefault(); if (score) submit(score, comment.value.trim()); } },
    el("p", { class: "card-title" }, t("csat_title")),
    el("div", { class: "stars", role: "group", "aria-label": t("csat_title") }, ...stars),
    comment,
    send,
  );
  return {
    element: form,
    done() {
      form.replaceChildren(el("p", { class: "card-title" }, t("csat_thanks")));
    },
  };
}

export function offlineCard(t: Texts, question: string, submit: (f: { name: string; email: string; text: string }) => void, cancel: () => void) {
  const name = el("input", { class: "field", name: "name", autocomplete: "name", maxlength: "100", "aria-label": t("offline_name"), placeholder: t("offline_name") });
  const email = el("input", { class: "field", name: "email", type: "email", autocomplete: "email", maxlength: "200", "aria-label": t("offline_email"), placeholder: t("offline_email") });
  const text = el("textarea", { class: "field", name: "question", rows: "3", required: true, "aria-label": t("offline_question"), placeholder: t("offline_question") });
  text.value = question;
  const error = el("p", { class: "error", role: "alert", hidden: true });
  const form = el(
    "form",
    {
      class: "card offline",
      novalidate: true, // our own check, with a message in the widget's language
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        const e = email.value.trim();
        if (e && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(e)) {
          error.textContent = t("invalid_email");
          error.hidden = false;
          return;
        }
        if (!text.value.trim()) return text.focus();
        submit({ name: name.value.trim(), email: e, text: text.value.trim() });
        form.replaceChildren(el("p", { class: "card-title" }, t("offline_sent")));
      },
    },
    el("p", { class: "card-title" }, t("offline_title")),
    el("p", { class: "card-text" }, t("offline_text")),
    name,
    email,
    text,
    error,
    el("div", { class: "row" }, el("button", { type: "button", class: "secondary", onclick: () => { form.remove(); cancel(); } }, t("offline_cancel")), el("button", { type: "submit", class: "primary" }, t("offline_submit"))),
  );
  return { element: form, focus: () => (name.value ? text : name).focus() };
}
