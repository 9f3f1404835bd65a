/**
 * What the widget keeps across page loads, per kefu server: the visitor's id and token (rule 1 of
 * docs/protocol.md), the conversation, messages not yet acknowledged (resent after a reload with the
 * same client_id) and the conversations already rated. localStorage can be missing or full (private
 * modes, quotas): then it lives in memory for this page.
 */
import type { OutFrame } from "./frames";

export type Saved = {
  visitor_id?: string;
  token?: string;
  conversation_id?: string;
  pending?: OutFrame[];
  rated?: string[];
  /** The user from the last setUser, so a reload keeps the identity until reset. */
  user?: { id: string; name?: string; email?: string; hash?: string };
};

const str = (v: unknown) => (typeof v === "string" && v.length <= 4000 ? v : undefined);

/**
 * Whatever is stored is checked field by field: another script on the page, an old version or a
 * full disk may have left anything there, and the widget must still come up.
 */
function sane(v: unknown): Saved {
  if (!v || typeof v !== "object") return {};
  const o = v as Record<string, unknown>;
  const pending = Array.isArray(o.pending)
    ? o.pending.filter((p): p is OutFrame => !!p && typeof p === "object" && ["send", "choose", "offline_message"].includes((p as OutFrame).type) && typeof (p as OutFrame).client_id === "string" && typeof (p as OutFrame).text === "string")
    : undefined;
  const u = o.user as Saved["user"] | undefined;
  return {
    visitor_id: str(o.visitor_id),
    token: str(o.token),
    conversation_id: str(o.conversation_id),
    pending,
    rated: Array.isArray(o.rated) ? o.rated.filter((r): r is string => typeof r === "string") : undefined,
    user: u && typeof u === "object" && typeof u.id === "string" ? { id: u.id, name: str(u.name), email: str(u.email), hash: str(u.hash) } : undefined,
  };
}

export function createStorage(server: URL) {
  const key = `kefu:${server.origin}`;
  let memory: Saved = {};
  const read = (): Saved => {
    try {
      const raw = localStorage.getItem(key);
      return raw ? sane(JSON.parse(raw)) : memory;
    } catch {
      return memory;
    }
  };
  return {
    get: read,
    update(patch: Partial<Saved>) {
      memory = { ...read(), ...patch };
      try {
        localStorage.setItem(key, JSON.stringify(memory));
      } catch {
        /* memory only */
      }
    },
    clear() {
      memory = {};
      try {
        localStorage.removeItem(key);
      } catch {
        /* nothing stored */
      }
    },
  };
}
export type Storage = ReturnType<typeof createStorage>;
