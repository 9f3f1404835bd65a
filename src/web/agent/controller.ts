import { ApiError, createApi } from "./api-client";
import { errorText, setLang, t, type Lang } from "./i18n";
import { askNotificationPermission, notify } from "./notify";
import { loginErrorText } from "../shared/console-i18n";
import { createAgentSocket } from "./socket-client";
import {
  changed,
  conv,
  type ConvState,
  isMine,
  putSummary,
  saveReadMarks,
  saveSession,
  state,
  toast,
  unreadCount,
  visitorLabel,
  type View,
} from "./store";
import type { Canned, Note, QueueSnapshot, ServerFrame, StreamItem, Summary } from "./types";

const TYPING_IDLE_MS = 3000;
/** A session check (GET /api/auth/me) after refused reconnects is in flight. */
let checkingSession = false;
const VISITOR_TYPING_MS = 15_000;

const api = createApi(
  () => state.session?.token ?? null,
  () => signOutLocally(),
);

const socket = createAgentSocket({
  url: () => {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    return `${proto}//${location.host}/ws/agent?access_token=${encodeURIComponent(state.session?.token ?? "")}`;
  },
  onFrame: (f) => {
    handleFrame(f);
    changed();
  },
  onStatus: (s) => {
    state.connection = s;
    changed();
  },
  onRefused: (repeated) => {
    if (!repeated) return signOutLocally();
    // A 401 on the upgrade is invisible to the page; the REST check tells (and signs out on 401).
    if (checkingSession) return;
    checkingSession = true;
    api
      .me()
      .catch(() => {})
      .finally(() => (checkingSession = false));
  },
});

/** Conversations this socket session has asked the server to follow (with a replay from our last_seq). */
const watched = new Set<string>();
/** Ids of the last queue frame's queued list; null until the first one (no notification for what was already waiting). */
let knownQueued: Set<string> | null = null;
/** Conversations this console claimed in the last seconds: their `assigned` is no surprise. */
const claimedByMe = new Map<string, number>();
let agentTyping: { id: string; timer: ReturnType<typeof setTimeout> } | null = null;
let suggestTimer: ReturnType<typeof setTimeout> | null = null;

const me = () => state.session?.user.id ?? -1;

// ---- frames ----

function handleFrame(f: ServerFrame) {
  switch (f.type) {
    case "welcome":
      return onWelcome(f);
    case "queue":
      return onQueue(f as unknown as QueueSnapshot);
    case "assigned":
      return onAssigned(f.conversation as Summary);
    case "message":
    case "state":
      return onStreamItem(f as unknown as StreamItem);
    case "delta": {
      const c = convOf(f);
      if (!c || (f.seq as number) <= c.lastSeq) return;
      c.drafts.set(f.seq as number, (c.drafts.get(f.seq as number) ?? "") + (f.text as string));
      return;
    }
    case "reset":
      convOf(f)?.drafts.delete(f.seq as number);
      return;
    case "typing": {
      const c = convOf(f);
      if (!c || f.from !== "visitor") return;
      c.typing = f.on ? { text: typeof f.text === "string" ? f.text : "", until: Date.now() + VISITOR_TYPING_MS } : null;
      return;
    }
    case "read": {
      const c = convOf(f);
      if (c) c.visitorRead = Math.max(c.visitorRead, f.seq as number);
      return;
    }
    case "ack":
      return onAck(f);
    case "note":
      return onNote(f as unknown as Note & { conversation_id: string });
    case "error":
      return onError(f);
  }
}

const convOf = (f: ServerFrame) => (typeof f.conversation_id === "string" ? conv(f.conversation_id) : null);

function onWelcome(f: ServerFrame) {
  watched.clear();
  // Presence starts as the agent's last choice; the server assigns nothing until the console confirms it.
  state.status = f.status === "away" ? "away" : "online";
  socket.send({ type: "presence", status: state.status });
  if (state.selected) watch(state.selected);
  for (const c of state.convs.values()) {
    for (const p of c.pending.values()) if (!p.failed) socket.send({ type: "send", conversation_id: c.id, client_id: p.client_id, text: p.text });
    for (const p of c.pendingNotes.values()) if (!p.failed) socket.send({ type: "note", conversation_id: c.id, client_id: p.client_id, text: p.text });
  }
}

function watch(id: string) {
  if (watched.has(id)) return;
  if (socket.send({ type: "watch", conversation_id: id, last_seq: conv(id).lastSeq })) watched.add(id);
}

function onQueue(q: QueueSnapshot) {
  for (const s of [...q.queued, ...q.mine, ...(q.open ?? [])]) putSummary(s);
  state.queue = q;
  // The server follows owned conversations live from the connect on; the watch fills in what came before.
  for (const s of q.mine) watch(s.conversation_id);
  const ids = new Set(q.queued.map((s) => s.conversation_id));
  if (knownQueued) {
    for (const s of q.queued) {
      if (knownQueued.has(s.conversation_id)) continue;
      notify(t("n_new_queued"), `${visitorLabel(s, t("visitor"))}: ${s.last_text ?? ""}`, `queued-${s.conversation_id}`, () => select(s.conversation_id, "queued"));
    }
  }
  knownQueued = ids;
}

function onAssigned(s: Summary) {
  putSummary(s);
  // The server replays the conversation to this socket from where it last sent (from the start if new).
  watched.add(s.conversation_id);
  const claimedAt = claimedByMe.get(s.conversation_id);
  claimedByMe.delete(s.conversation_id);
  if (claimedAt && Date.now() - claimedAt < 10_000) {
    // Claimed here: the reply box replaces the claim button; the caret goes into it.
    // The list follows it: a claim from Queued would leave "Nobody is waiting" beside the open conversation.
    if (state.selected === s.conversation_id) {
      conv(s.conversation_id).composeNonce++;
      if (state.view === "queued") state.view = "mine";
    }
    return;
  }
  notify(t("n_assigned"), `${visitorLabel(s, t("visitor"))}: ${s.last_text ?? ""}`, `assigned-${s.conversation_id}`, () => select(s.conversation_id, "mine"));
}

function onStreamItem(item: StreamItem) {
  if (!item.conversation_id) return;
  const c = conv(item.conversation_id);
  const before = c.lastSeq;
  if (!c.items.has(item.seq)) c.items.set(item.seq, item);
  c.drafts.delete(item.seq);
  c.lastSeq = Math.max(c.lastSeq, item.seq);
  if (c.summary && item.seq >= c.summary.last_seq) {
    c.summary = { ...c.summary, last_seq: item.seq, updated_at: Math.max(c.summary.updated_at, item.at) };
    if (item.type === "state") c.summary = { ...c.summary, state: item.state, agent: item.agent };
    if (item.type === "message" && item.from === "visitor") c.summary = { ...c.summary, last_text: item.text, last_visitor_seq: item.seq };
  }
  if (item.type !== "message" || item.from !== "visitor" || item.seq <= before) return;
  c.typing = null;
  if (state.selected === c.id) suggestSoon(c.id);
  // A replay (page load, fresh assignment: before = 0) is history, not news.
  if (before > 0 && isMine(c) && document.hidden) {
    notify(t("n_message", visitorLabel(c.summary, t("visitor"))), item.text, `message-${c.id}`, () => select(c.id, "mine"));
  }
}

function onAck(f: ServerFrame) {
  const c = convOf(f);
  if (!c) return;
  const id = f.client_id as string;
  const p = c.pending.get(id);
  if (!p) return;
  c.pending.delete(id);
  const seq = f.seq as number;
  if (!c.items.has(seq)) {
    const agent = { id: me(), name: state.session?.user.display_name || state.session?.user.name || "" };
    c.items.set(seq, { type: "message", conversation_id: c.id, seq, from: "agent", text: p.text, client_id: id, agent, at: Date.now() });
  }
  c.lastSeq = Math.max(c.lastSeq, seq);
}

function onNote(n: Note & { conversation_id: string }) {
  const c = conv(n.conversation_id);
  if (n.client_id) c.pendingNotes.delete(n.client_id);
  c.notes.set(String(n.id), n);
}

function onError(f: ServerFrame) {
  const id = f.client_id as string | undefined;
  const message = errorText(String(f.code ?? ""), typeof f.message === "string" ? f.message : "");
  if (id) {
    for (const c of state.convs.values()) {
      const p = c.pending.get(id) ?? c.pendingNotes.get(id);
      if (p) {
        p.failed = message;
        return;
      }
    }
  }
  toast(message);
}

// ---- read marks, title ----

/** The open conversation is read while the tab is visible; the tab title counts unread visitor messages in mine. */
function markRead() {
  const id = state.selected;
  if (id && !document.hidden) {
    const c = conv(id);
    let top = c.summary?.last_visitor_seq ?? 0;
    for (const it of c.items.values()) if (it.type === "message" && it.from === "visitor") top = Math.max(top, it.seq);
    if (top > (state.readMarks[id] ?? 0)) {
      state.readMarks[id] = top;
      saveReadMarks();
    }
  }
  let unread = 0;
  for (const s of state.queue?.mine ?? []) unread += unreadCount(conv(s.conversation_id));
  const waiting = state.queue?.queued.length ?? 0;
  const badge = unread + waiting;
  document.title = `${badge ? `(${badge}) ` : ""}${t("title")} · kefu`;
}

// ---- actions ----

/** A failed REST call in the console's words. */
const restError = (err: unknown, aliases?: Record<string, string>) =>
  err instanceof ApiError ? errorText(err.code, err.message, aliases) : err instanceof Error ? err.message : String(err);

const newId = () => (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`);

function signOutLocally() {
  socket.stop();
  saveSession(null);
  state.queue = null;
  state.selected = null;
  state.convs.clear();
  state.canned = null;
  watched.clear();
  knownQueued = null;
  changed();
}

function start() {
  socket.start();
  void loadCanned();
}

export async function login(name: string, password: string) {
  state.loginError = null;
  void askNotificationPermission();
  try {
    saveSession(await api.login(name, password));
    start();
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

export function setPresence(status: "online" | "away") {
  state.status = status;
  socket.send({ type: "presence", status });
  changed();
}

export function setView(view: View) {
  state.view = view;
  changed();
}

export function select(id: string | null, view?: View) {
  const prev = state.selected;
  if (view) state.view = view;
  if (prev && prev !== id && !isMine(conv(prev))) {
    socket.send({ type: "unwatch", conversation_id: prev });
    watched.delete(prev);
  }
  state.selected = id;
  if (id) {
    watch(id);
    void loadDetail(id);
    void loadNotes(id);
    suggestSoon(id, 0);
  }
  changed();
}

async function loadDetail(id: string) {
  try {
    const d = await api.conversation(id);
    putSummary(d);
    conv(id).detail = d;
  } catch {
    conv(id).detail = "unavailable";
  }
  changed();
}

async function loadNotes(id: string) {
  try {
    const { notes } = await api.notes(id);
    const c = conv(id);
    for (const n of notes) c.notes.set(String(n.id), n);
    changed();
  } catch {
    // A server without notes: the panel simply has none.
  }
}

function suggestSoon(id: string, delay = 700) {
  if (suggestTimer) clearTimeout(suggestTimer);
  suggestTimer = setTimeout(async () => {
    try {
      conv(id).suggestions = await api.suggestions(id);
    } catch {
      conv(id).suggestions = "unavailable";
    }
    changed();
  }, delay);
}

export function claim(id: string) {
  claimedByMe.set(id, Date.now());
  socket.send({ type: "claim", conversation_id: id });
}

export function send(c: ConvState, text: string) {
  const body = text.trim();
  if (!body) return;
  const client_id = newId();
  if (c.mode === "note") {
    c.pendingNotes.set(client_id, { client_id, text: body, at: Date.now() });
    socket.send({ type: "note", conversation_id: c.id, client_id, text: body });
  } else {
    c.pending.set(client_id, { client_id, text: body, at: Date.now() });
    socket.send({ type: "send", conversation_id: c.id, client_id, text: body });
    stopTyping();
  }
  c.compose = "";
  changed();
}

/** A reply or note the server refused goes back into the box, to be edited and sent again. */
export function putBack(c: ConvState, clientId: string) {
  const reply = c.pending.get(clientId);
  const p = reply ?? c.pendingNotes.get(clientId);
  if (!p) return;
  c.pending.delete(clientId);
  c.pendingNotes.delete(clientId);
  c.mode = reply ? "reply" : "note";
  c.compose = c.compose.trim() ? `${p.text}\n${c.compose}` : p.text;
  c.composeNonce++;
  changed();
}

/** Typing on while the agent writes a reply, off after a pause or on send. */
export function typing(c: ConvState) {
  if (c.mode !== "reply" || !isMine(c)) return;
  if (agentTyping?.id !== c.id) {
    stopTyping();
    socket.send({ type: "typing", conversation_id: c.id, on: true });
  } else clearTimeout(agentTyping.timer);
  agentTyping = { id: c.id, timer: setTimeout(stopTyping, TYPING_IDLE_MS) };
}

function stopTyping() {
  if (!agentTyping) return;
  clearTimeout(agentTyping.timer);
  socket.send({ type: "typing", conversation_id: agentTyping.id, on: false });
  agentTyping = null;
}

export const transfer = (id: string, agentId: number) => socket.send({ type: "transfer", conversation_id: id, agent_id: agentId });
export const returnToBot = (id: string) => socket.send({ type: "return_to_bot", conversation_id: id });
export const close = (id: string) => socket.send({ type: "close", conversation_id: id });

export async function setTags(id: string, tags: string[]) {
  try {
    putSummary(await api.setTags(id, tags));
  } catch (err) {
    toast(restError(err));
  }
  changed();
}

let searchSeq = 0;
export async function search(q: string) {
  const mine = ++searchSeq;
  state.view = "search";
  state.search = { ...state.search, q, busy: true, error: null };
  changed();
  if (!q.trim()) {
    state.search = { q, results: null, error: null, busy: false };
    return changed();
  }
  try {
    const { conversations } = await api.search(q.trim());
    if (mine !== searchSeq) return;
    for (const s of conversations) putSummary(s);
    state.search = { q, results: conversations, error: null, busy: false };
  } catch (err) {
    if (mine !== searchSeq) return;
    state.search = { q, results: null, error: err instanceof ApiError && err.status === 404 ? t("search_unavailable") : String((err as Error).message), busy: false };
  }
  changed();
}

export async function loadCanned() {
  try {
    state.canned = (await api.canned()).canned;
  } catch {
    state.canned = "unavailable";
  }
  changed();
}

export async function saveCanned(id: Canned["id"] | null, c: { shortcut: string; title: string; text: string; shared: boolean }) {
  try {
    if (id === null) await api.addCanned({ ...c, title: c.title || undefined });
    else await api.updateCanned(id, { ...c, title: c.title || null });
    await loadCanned();
    return true;
  } catch (err) {
    toast(restError(err, { conflict: "canned_duplicate" }));
    changed();
    return false;
  }
}

export async function deleteCanned(id: Canned["id"]) {
  try {
    await api.deleteCanned(id);
  } catch (err) {
    toast(restError(err));
  }
  await loadCanned();
}

/** Puts `text` into the composer (after what is there), e.g. a suggested answer. */
export function insert(c: ConvState, text: string) {
  c.mode = "reply";
  c.compose = c.compose.trim() ? `${c.compose.trimEnd()}\n${text}` : text;
  c.composeNonce++;
  changed();
}

export function switchLang(next: Lang) {
  setLang(next);
  changed();
}

export function toggle(key: "showCanned" | "showContext" | "contextDrawer") {
  state[key] = !state[key];
  changed();
}

/** Too narrow for three columns (style.css hides the side panel there): visitor info opens over the conversation. */
const NARROW = "(max-width: 1100px)";

/** Whether visitor info is in view (the panel or the drawer, whichever this window width uses). */
export const contextShown = () => (matchMedia(NARROW).matches ? state.contextDrawer : state.showContext);

/** The visitor-info button: the side panel on a wide window, the drawer on a narrow one. */
export function toggleContext() {
  toggle(matchMedia(NARROW).matches ? "contextDrawer" : "showContext");
}

/** Boots the console: resumes a stored session, keeps read marks and the title in step with every change. */
export function boot(subscribe: (fn: () => void) => void) {
  subscribe(markRead);
  document.addEventListener("visibilitychange", () => changed());
  window.addEventListener("online", () => socket.nudge());
  // The visitor-info button's state depends on the width (panel or drawer).
  matchMedia(NARROW).addEventListener?.("change", () => changed());
  // The visitor's typing preview expires if the "off" never comes (tab closed mid-word).
  setInterval(() => {
    let expired = false;
    for (const c of state.convs.values()) {
      if (c.typing && c.typing.until < Date.now()) {
        c.typing = null;
        expired = true;
      }
    }
    if (expired) changed();
  }, 1000);
  if (state.session) start();
  changed();
}
