import type { Sql } from "../storage/sql";
import type { PresenceStatus } from "./schemas";

export type ChosenStatus = "online" | "away";
type Chosen = ChosenStatus;

/** Each agent's last chosen status (online or away), kept across reconnects, restarts and nodes. */
export interface AgentStatusStore {
  /** The status the agent chose last; online the first time. */
  get(userId: number): Promise<ChosenStatus>;
  set(userId: number, status: ChosenStatus): Promise<void>;
}

export function createAgentStatusStore(sql: Sql): AgentStatusStore {
  const get = "SELECT status FROM chat_agent_status WHERE user_id = ?";
  const set =
    "INSERT INTO chat_agent_status (user_id, status, updated_at) VALUES (?1, ?2, ?3) ON CONFLICT(user_id) DO UPDATE SET status = ?2, updated_at = ?3";
  return {
    async get(userId) {
      return (await sql.get<{ status: Chosen }>(get, [userId]))?.status ?? "online";
    },
    async set(userId, status) {
      await sql.run(set, [userId, status, Date.now()]);
    },
  };
}

interface AgentPresence {
  sockets: number;
  /** Sockets that said `presence` (the console has loaded): only then is the agent given conversations. */
  ready: number;
  away: boolean;
  since: number;
}

/**
 * Who is connected, and who takes conversations. Reads are synchronous (they run for every queue frame and
 * assignment); src/cluster/presence-redis.ts implements the same interface across nodes.
 */
export interface Presence {
  /** Records a new socket; true when the agent just came online. */
  connect(userId: number): boolean;
  /** Records a closed socket (`ready`: it had sent presence); true when the agent just went offline. */
  disconnect(userId: number, ready: boolean): boolean;
  /** A socket chose a status; `first`: the first time for this socket (it becomes ready). */
  set(userId: number, status: ChosenStatus, first: boolean): void;
  status(userId: number): PresenceStatus;
  /** Agents taking new conversations, longest online first. */
  available(): number[];
  /** Someone is connected and not away (what visitors are told). */
  anyoneOnline(): boolean;
  connected(): number[];
}

/**
 * Which agents can take conversations. An agent is online or away (their last chosen status) while at
 * least one of their agent sockets is open, offline otherwise; only an online agent with a socket that has
 * sent `presence` is given conversations automatically.
 */
export function createPresence(chosen: (userId: number) => Chosen): Presence {
  const agents = new Map<number, AgentPresence>();
  return {
    /** Records a new socket; true when the agent just came online. */
    connect(userId: number): boolean {
      const a = agents.get(userId);
      if (a) {
        a.sockets++;
        return false;
      }
      agents.set(userId, { sockets: 1, ready: 0, away: chosen(userId) === "away", since: Date.now() });
      return true;
    },
    /** Records a closed socket (`ready`: it had sent presence); true when the agent just went offline. */
    disconnect(userId: number, ready: boolean): boolean {
      const a = agents.get(userId);
      if (!a) return false;
      if (ready) a.ready--;
      if (--a.sockets > 0) return false;
      agents.delete(userId);
      return true;
    },
    /** A socket chose a status; `first`: the first time for this socket (it becomes ready). */
    set(userId: number, status: Chosen, first: boolean) {
      const a = agents.get(userId);
      if (!a) return;
      a.away = status === "away";
      if (first) a.ready++;
    },
    status(userId: number): PresenceStatus {
      const a = agents.get(userId);
      return !a ? "offline" : a.away ? "away" : "online";
    },
    /** Agents taking new conversations, longest online first. */
    available(): number[] {
      return [...agents.entries()].filter(([, a]) => !a.away && a.ready > 0).sort((x, y) => x[1].since - y[1].since).map(([id]) => id);
    },
    /** Someone is connected and not away (what visitors are told). */
    anyoneOnline(): boolean {
      for (const a of agents.values()) if (!a.away) return true;
      return false;
    },
    connected(): number[] {
      return [...agents.keys()];
    },
  };
}
