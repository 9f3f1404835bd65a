import type { PresenceStatus } from "./schemas";

/**
 * Which agents can take conversations. An agent is online or away while at least
 * one of their agent sockets is open, offline otherwise; "away" is chosen by the
 * agent and keeps them out of auto-assignment.
 */
export function createPresence() {
  const agents = new Map<number, { sockets: number; away: boolean; since: number }>();
  return {
    /** Records a new socket; true when the agent just came online. */
    connect(userId: number): boolean {
      const a = agents.get(userId);
      if (a) {
        a.sockets++;
        return false;
      }
      agents.set(userId, { sockets: 1, away: false, since: Date.now() });
      return true;
    },
    /** Records a closed socket; true when the agent just went offline. */
    disconnect(userId: number): boolean {
      const a = agents.get(userId);
      if (!a) return false;
      if (--a.sockets > 0) return false;
      agents.delete(userId);
      return true;
    },
    set(userId: number, status: "online" | "away") {
      const a = agents.get(userId);
      if (a) a.away = status === "away";
    },
    status(userId: number): PresenceStatus {
      const a = agents.get(userId);
      return !a ? "offline" : a.away ? "away" : "online";
    },
    /** Agents taking new conversations, longest online first. */
    available(): number[] {
      return [...agents.entries()].filter(([, a]) => !a.away).sort((x, y) => x[1].since - y[1].since).map(([id]) => id);
    },
    connected(): number[] {
      return [...agents.keys()];
    },
  };
}
export type Presence = ReturnType<typeof createPresence>;
