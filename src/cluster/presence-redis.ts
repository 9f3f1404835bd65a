import type { RedisClient } from "bun";
import type { Presence } from "../chat/presence";
import type { PresenceStatus } from "../chat/schemas";
import type { EventBus } from "../events/bus";
import type { Logger } from "../log/logger";
import { RESYNC_TOPIC } from "./bus-redis";
import { createManagedRedis, type Backoff } from "./redis";

type Chosen = "online" | "away";

/**
 * Presence across nodes, with the synchronous interface of src/chat/presence.ts: this node's agents (counted
 * here, from its own sockets) plus a mirror of every other node's. Each node publishes a snapshot of its
 * agents (a) on the bus topic `cluster:presence` at every change, so the others see it at once and in order
 * with the chat's own events, and (b) to Redis, `<prefix>:presence:node:<nodeId>` with expiry 3 heartbeats,
 * rewritten every heartbeat, listed in the set `<prefix>:presence:nodes`. Every heartbeat each node also reads
 * all snapshots back (the fallback when a bus event was lost, and how a new node learns the others): a node
 * that died stops rewriting its key, Redis expires it, and its agents disappear within 3–4 heartbeats. While
 * Redis is unreachable a mirrored node not heard of for 3 heartbeats is kept but stale: its agents stay
 * connected (dead and cut off look the same; their conversations must not go back to the queue) but are not
 * available for assignment; the first read-back after Redis answers again drops the nodes that are gone.
 *
 * An agent with sockets on two nodes is one agent: sockets and ready sockets add up, `since` is the earliest,
 * and the most recent status choice wins (ties: away).
 */
export const PRESENCE_TOPIC = "cluster:presence";

interface Entry {
  sockets: number;
  ready: number;
  away: boolean;
  since: number;
  /** When the agent chose this status on this node (0: taken from `chosen` at connect). */
  at: number;
}
/** [userId, sockets, ready, away 1/0, since, at] */
type Row = [number, number, number, number, number, number];
interface Snapshot {
  node: string;
  /** Grows with every snapshot of a node (starts at its boot time: a restarted node's snapshots are newer). */
  v: number;
  agents: Row[];
}
interface Mirrored {
  v: number;
  agents: Map<number, Entry>;
  seenAt: number;
  /** Not heard of for 3 heartbeats while Redis is unreachable: its agents still count as connected (dead and
   *  cut off cannot be told apart: their conversations must not return to the queue), not as available. */
  stale?: boolean;
}

export interface ClusterPresenceOptions {
  url: string;
  nodeId: string;
  bus: EventBus;
  /** The agent's last chosen status (read at connect). */
  chosen: (userId: number) => Chosen;
  log: Logger;
  /** Snapshot rewrite and read-back period (default 5000 ms); a dead node's agents go after 3 of them. */
  heartbeatMs?: number;
  /** Key prefix (default "kefu"). */
  prefix?: string;
  /** Another node's agents changed what this node sees: `online` came online, `offline` went offline
   *  cluster-wide (e.g. their node died: return their conversations to the queue, refresh queue frames). */
  onChange?: (diff: { online: number[]; offline: number[] }) => void;
  backoff?: Backoff;
  connectTimeoutMs?: number;
}

export interface ClusterPresence extends Presence {
  /** Nodes whose agents are mirrored now (not this one). */
  nodes(): string[];
  close(): Promise<void>;
}

const READ_ALL = `local ids = redis.call('SMEMBERS', KEYS[1])
local out = {}
for _, id in ipairs(ids) do
  local v = redis.call('GET', ARGV[1] .. id)
  if v then table.insert(out, v) else redis.call('SREM', KEYS[1], id) end
end
return out`;

export async function createClusterPresence(opts: ClusterPresenceOptions): Promise<ClusterPresence> {
  const { nodeId, bus, log } = opts;
  const hb = opts.heartbeatMs ?? 5000;
  const prefix = opts.prefix ?? "kefu";
  const setKey = `${prefix}:presence:nodes`;
  const keyOf = (node: string) => `${prefix}:presence:node:${node}`;
  const local = new Map<number, Entry>();
  const mirror = new Map<string, Mirrored>();
  let version = Date.now() * 1000;
  let closed = false;
  let merged: Map<number, Entry> | null = null;
  /** The latest status choice seen for each agent, on any node (outlives the sockets of the node it was made on). */
  const choices = new Map<number, { away: boolean; at: number }>();
  const note = (id: number, away: boolean, at: number) => {
    if (at > (choices.get(id)?.at ?? 0)) choices.set(id, { away, at });
  };

  const redis = createManagedRedis({ url: opts.url, log, backoff: opts.backoff, onReady: (c) => void write(c) });

  // ---- the merged view (cached until something changes)
  const view = (): Map<number, Entry> => {
    if (merged) return merged;
    const m = new Map<number, Entry>();
    const add = (id: number, e: Entry) => {
      const cur = m.get(id);
      if (!cur) return void m.set(id, { ...e });
      cur.sockets += e.sockets;
      cur.ready += e.ready;
      cur.since = Math.min(cur.since, e.since);
      if (e.at > cur.at || (e.at === cur.at && e.away)) {
        cur.away = e.away;
        cur.at = e.at;
      }
    };
    for (const [id, e] of local) add(id, e);
    for (const n of mirror.values()) for (const [id, e] of n.agents) add(id, e);
    for (const [id, a] of m) {
      const c = choices.get(id);
      if (c && c.at >= a.at) a.away = c.away;
    }
    return (merged = m);
  };
  const statusIn = (m: Map<number, Entry>, id: number): PresenceStatus => {
    const a = m.get(id);
    return !a ? "offline" : a.away ? "away" : "online";
  };

  /** Ready sockets of an agent on nodes not heard of while Redis is unreachable (they count for status, not for assignment). */
  const staleReady = (id: number) => {
    let n = 0;
    for (const m of mirror.values()) if (m.stale) n += m.agents.get(id)?.ready ?? 0;
    return n;
  };

  // ---- publishing this node's snapshot
  const snapshot = (): Snapshot => ({
    node: nodeId,
    v: ++version,
    agents: [...local].map(([id, e]) => [id, e.sockets, e.ready, e.away ? 1 : 0, e.since, e.at]),
  });
  let writing = false;
  let writeAgain = false;
  async function write(client?: RedisClient) {
    const c = client ?? redis.client();
    if (!c || closed) return;
    if (writing) return void (writeAgain = true);
    writing = true;
    try {
      await Promise.all([c.send("SET", [keyOf(nodeId), JSON.stringify(snapshot()), "PX", String(hb * 3)]), c.send("SADD", [setKey, nodeId])]);
    } catch (err) {
      log.debug("presence: snapshot write failed", { err });
    } finally {
      writing = false;
    }
    if (writeAgain) {
      writeAgain = false;
      void write();
    }
  }
  const changed = () => {
    merged = null;
    if (closed) return;
    bus.publish<Snapshot>(PRESENCE_TOPIC, snapshot());
    void write();
  };

  // ---- the mirror
  /** Applies a change of the mirror, then tells onChange who came and went cluster-wide. */
  const mutate = (fn: () => boolean) => {
    const before = view();
    if (!fn()) return;
    merged = null;
    const after = view();
    if (!opts.onChange) return;
    const online: number[] = [];
    const offline: number[] = [];
    for (const id of after.keys()) if (!before.has(id)) online.push(id);
    for (const id of before.keys()) if (!after.has(id)) offline.push(id);
    let differs = online.length + offline.length > 0;
    if (!differs)
      for (const [id, a] of after) {
        const b = before.get(id)!;
        if (a.away !== b.away || a.ready > 0 !== b.ready > 0) differs = true;
      }
    if (differs) opts.onChange({ online, offline });
  };
  const parseRows = (rows: Row[]) => new Map(rows.map(([id, sockets, ready, away, since, at]) => [id, { sockets, ready, away: away === 1, since, at }]));
  const apply = (s: Snapshot) => {
    if (!s || s.node === nodeId || typeof s.v !== "number" || !Array.isArray(s.agents)) return false;
    const cur = mirror.get(s.node);
    if (cur && cur.v >= s.v) {
      cur.seenAt = Date.now();
      if (!cur.stale) return false;
      cur.stale = false;
      return true;
    }
    if (s.agents.length === 0) return mirror.delete(s.node) || false;
    const agents = parseRows(s.agents);
    mirror.set(s.node, { v: s.v, agents, seenAt: Date.now(), stale: false });
    // A status chosen on another node is the agent's status here too (it outlives that node's sockets).
    for (const [id, e] of agents) {
      note(id, e.away, e.at);
      const mine = local.get(id);
      if (mine && e.at > mine.at) {
        mine.away = e.away;
        mine.at = e.at;
      }
    }
    return true;
  };
  const unsubscribe = bus.subscribe<Snapshot>(PRESENCE_TOPIC, (s) => mutate(() => apply(s)));

  async function poll() {
    if (closed) return;
    const c = redis.client();
    let texts: string[] | null = null;
    if (c) {
      try {
        texts = (await c.send("EVAL", [READ_ALL, "1", setKey, `${prefix}:presence:node:`])) as string[];
      } catch (err) {
        log.debug("presence: read-back failed", { err });
      }
    }
    mutate(() => {
      let any = false;
      if (texts) {
        const alive = new Set<string>();
        for (const t of texts) {
          try {
            const s = JSON.parse(t) as Snapshot;
            alive.add(s.node);
            if (apply(s)) any = true;
          } catch {
            // not ours
          }
        }
        for (const n of [...mirror.keys()]) if (!alive.has(n)) any = mirror.delete(n) || any;
      } else {
        // Redis unreachable: a node not heard of is not known to be gone (docs/cluster.md). Its agents stay
        // connected (no grace period, their conversations stay theirs) but get nothing new from this node until
        // Redis answers again and tells which nodes are alive.
        const stale = Date.now() - hb * 3;
        for (const m of mirror.values()) if (m.seenAt < stale && !m.stale) any = m.stale = true;
      }
      return any;
    });
  }
  const timer = setInterval(() => {
    void write();
    void poll();
  }, hb);
  timer.unref?.();
  // After a bus outage: Redis may have been restarted (keys gone), announcements lost.
  const unsubscribeResync = bus.subscribe(RESYNC_TOPIC, () => {
    bus.publish<Snapshot>(PRESENCE_TOPIC, snapshot());
    void write();
    void poll();
  });

  await redis.firstUp(opts.connectTimeoutMs ?? 3000);
  await poll();

  return {
    connect(userId) {
      const wasOffline = !view().has(userId);
      if (wasOffline) choices.delete(userId); // `chosen` knows best now
      const a = local.get(userId);
      if (a) a.sockets++;
      else local.set(userId, { sockets: 1, ready: 0, away: opts.chosen(userId) === "away", since: Date.now(), at: 0 });
      changed();
      return wasOffline;
    },
    disconnect(userId, ready) {
      const a = local.get(userId);
      if (!a) return false;
      if (ready) a.ready--;
      if (--a.sockets <= 0) local.delete(userId);
      changed();
      return !view().has(userId);
    },
    set(userId, status, first) {
      const a = local.get(userId);
      if (!a) return;
      a.away = status === "away";
      a.at = Date.now();
      note(userId, a.away, a.at);
      if (first) a.ready++;
      changed();
    },
    status: (userId) => statusIn(view(), userId),
    available: () =>
      [...view()]
        .filter(([id, a]) => !a.away && a.ready - staleReady(id) > 0)
        .sort((x, y) => x[1].since - y[1].since)
        .map(([id]) => id),
    anyoneOnline() {
      for (const a of view().values()) if (!a.away) return true;
      return false;
    },
    connected: () => [...view().keys()],
    nodes: () => [...mirror.keys()],
    async close() {
      if (closed) return;
      local.clear();
      bus.publish<Snapshot>(PRESENCE_TOPIC, snapshot()); // empty: the others drop this node at once
      closed = true;
      clearInterval(timer);
      unsubscribe();
      unsubscribeResync();
      const c = redis.client();
      if (c) await Promise.all([c.send("DEL", [keyOf(nodeId)]), c.send("SREM", [setKey, nodeId])]).catch(() => {});
      redis.close();
    },
  };
}
