import type { Session } from "./api-client";
import type { Canned, Detail, Note, QueueSnapshot, StreamItem, Summary, Suggestions } from "./types";

export type View = "mine" | "queued" | "open" | "search";

export interface PendingText {
  client_id: string;
  text: string;
  at: number;
  /** Why the server refused it; unset while it waits for its ack. */
  failed?: string;
}

/** Everything the console knows about one conversation. */
export interface ConvState {
  id: string;
  summary: Summary | null;
  /** Stored rows (messages and state changes) by seq. */
  items: Map<number, StreamItem>;
  /** Highest seq received: the `last_seq` of the next watch. */
  lastSeq: number;
  /** Bot replies being streamed, by the seq they will take. */
  drafts: Map<number, string>;
  notes: Map<string, Note>;
  pending: Map<string, PendingText>;
  pendingNotes: Map<string, PendingText>;
  /** What the visitor is writing right now (live preview), until `until`. */
  typing: { text: string; until: number } | null;
  /** The visitor has read up to this seq. */
  visitorRead: number;
  detail: Detail | null | "unavailable";
  suggestions: Suggestions | null | "unavailable";
  compose: string;
  mode: "reply" | "note";
  /** Bumped to move the caret to the end of `compose` after a programmatic change. */
  composeNonce: number;
}

export interface Toast {
  id: number;
  text: string;
}

export interface State {
  session: Session | null;
  connection: "connecting" | "online" | "offline";
  status: "online" | "away";
  queue: QueueSnapshot | null;
  view: View;
  selected: string | null;
  convs: Map<string, ConvState>;
  search: { q: string; results: Summary[] | null; error: string | null; busy: boolean };
  canned: Canned[] | null | "unavailable";
  showCanned: boolean;
  /** The side panel beside the conversation (wide windows). */
  showContext: boolean;
  /** The same panel over the conversation (windows too narrow for three columns), opened on demand. */
  contextDrawer: boolean;
  toasts: Toast[];
  loginError: string | null;
  /** Per conversation, the highest visitor seq this agent has seen. */
  readMarks: Record<string, number>;
}

const SESSION_KEY = "kefu.agent.session";
/** Read marks are per account: on a shared computer one agent's reading is not another's. */
const readKey = (s: Session | null) => `kefu.agent.read.${s?.user.id ?? 0}`;

function loadJson<T>(key: string, fallback: T): T {
  try {
    const raw = localStorage.getItem(key);
    return raw ? (JSON.parse(raw) as T) : fallback;
  } catch {
    return fallback;
  }
}

const storedSession = loadJson<Session | null>(SESSION_KEY, null);

export const state: State = {
  session: storedSession,
  connection: "offline",
  status: "online",
  queue: null,
  view: "mine",
  selected: null,
  convs: new Map(),
  search: { q: "", results: null, error: null, busy: false },
  canned: null,
  showCanned: false,
  showContext: true,
  contextDrawer: false,
  toasts: [],
  loginError: null,
  readMarks: loadJson<Record<string, number>>(readKey(storedSession), {}),
};

export function saveSession(s: Session | null) {
  state.session = s;
  state.readMarks = s ? loadJson<Record<string, number>>(readKey(s), {}) : {};
  if (s) localStorage.setItem(SESSION_KEY, JSON.stringify(s));
  else localStorage.removeItem(SESSION_KEY);
}

export function saveReadMarks() {
  const entries = Object.entries(state.readMarks);
  // Keep the newest 500 conversations' marks: enough for any working day, small in localStorage.
  if (entries.length > 500) state.readMarks = Object.fromEntries(entries.slice(-500));
  localStorage.setItem(readKey(state.session), JSON.stringify(state.readMarks));
}

export function conv(id: string): ConvState {
  let c = state.convs.get(id);
  if (!c) {
    c = {
      id,
      summary: null,
      items: new Map(),
      lastSeq: 0,
      drafts: new Map(),
      notes: new Map(),
      pending: new Map(),
      pendingNotes: new Map(),
      typing: null,
      visitorRead: 0,
      detail: null,
      suggestions: null,
      compose: "",
      mode: "reply",
      composeNonce: 0,
    };
    state.convs.set(id, c);
  }
  return c;
}

/** Stores a fresher summary; the newest `updated_at` wins over an older snapshot. */
export function putSummary(s: Summary) {
  const c = conv(s.conversation_id);
  if (!c.summary || s.updated_at >= c.summary.updated_at || s.last_seq >= c.summary.last_seq) c.summary = { ...c.summary, ...s };
  return c;
}

/** Visitor messages after the agent's read mark; a conversation not loaded yet counts 1 if the visitor wrote since. */
export function unreadCount(c: ConvState): number {
  const mark = state.readMarks[c.id] ?? 0;
  let n = 0;
  for (const it of c.items.values()) if (it.type === "message" && it.from === "visitor" && it.seq > mark) n++;
  if (c.items.size === 0 && (c.summary?.last_visitor_seq ?? 0) > mark) n = 1;
  return n;
}

export function isMine(c: ConvState | Summary | null | undefined): boolean {
  const s = c && "summary" in c ? c.summary : c;
  const me = state.session?.user.id;
  return !!s && s.state === "agent" && s.agent?.id === me;
}

/** The conversations each list shows. "All open" falls back to queued + mine on a server without `open`. */
export function listOf(view: View): Summary[] {
  const q = state.queue;
  if (view === "search") return state.search.results ?? [];
  if (!q) return [];
  if (view === "mine") return q.mine;
  if (view === "queued") return q.queued;
  if (q.open) return q.open;
  const seen = new Set<string>();
  return [...q.mine, ...q.queued].filter((s) => !seen.has(s.conversation_id) && seen.add(s.conversation_id));
}

/** The freshest summary known for a list entry (a state frame may be newer than the last queue frame). */
export const current = (s: Summary): Summary => state.convs.get(s.conversation_id)?.summary ?? s;

export function visitorLabel(s: Summary | null | undefined, fallback: string): string {
  if (!s) return fallback;
  const v = s.visitor;
  return v?.name || v?.email || v?.external_id || `${fallback} ${s.visitor_id.slice(-6)}`;
}

let toastId = 0;
export function toast(text: string) {
  const t = { id: ++toastId, text };
  state.toasts = [...state.toasts.slice(-3), t];
  setTimeout(() => {
    state.toasts = state.toasts.filter((x) => x !== t);
    changed();
  }, 6000);
}

const listeners = new Set<() => void>();
let scheduled = false;

export function subscribe(fn: () => void) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Re-renders once per task however many frames changed the state. */
export function changed() {
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(() => {
    scheduled = false;
    for (const fn of listeners) fn();
  });
}
