import { RedisClient } from "bun";
import type { Logger } from "../log/logger";

/**
 * One Redis connection that keeps itself up. Bun's client reconnects on its own but does not re-issue
 * SUBSCRIBE afterwards (connected, yet deaf), and gives up after `maxRetries`; so every connection here has
 * Bun's auto-reconnect off and is replaced by a NEW client after a loss, with full-jitter backoff, and
 * `onReady` (subscribe, rewrite state) runs on every new client before it counts as up. While it is down,
 * commands fail at once (no offline queue): callers count the failure instead of piling up promises.
 */
export interface ManagedRedis {
  /** The current client while up, null while (re)connecting. */
  client(): RedisClient | null;
  readonly up: boolean;
  /** Resolves when the first connection is up (keeps retrying in the background when it is not). */
  firstUp(timeoutMs: number): Promise<boolean>;
  /** Drops the current connection (it looks alive but is not, e.g. the canary missed) and connects again. */
  restart(reason: string): void;
  close(): void;
}

export interface Backoff {
  /** First retry waits up to this (full jitter: a random delay in [0, min(maxMs, baseMs·2^attempt)]). */
  baseMs?: number;
  maxMs?: number;
}

/** Full-jitter exponential backoff (AWS architecture blog): a uniform delay in [0, min(max, base·2^attempt)]. */
export function fullJitter(attempt: number, { baseMs = 100, maxMs = 3000 }: Backoff = {}): number {
  return Math.random() * Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
}

export function createManagedRedis(opts: {
  url: string;
  log: Logger;
  /** Runs on each new client before it is `up`; a throw drops the client and retries. */
  onReady?: (client: RedisClient, first: boolean) => Promise<void> | void;
  /** The connection went down (closed, or restarted); not called for close(). */
  onDown?: (reason: string) => void;
  backoff?: Backoff;
  connectionTimeoutMs?: number;
}): ManagedRedis {
  let current: RedisClient | null = null;
  let up = false;
  let closed = false;
  let connecting = false;
  let attempt = 0;
  let everUp = false;
  let timer: Timer | undefined;
  const waiters = new Set<() => void>();

  const drop = (c: RedisClient) => {
    c.onclose = null;
    try {
      c.close();
    } catch {
      // already closed
    }
  };

  const schedule = () => {
    if (closed || timer || connecting) return;
    timer = setTimeout(() => {
      timer = undefined;
      void connect();
    }, fullJitter(attempt++, opts.backoff));
  };

  const lost = (reason: string) => {
    if (closed) return;
    const wasUp = up;
    up = false;
    if (current) drop(current);
    current = null;
    if (wasUp) opts.onDown?.(reason);
    schedule();
  };

  async function connect() {
    if (closed || connecting) return;
    connecting = true;
    const c = new RedisClient(opts.url, {
      autoReconnect: false,
      enableOfflineQueue: false,
      connectionTimeout: opts.connectionTimeoutMs ?? 2000,
    });
    let ok = false;
    c.onclose = () => {
      if (current === c) lost("connection closed");
    };
    try {
      await c.connect();
      if (closed) return drop(c);
      current = c;
      await opts.onReady?.(c, !everUp);
      // Lost while onReady ran: its `lost` could not schedule (still connecting), so this attempt counts as failed.
      ok = !closed && current === c;
    } catch (err) {
      if (attempt === 0 || attempt % 10 === 0) opts.log.debug("redis connect failed", { err, attempt });
    } finally {
      connecting = false;
    }
    if (!ok) {
      if (current === c) current = null;
      drop(c);
      return schedule();
    }
    up = true;
    everUp = true;
    attempt = 0;
    for (const w of waiters) w();
    waiters.clear();
  }

  void connect();

  return {
    client: () => (up ? current : null),
    get up() {
      return up;
    },
    firstUp(timeoutMs) {
      if (up) return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = () => (clearTimeout(t), resolve(true));
        const t = setTimeout(() => (waiters.delete(done), resolve(up)), timeoutMs);
        waiters.add(done);
      });
    },
    restart(reason) {
      if (closed || connecting || timer) return; // already reconnecting
      attempt = 0;
      lost(reason);
    },
    close() {
      closed = true;
      clearTimeout(timer);
      if (current) drop(current);
      current = null;
      up = false;
      for (const w of waiters) w();
      waiters.clear();
    },
  };
}
