/**
 * The widget: a launcher and a chat panel in an open shadow root (browser tests reach it; the page's
 * styles and ours cannot touch each other), wired to the visitor protocol.
 */
import css from "./style.css" with { type: "text" };
import { offlineCard, ratingCard } from "./cards";
import { type Connection, createConnection } from "./connection";
import { el, icon, ICON_CHAT, ICON_CLOSE, ICON_SEND } from "./dom";
import type { ConvState, InFrame, MessageIn, OutFrame } from "./frames";
import type { KefuUser, Resolved } from "./settings";
import { createStorage } from "./storage";
import { textsFor } from "./texts";
import { createTranscript } from "./transcript";

export type WidgetEvent = "message" | "open" | "close" | "unread";
type Listener = (payload?: unknown) => void;

const newId = () => (crypto.randomUUID ? crypto.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`);

export function createWidget(settings: Resolved) {
  const t = textsFor(settings.lang);
  const storage = createStorage(settings.server);
  const listeners = new Map<WidgetEvent, Set<Listener>>();
  const emit = (e: WidgetEvent, payload?: unknown) => listeners.get(e)?.forEach((fn) => { try { fn(payload); } catch (err) { console.error(err); } });

  let user: KefuUser | null = settings.user ?? storage.get().user ?? null;
  let isOpen = false;
  let unread = 0;
  let state: ConvState = "bot";
  let agentName = "";
  let replayUpTo = 0; // frames up to the welcome's last_seq are history, not news
  let lastShown = 0;
  let maxChars = 4000;
  let awaitingAvailability: ((online: boolean) => void) | null = null;

  // ---- DOM ----
  const host = el("div", { id: "kefu-widget" });
  host.style.setProperty("--kefu-color", settings.color);
  const root = host.attachShadow({ mode: "open" });
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css); // adopted sheets are not inline styles: a strict page CSP does not block them
    root.adoptedStyleSheets = [sheet];
  } catch {
    root.append(el("style", {}, css));
  }
  const transcript = createTranscript(t, { choose: (c) => submit({ type: "choose", client_id: newId(), entry_id: c.entry_id, text: c.question }) });
  const badge = el("span", { class: "badge", hidden: true, "aria-hidden": "true" });
  const launcher = el("button", { type: "button", class: "launcher", "aria-label": t("open"), "aria-expanded": "false", onclick: () => (isOpen ? close() : open()) }, icon(ICON_CHAT, 28), badge);
  const preview = el("button", { type: "button", class: "preview", hidden: true, onclick: () => open() });
  const subtitle = el("p", { class: "subtitle" }, t("subtitle_bot"));
  const humanButton = el("button", { type: "button", class: "human", onclick: () => askForHuman() }, t("human"));
  const banner = el("div", { class: "banner", role: "status", hidden: true }, t("offline"));
  const typing = el("div", { class: "typing", "aria-live": "polite", hidden: true });
  const input = el("textarea", { class: "input", rows: "1", placeholder: t("placeholder"), "aria-label": t("placeholder"), maxlength: "4000" });
  const composer = el(
    "form",
    { class: "composer", onsubmit: (ev: Event) => { ev.preventDefault(); sendText(); } },
    input,
    el("button", { type: "submit", class: "send", "aria-label": t("send") }, icon(ICON_SEND, 20)),
  );
  const title = settings.title ?? t("title");
  const panel = el(
    "section",
    { class: "panel", role: "dialog", "aria-label": title, hidden: settings.mode !== "page" },
    el(
      "header",
      {},
      el("div", { class: "titles" }, el("h2", {}, title), subtitle),
      humanButton,
      settings.mode === "page" ? null : el("button", { type: "button", class: "x", "aria-label": t("close"), onclick: () => close() }, icon(ICON_CLOSE, 20)),
    ),
    banner,
    transcript.element,
    typing,
    composer,
  );
  const frame = el("div", { class: `kefu pos-${settings.position} mode-${settings.mode}` }, panel, settings.mode === "page" ? null : preview, settings.mode === "page" ? null : launcher);
  root.append(frame);

  // ---- connection ----
  const conn: Connection = createConnection({
    server: settings.server,
    storage,
    lang: settings.lang === "zh" ? "zh-CN" : "en",
    user: () => user,
    onFrame,
    onStatus: (s) => {
      banner.hidden = s !== "down";
    },
    onVisitorChanged: () => {
      transcript.clear();
      ratings.clear();
      setUnread(0);
      replayUpTo = lastShown = 0;
    },
  });

  function submit(f: OutFrame) {
    transcript.pending(f.client_id, f.text);
    conn.submit(f);
    conn.connect();
  }

  function sendText() {
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    autosize();
    stopTyping();
    submit({ type: "send", client_id: newId(), text: text.slice(0, maxChars) });
  }

  // ---- visitor typing (with the preview agents see, unless disabled) ----
  let typingSent = 0;
  let typingTimer: ReturnType<typeof setTimeout> | undefined;
  let typingOn = false;
  function onInput() {
    autosize();
    const now = Date.now();
    if (now - typingSent > 800) {
      typingSent = now;
      typingOn = true;
      conn.send({ type: "typing", on: true, ...(settings.typingPreview ? { text: input.value.slice(0, 500) } : {}) });
    }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, 3000);
  }
  function stopTyping() {
    clearTimeout(typingTimer);
    if (typingOn) conn.send({ type: "typing", on: false });
    typingOn = false;
    typingSent = 0;
  }
  function autosize() {
    input.style.height = "auto";
    input.style.height = `${Math.min(120, input.scrollHeight)}px`;
  }
  input.addEventListener("input", onInput);
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      sendText();
    }
  });
  panel.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape" && settings.mode !== "page") close();
  });

  // ---- asking for a human: straight to the queue when someone is online, else the offline form ----
  function askForHuman() {
    conn.connect();
    const ask = new Promise<boolean>((resolve) => {
      awaitingAvailability = resolve;
      setTimeout(() => resolve(true), 4000); // no answer (old server): ask anyway, the server explains
    });
    if (!conn.send({ type: "availability" })) {
      // not connected yet: the welcome carries agents_online
    }
    void ask.then((online) => {
      awaitingAvailability = null;
      if (online) conn.send({ type: "handoff" });
      else {
        const card = offlineCard(
          t,
          input.value.trim(),
          (f) => {
            input.value = "";
            submit({ type: "offline_message", client_id: newId(), text: f.text, ...(f.name ? { name: f.name } : {}), ...(f.email ? { email: f.email } : {}) });
          },
          () => input.focus(),
        );
        transcript.card(card.element);
        card.focus();
      }
    });
  }

  // ---- state shown in the header ----
  function setState(s: ConvState, agent?: { name: string }) {
    state = s;
    if (agent) agentName = agent.name;
    subtitle.textContent = s === "agent" ? t("subtitle_agent", { name: agentName }) : s === "queued" ? t("subtitle_queued") : t("subtitle_bot");
    humanButton.hidden = s === "agent" || s === "queued";
  }

  // ---- unread, preview, tab title ----
  const pageTitle = { original: document.title, timer: undefined as ReturnType<typeof setInterval> | undefined };
  function flashTitle() {
    if (pageTitle.timer) return;
    pageTitle.original = document.title;
    let on = false;
    pageTitle.timer = setInterval(() => {
      on = !on;
      document.title = on ? `(${unread || 1}) ${t("new_message")}` : pageTitle.original;
    }, 1000);
  }
  function stopFlash() {
    if (!pageTitle.timer) return;
    clearInterval(pageTitle.timer);
    pageTitle.timer = undefined;
    document.title = pageTitle.original;
  }
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) {
      stopFlash();
      if (isOpen) markRead();
    }
  });
  function setUnread(n: number, last?: string) {
    unread = n;
    badge.hidden = n === 0;
    badge.textContent = n > 99 ? "99+" : String(n);
    launcher.setAttribute("aria-label", n ? `${t("open")} (${t("unread", { n })})` : t("open"));
    preview.hidden = n === 0 || isOpen;
    if (last !== undefined) preview.textContent = last.length > 140 ? `${last.slice(0, 140)}…` : last;
    emit("unread", n);
  }
  let readTimer: ReturnType<typeof setTimeout> | undefined;
  function markRead() {
    clearTimeout(readTimer);
    readTimer = setTimeout(() => lastShown && conn.send({ type: "read", seq: lastShown }), 300);
  }
  function news(text: string) {
    const seen = (isOpen || settings.mode === "page") && !document.hidden;
    if (!seen) setUnread(unread + 1, text);
    if (document.hidden) flashTitle();
    if (seen) markRead();
  }

  // ---- frames ----
  function onFrame(f: InFrame, sent?: OutFrame) {
    try {
      handle(f, sent);
    } catch (err) {
      // A frame of an unexpected shape (a newer or broken server) costs that frame, not the widget.
      console.warn("kefu: ignored a frame it could not show", err);
    }
  }
  function handle(f: InFrame, sent?: OutFrame) {
    switch (f.type) {
      case "welcome": {
        replayUpTo = f.last_seq;
        maxChars = f.limits?.max_text_chars ?? maxChars;
        transcript.setConversation(f.conversation_id, t("new_conversation"));
        setState(f.state, f.agent);
        if (awaitingAvailability && f.agents_online !== undefined) awaitingAvailability(f.agents_online);
        break;
      }
      case "message": {
        const live = f.seq > replayUpTo;
        transcript.message(f);
        lastShown = Math.max(lastShown, f.seq);
        if (f.from !== "visitor") typing.hidden = true;
        if (live) {
          emit("message", publicMessage(f));
          if (f.from !== "visitor") news(f.text);
        }
        break;
      }
      case "state": {
        transcript.state(f);
        lastShown = Math.max(lastShown, f.seq);
        setState(f.state, f.agent);
        if (f.seq > replayUpTo) news(f.text);
        if (f.state === "closed") offerRating(conn.conversationId);
        break;
      }
      case "ack":
        // A message another tab wrote and this one resent has no bubble here yet: show it now.
        if (!transcript.acked(f.client_id, f.seq) && sent) transcript.message({ type: "message", seq: f.seq, from: "visitor", text: sent.text, client_id: f.client_id, at: Date.now() });
        break;
      case "delta":
        typing.hidden = true;
        transcript.delta(f.seq, f.text);
        break;
      case "reset":
        transcript.reset(f.seq);
        break;
      case "typing":
        if (f.from === "visitor") break;
        typing.textContent = t("typing", { name: f.from === "agent" ? agentName || t("agent") : t("bot") });
        typing.hidden = !f.on;
        break;
      case "availability":
        awaitingAvailability?.(f.agents_online);
        break;
      case "rated":
        ratings.get(f.conversation_id)?.done();
        storage.update({ rated: [...(storage.get().rated ?? []), f.conversation_id].slice(-50) });
        break;
      case "error":
        if (f.client_id) transcript.failed(f.client_id, f.message);
        break;
    }
  }
  const publicMessage = (m: MessageIn) => ({ seq: m.seq, from: m.from, text: m.text, at: m.at, conversation_id: conn.conversationId, ...(m.agent ? { agent: m.agent } : {}) });

  const ratings = new Map<string, ReturnType<typeof ratingCard>>();
  function offerRating(conversationId: string | undefined) {
    if (!conversationId || ratings.has(conversationId) || storage.get().rated?.includes(conversationId)) return;
    const card = ratingCard(t, (score, comment) => conn.send({ type: "rate", conversation_id: conversationId, score, ...(comment ? { comment } : {}) }));
    ratings.set(conversationId, card);
    transcript.card(card.element);
  }

  // ---- open / close ----
  function open() {
    if (settings.mode === "page") return;
    if (!isOpen) {
      isOpen = true;
      panel.hidden = false;
      frame.classList.add("open");
      launcher.setAttribute("aria-expanded", "true");
      setUnread(0);
      stopFlash();
      emit("open");
    }
    conn.connect();
    markRead();
    input.focus();
  }
  function close() {
    if (!isOpen || settings.mode === "page") return;
    isOpen = false;
    panel.hidden = true;
    frame.classList.remove("open");
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
    emit("close");
  }

  return {
    mount() {
      document.body.appendChild(host);
      // A returning visitor (or anything left unsent) connects at once to get news; a new one only
      // when they open the chat, so a shop's every page view does not cost a socket.
      const saved = storage.get();
      if (settings.mode === "page" || saved.token || saved.pending?.length) conn.connect();
      for (const p of saved.pending ?? []) transcript.pending(p.client_id, p.text);
    },
    open,
    close,
    setUser(u: KefuUser | null) {
      user = u && typeof u.id === "string" && u.id ? { id: u.id, name: u.name, email: u.email, hash: u.hash } : null;
      storage.update({ user: user ?? undefined });
      if (conn.status !== "idle") conn.reconnect();
    },
    /** On logout: forget the visitor on this device and start over as a new one. */
    reset() {
      conn.disconnect();
      storage.clear();
      user = null;
      transcript.clear();
      ratings.clear();
      setUnread(0);
      setState("bot");
      replayUpTo = lastShown = 0;
      if (settings.mode === "page") conn.connect();
    },
    on(event: WidgetEvent, fn: Listener) {
      if (!listeners.has(event)) listeners.set(event, new Set());
      listeners.get(event)!.add(fn);
      return () => listeners.get(event)?.delete(fn);
    },
    get state() {
      return state;
    },
  };
}
export type Widget = ReturnType<typeof createWidget>;
