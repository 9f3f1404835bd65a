import type { Logger } from "../log/logger";
import { createInProcessBus, type EventBus } from "../events/bus";
import { createManagedRedis, type Backoff } from "./redis";

/**
 * The event bus across nodes, over Redis pub/sub. `publish` delivers to this node's subscribers at once
 * (exactly as the in-process bus) and PUBLISHes an envelope {node, topic, event} on ONE shared channel;
 * every node receives every envelope, ignores its own and hands the rest to its local subscribers of that
 * topic (none: dropped). At most once: a Redis blip loses envelopes, which is fine because every message
 * has a durable per-conversation seq in the database. After a loss the bus publishes `{}` on the LOCAL topic
 * `bus:resync` and sockets refetch what they missed by seq.
 *
 * Losses are detected three ways: the subscriber connection closes (Redis restarted or gone), a canary this
 * node publishes every canaryIntervalMs to its own node channel does not come back within the interval (a
 * subscription that looks alive but is deaf, a half-open TCP connection), or publishes fail. The subscriber
 * is then replaced by a new connection with full-jitter backoff and SUBSCRIBEs again.
 */
export const RESYNC_TOPIC = "bus:resync";
/** Topics under `bus:` never leave the node. */
const LOCAL_PREFIX = "bus:";

export interface BusHealth {
  /** Both connections (publisher and subscriber) are up. */
  connected: boolean;
  /** The canary did not come back (or a connection is down): cross-node delivery is not working. */
  degraded: boolean;
  /** Outages so far (degraded periods, each counted once). */
  outages: number;
  /** Round trip of the last canary that came back, ms (-1: none yet). */
  lastCanaryMs: number;
  /** When the last canary came back (ms since the epoch, 0: none yet). */
  lastCanaryAt: number;
  /** Envelopes published to Redis / received from other nodes and delivered locally / publishes that failed. */
  published: number;
  received: number;
  publishFailures: number;
  /** `bus:resync` events fired after a resubscribe. */
  resyncs: number;
}

export interface RedisBus extends EventBus {
  readonly nodeId: string;
  health(): BusHealth;
  close(): Promise<void>;
}

export interface RedisBusOptions {
  url: string;
  nodeId: string;
  log: Logger;
  /** Canary period and deadline, ms (default 2000). */
  canaryIntervalMs?: number;
  /** Channel names start with this (default "kefu"): `<prefix>:bus`, `<prefix>:bus:node:<nodeId>`. */
  channelPrefix?: string;
  backoff?: Backoff;
  /** How long createRedisBus waits for the first connection before returning anyway (default 3000 ms). */
  connectTimeoutMs?: number;
  onHandlerError?: (err: unknown, topic: string) => void;
  /** Called on every state change (degraded, recovered), e.g. to update gauges at once. */
  onHealth?: (h: BusHealth) => void;
  /** TESTS ONLY: false disables the recovery (no resubscribe) to show a restart leaves the node deaf. */
  recover?: boolean;
}

interface Envelope {
  node: string;
  topic: string;
  event: unknown;
}

export async function createRedisBus(opts: RedisBusOptions): Promise<RedisBus> {
  const { nodeId, log } = opts;
  const interval = opts.canaryIntervalMs ?? 2000;
  const prefix = opts.channelPrefix ?? "kefu";
  const channel = `${prefix}:bus`;
  const nodeChannel = `${prefix}:bus:node:${nodeId}`;
  const recover = opts.recover !== false;
  const local = createInProcessBus(opts.onHandlerError);
  const h: BusHealth = { connected: false, degraded: false, outages: 0, lastCanaryMs: -1, lastCanaryAt: 0, published: 0, received: 0, publishFailures: 0, resyncs: 0 };
  let closed = false;

  // ---- outage bookkeeping: one warn line per outage, one info line on recovery
  let outageSince = 0;
  let failuresAtOutage = 0;
  let burstFailures = 0;
  const changed = () => opts.onHealth?.({ ...h });
  const degrade = (reason: string) => {
    if (h.degraded || closed) return;
    h.degraded = true;
    h.outages++;
    outageSince = Date.now();
    failuresAtOutage = h.publishFailures;
    log.warn("event bus subscription dead", { node: nodeId, reason });
    changed();
  };
  const recovered = () => {
    if (!h.degraded) return;
    h.degraded = false;
    // Envelopes this node published during the outage were lost for the others too: ask them to refetch.
    if (h.publishFailures > failuresAtOutage) sendRaw({ node: nodeId, topic: RESYNC_TOPIC, event: {} });
    log.info("event bus subscription restored", { node: nodeId, outage_ms: Date.now() - outageSince, publish_failures: h.publishFailures - failuresAtOutage });
    changed();
  };

  // ---- receiving
  let canarySeq = 0;
  let canaryPending: { seq: number; at: number } | null = null;
  const onMessage = (message: string, ch: string) => {
    if (ch === nodeChannel) {
      const seq = Number(message);
      if (canaryPending && seq === canaryPending.seq) {
        h.lastCanaryMs = Date.now() - canaryPending.at;
        h.lastCanaryAt = Date.now();
        canaryPending = null;
        if (sub.up && pub.up) recovered();
      }
      return;
    }
    let env: Envelope;
    try {
      env = JSON.parse(message);
    } catch {
      return;
    }
    if (!env || env.node === nodeId || typeof env.topic !== "string") return;
    if (local.subscribers(env.topic) === 0) return;
    h.received++;
    local.publish(env.topic, env.event);
  };

  const resync = () => {
    h.resyncs++;
    local.publish(RESYNC_TOPIC, {});
  };

  const sub = createManagedRedis({
    url: opts.url,
    log,
    backoff: opts.backoff,
    onReady: async (c, first) => {
      await c.subscribe([channel, nodeChannel], onMessage);
      h.connected = pub.up;
      if (first) return;
      log.info("event bus resubscribed", { node: nodeId });
      resync();
    },
    onDown: (reason) => {
      h.connected = false;
      degrade(`subscriber: ${reason}`);
      if (!recover) sub.close();
    },
  });
  const pub = createManagedRedis({
    url: opts.url,
    log,
    backoff: opts.backoff,
    onReady: () => {
      h.connected = sub.up;
    },
    onDown: (reason) => {
      h.connected = false;
      degrade(`publisher: ${reason}`);
    },
  });

  // ---- publishing
  // Failure bursts are ordered by publish number, not by when Redis answers: around an outage, a publish sent
  // before it may succeed late and one sent on the old connection may fail after the new one works. Neither may
  // end or start a burst, so one outage warns once.
  let issued = 0;
  /** The newest publish that succeeded, and the first failed one of the current burst. */
  let lastOk = 0;
  let burstFrom = 0;
  const failed = (n: number, err: unknown) => {
    h.publishFailures++;
    if (burstFailures > 0) burstFailures++;
    else if (n > lastOk) {
      burstFailures = 1;
      burstFrom = n;
      log.warn("event bus publish failed", { node: nodeId, err });
    }
  };
  function sendRaw(env: Envelope) {
    const c = pub.client();
    if (!c) return failed(++issued, new Error("redis publisher not connected"));
    let text: string;
    try {
      text = JSON.stringify(env);
    } catch (err) {
      h.publishFailures++;
      log.warn("event bus event not serialisable", { topic: env.topic, err });
      return;
    }
    h.published++;
    const n = ++issued;
    c.publish(channel, text).then(
      () => {
        lastOk = Math.max(lastOk, n);
        if (burstFailures > 0 && n > burstFrom) {
          log.info("event bus publishing again", { node: nodeId, failed: burstFailures });
          burstFailures = 0;
        }
      },
      (err) => failed(n, err),
    );
  }

  // ---- canary
  const canaryTimer = setInterval(() => {
    if (closed) return;
    if (canaryPending) {
      // Not back within one interval: the subscription is dead (or Redis is).
      degrade(sub.up ? "canary missed" : "subscriber down");
      canaryPending = null;
      // Either connection may be the dead one (a half-open TCP connection hangs publishes too): replace both.
      if (recover) {
        sub.restart("canary missed");
        pub.restart("canary missed");
      }
    }
    const c = pub.client();
    if (!c) {
      degrade("publisher down");
      return;
    }
    canaryPending = { seq: ++canarySeq, at: Date.now() };
    c.publish(nodeChannel, String(canarySeq)).catch(() => {});
  }, interval);
  canaryTimer.unref?.();

  await Promise.all([sub.firstUp(opts.connectTimeoutMs ?? 3000), pub.firstUp(opts.connectTimeoutMs ?? 3000)]);
  h.connected = sub.up && pub.up;
  if (!h.connected) {
    log.warn("event bus: redis not reachable yet, retrying in the background", { node: nodeId });
    degrade("not connected at start");
  }

  return {
    nodeId,
    publish(topic, event) {
      local.publish(topic, event);
      if (closed || topic.startsWith(LOCAL_PREFIX)) return;
      sendRaw({ node: nodeId, topic, event });
    },
    subscribe: (topic, handler) => local.subscribe(topic, handler),
    subscribers: (topic) => local.subscribers(topic),
    health: () => ({ ...h }),
    async close() {
      closed = true;
      clearInterval(canaryTimer);
      sub.close();
      pub.close();
      h.connected = false;
    },
  };
}

/** The bus's Prometheus families, for /metrics (the caller registers them; names are final). */
export function busMetrics(h: BusHealth): { name: string; kind: "gauge" | "counter"; help: string; value: number }[] {
  return [
    { name: "kefu_bus_up", kind: "gauge", help: "1 while the cluster event bus delivers across nodes (connected and its canary comes back), 0 otherwise.", value: h.connected && !h.degraded ? 1 : 0 },
    { name: "kefu_bus_outages_total", kind: "counter", help: "Cluster event bus outages (dead subscription, Redis down), each counted once.", value: h.outages },
    { name: "kefu_bus_canary_seconds", kind: "gauge", help: "Round trip of the last event bus canary through Redis (-1: none yet).", value: h.lastCanaryMs < 0 ? -1 : h.lastCanaryMs / 1000 },
    { name: "kefu_bus_published_total", kind: "counter", help: "Events this node published to the other nodes.", value: h.published },
    { name: "kefu_bus_received_total", kind: "counter", help: "Events received from other nodes and delivered to local subscribers.", value: h.received },
    { name: "kefu_bus_publish_failures_total", kind: "counter", help: "Events that could not be published to the other nodes (Redis down).", value: h.publishFailures },
    { name: "kefu_bus_resyncs_total", kind: "counter", help: "Resubscriptions after an outage (each asks sockets to refetch by seq).", value: h.resyncs },
  ];
}
