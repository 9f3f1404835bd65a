/**
 * The message list: stored messages keyed by conversation and seq (a replay never shows one twice),
 * messages still waiting for their ack keyed by client_id, and the streaming draft of a bot reply.
 */
import { append, el, safeUrl } from "./dom";
import type { Choice, MessageIn, Source, StateIn } from "./frames";
import type { Texts } from "./texts";

export type TranscriptActions = { choose: (c: Choice) => void };

/**
 * "Did you mean" replies list their choices as "1. question" lines for clients without buttons; the
 * widget shows buttons instead, so those lines go (everything else of the text stays).
 */
export function withoutListedChoices(text: string, choices: Choice[] | undefined): string {
  if (!choices?.length) return text;
  const listed = new Set(choices.map((c, i) => `${i + 1}. ${c.question}`));
  return text
    .split("\n")
    .filter((line) => !listed.has(line.trim()))
    .join("\n");
}

export function createTranscript(t: Texts, actions: TranscriptActions) {
  const log = el("ol", { class: "log", "aria-live": "polite", "aria-relevant": "additions" });
  const stored = new Map<string, HTMLElement>();
  const pending = new Map<string, HTMLElement>();
  const drafts = new Map<string, HTMLElement>();
  let conversation = "";

  const scroll = () => {
    log.scrollTop = log.scrollHeight;
  };
  const key = (seq: number) => `${conversation}:${seq}`;
  const who = (m: { from: string; agent?: { name: string } }) => (m.from === "visitor" ? t("you") : m.from === "agent" ? (m.agent?.name ?? t("agent")) : t("bot"));

  const sourcesOf = (sources: Source[] | undefined) => {
    if (!sources?.length) return null;
    const list = el("ul", { class: "sources", "aria-label": t("sources") });
    for (const s of sources) {
      const label = s.title || s.id;
      const href = safeUrl(s.url);
      list.append(el("li", {}, href ? el("a", { href, target: "_blank", rel: "noopener noreferrer nofollow" }, label) : label));
    }
    return list;
  };
  const choicesOf = (choices: Choice[] | undefined) => {
    if (!choices?.length) return null;
    const box = el("div", { class: "choices", role: "group" });
    for (const c of choices) box.append(el("button", { type: "button", class: "choice", onclick: () => actions.choose(c) }, c.question));
    return box;
  };
  const bubble = (from: string, whoText: string, text: string) =>
    el("li", { class: `msg from-${from}` }, from === "visitor" ? null : el("span", { class: "who" }, whoText), el("div", { class: "bubble" }, text));

  return {
    element: log,
    /** Starts showing another conversation; a divider separates it when the old one is still on screen. */
    setConversation(id: string, divider: string | null) {
      if (id === conversation) return;
      if (conversation && divider && log.childElementCount > 0) log.append(el("li", { class: "divider" }, el("span", {}, divider)));
      conversation = id;
    },
    has: (seq: number) => stored.has(key(seq)),
    message(m: MessageIn) {
      if (stored.has(key(m.seq))) return;
      // A system message is a notice ("no agent online …"), shown like a state change.
      const li = m.from === "system" ? el("li", { class: "notice" }, m.text) : bubble(m.from, who(m), withoutListedChoices(m.text, m.choices));
      const offered = new Set(m.choices?.map((c) => c.entry_id));
      append(li, sourcesOf(m.sources?.filter((src) => !offered.has(src.id))), choicesOf(m.choices));
      const mine = m.client_id ? pending.get(m.client_id) : undefined;
      const draft = drafts.get(key(m.seq));
      if (mine) {
        mine.replaceWith(li);
        pending.delete(m.client_id!);
      } else if (draft) {
        draft.replaceWith(li);
      } else log.append(li);
      drafts.delete(key(m.seq));
      stored.set(key(m.seq), li);
      scroll();
    },
    state(s: StateIn) {
      if (stored.has(key(s.seq))) return;
      const li = el("li", { class: `notice state-${s.state}` }, s.text);
      const draft = drafts.get(key(s.seq));
      if (draft) {
        draft.replaceWith(li);
        drafts.delete(key(s.seq));
      } else log.append(li);
      stored.set(key(s.seq), li);
      scroll();
    },
    /** A message of ours on its way: shown at once, marked until acknowledged. */
    pending(clientId: string, text: string) {
      if (pending.has(clientId)) return;
      const li = bubble("visitor", t("you"), text);
      li.classList.add("pending");
      li.append(el("span", { class: "status" }, t("sending")));
      pending.set(clientId, li);
      log.append(li);
      scroll();
    },
    /** Marks our message stored; false when it has no bubble here. */
    acked(clientId: string, seq: number): boolean {
      const li = pending.get(clientId);
      if (!li) return stored.has(key(seq));
      pending.delete(clientId);
      li.classList.remove("pending");
      li.querySelector(".status")?.remove();
      stored.set(key(seq), li);
      return true;
    },
    failed(clientId: string, reason: string) {
      const li = pending.get(clientId);
      if (!li) return;
      pending.delete(clientId);
      li.classList.replace("pending", "failed");
      const status = li.querySelector(".status")!;
      status.textContent = `${t("failed")}: ${reason}`;
    },
    delta(seq: number, text: string) {
      if (stored.has(key(seq))) return;
      let d = drafts.get(key(seq));
      if (!d) {
        d = bubble("bot", t("bot"), "");
        d.classList.add("draft");
        drafts.set(key(seq), d);
        log.append(d);
      }
      d.querySelector(".bubble")!.append(text);
      scroll();
    },
    reset(seq: number) {
      drafts.get(key(seq))?.remove();
      drafts.delete(key(seq));
    },
    /** A card (rating, offline form) inside the list, kept in view. */
    card(node: HTMLElement) {
      log.append(node);
      scroll();
    },
    clear() {
      log.replaceChildren();
      stored.clear();
      pending.clear();
      drafts.clear();
      conversation = "";
    },
  };
}
