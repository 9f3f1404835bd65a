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

export function createStorage(server: URL) {
  const key = `kefu:${server.origin}`;
  let memory: Saved = {};
  const read = (): Saved => {
    try {
      const raw = localStorage.getItem(key);
      return raw ? (JSON.parse(raw) as Saved) : memory;
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
