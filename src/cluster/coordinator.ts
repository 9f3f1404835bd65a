import type { RedisClient } from "bun";
import type { Logger } from "../log/logger";
import { createManagedRedis, fullJitter, type Backoff } from "./redis";

/**
 * Cluster-wide mutual exclusion: locks around a critical section (`withLock`), leases a node takes for a while
 * (`acquireLease`: "I answer this conversation"), and leadership per role renewed in the background
 * (`isLeader`: the node that runs the off-hours batch, retention, backups). Single node: in-process. Cluster:
 * Redis keys `SET key token NX PX ttl`, renewed with compare-and-PEXPIRE and released with compare-and-DEL (Lua),
 * so only the holder's token can extend or drop a key, and a holder that dies loses it after ttl.
 */
export interface Coordinator {
  readonly nodeId: string;
  /** Runs fn holding a cluster-wide mutex `name` (Redis SET NX PX + token, renewed while fn runs; single node:
   *  in-process mutex). Resolves null without running fn when the lock is still held elsewhere after waitMs.
   *  While Redis does not answer, fn runs without the lock (each node goes on alone). */
  withLock<T>(name: string, fn: () => Promise<T>, opts?: { ttlMs?: number; waitMs?: number }): Promise<T | null>;
  /** Try to take (or renew) a lease `name` for ttlMs; true when this node holds it, and while Redis does not answer. */
  acquireLease(name: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string): Promise<void>;
  /** True while this node holds the background-renewed leadership lease of `role` (off-hours batch, retention, backups). */
  isLeader(role: string): boolean;
  close(): Promise<void>;
}

const DEFAULT_LOCK_TTL_MS = 10_000;
const DEFAULT_WAIT_MS = 5_000;
const DEFAULT_LEADER_TTL_MS = 15_000;
const DEFAULT_COMMAND_TIMEOUT_MS = 2_000;
/** How often a node that does not lead a role asks for it. */
const FOLLOWER_POLL_MS = 1_000;

/** One process: locks are an in-process mutex per name, every lease and every role is held by this node. */
export function createLocalCoordinator(nodeId = "local"): Coordinator {
  const held = new Set<string>();
  /** Callers waiting for each held lock, first come first served; the holder hands the lock to the first. */
  const queues = new Map<string, (() => void)[]>();
  const wait = (name: string, waitMs: number) =>
    new Promise<boolean>((resolve) => {
      let q = queues.get(name);
      if (!q) queues.set(name, (q = []));
      const queue = q;
      const handOver = () => (clearTimeout(timer), resolve(true));
      const timer = setTimeout(() => {
        const i = queue.indexOf(handOver);
        if (i >= 0) queue.splice(i, 1);
        resolve(false);
      }, waitMs);
      queue.push(handOver);
    });
  return {
    nodeId,
    async withLock<T>(name: string, fn: () => Promise<T>, opts: { waitMs?: number } = {}) {
      if (!held.has(name)) held.add(name);
      else if (!(await wait(name, opts.waitMs ?? DEFAULT_WAIT_MS))) return null;
      try {
        return await fn();
      } finally {
        const q = queues.get(name);
        const next = q?.shift();
        if (q?.length === 0) queues.delete(name);
        if (next) next();
        else held.delete(name);
      }
    },
    acquireLease: async () => true,
    releaseLease: async () => {},
    isLeader: () => true,
    close: async () => {},
  };
}

/** SET if absent, or PEXPIRE if ours: 1 when we hold it afterwards. */
const TAKE_OR_RENEW = `local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if v == false then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0`;
/** PEXPIRE only if ours. */
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
/** DEL only if ours. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export interface RedisCoordinatorOptions {
  url: string;
  nodeId: string;
  log: Logger;
  /** Key prefix (default "kefu"): `<prefix>:lock:<name>`, `<prefix>:lease:<name>`, `<prefix>:leader:<role>`. */
  prefix?: string;
  /** Leadership lease length (default 15 s, renewed every ttl/3); a dead leader is replaced within it + 1 s. */
  leaderTtlMs?: number;
  /** Roles to campaign for from the start (isLeader(role) of another role starts campaigning for it). */
  roles?: string[];
  backoff?: Backoff;
  /** How long to wait for the first connection before returning anyway (default 3000 ms). */
  connectTimeoutMs?: number;
  /**
   * A command not answered within this (default 2000 ms) fails, and the connection is replaced: a Redis that
   * hangs (paused, a half-open TCP connection) would otherwise hold every lock, lease and renewal call, and
   * what awaits them (assignment, a bot reply), for good. A close rejects what is pending; a hang does not.
   */
  commandTimeoutMs?: number;
}

export interface RedisCoordinator extends Coordinator {
  /** Roles this node leads now. */
  leading(): string[];
  readonly connected: boolean;
}

export async function createRedisCoordinator(opts: RedisCoordinatorOptions): Promise<RedisCoordinator> {
  const { nodeId, log } = opts;
  const prefix = opts.prefix ?? "kefu";
  const leaderTtl = opts.leaderTtlMs ?? DEFAULT_LEADER_TTL_MS;
  /** This node's token: leases and leadership are held by the node (re-entrant), locks by one call each. */
  const nodeToken = `${nodeId}:${crypto.randomUUID()}`;
  const redis = createManagedRedis({ url: opts.url, log, backoff: opts.backoff, onDown: (reason) => log.warn("coordinator: redis connection lost", { node: nodeId, reason }) });
  let closed = false;
  let failing = false;
  const commandTimeout = opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;

  /** One command, failed after commandTimeout (the connection is then replaced, which rejects the rest pending on it). */
  const command = async (c: RedisClient, cmd: string, args: string[]): Promise<unknown> => {
    let timer: Timer | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        redis.restart(`${cmd} not answered within ${commandTimeout} ms`);
        reject(new Error(`redis ${cmd} not answered within ${commandTimeout} ms`));
      }, commandTimeout);
    });
    try {
      return await Promise.race([c.send(cmd, args), timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
  const evalScript = async (script: string, key: string, token: string, ttlMs?: number): Promise<number> => {
    const c = redis.client();
    if (!c) throw new Error("redis not connected");
    const args = [script, "1", key, token];
    if (ttlMs !== undefined) args.push(String(Math.max(1, Math.round(ttlMs))));
    return Number(await command(c, "EVAL", args));
  };
  /** A lock or lease asked for while Redis does not answer: granted locally, logged once until Redis answers. */
  const unreachable = (what: string, err: unknown) => {
    if (!failing) log.warn(`coordinator: redis unreachable, ${what} granted without it (this node goes on alone)`, { node: nodeId, err });
    failing = true;
  };
  const answering = () => {
    if (failing) log.info("coordinator: redis answering again", { node: nodeId });
    failing = false;
  };
  /** Redis errors: false/0, logged once until the next success. */
  const quiet = async (p: Promise<number>, what: string): Promise<number> => {
    try {
      const v = await p;
      answering();
      return v;
    } catch (err) {
      if (!failing) log.warn(`coordinator: ${what} failed`, { node: nodeId, err });
      failing = true;
      return 0;
    }
  };

  // ---- leadership
  interface Role {
    /** Held until this time (local clock, measured from before the renewal was sent). */
    until: number;
    timer?: Timer;
  }
  const roles = new Map<string, Role>();
  const campaign = (role: string) => {
    if (roles.has(role) || closed) return;
    const r: Role = { until: 0 };
    roles.set(role, r);
    const tick = async () => {
      if (closed) return;
      const started = Date.now();
      const held = (await quiet(evalScript(TAKE_OR_RENEW, `${prefix}:leader:${role}`, nodeToken, leaderTtl), `leadership of ${role}`)) === 1;
      const was = r.until > Date.now();
      if (held) r.until = started + leaderTtl;
      else r.until = 0;
      if (held && !was) log.info("leadership taken", { node: nodeId, role });
      if (!held && was) log.warn("leadership lost", { node: nodeId, role });
      // The leader renews every ttl/3; the others ask every second, so a dead leader is replaced within ttl + 1 s
      // (asking every ttl/3 too, they could find the key free only up to ttl/3 after it expired).
      if (!closed) r.timer = setTimeout(tick, held ? leaderTtl / 3 : Math.min(FOLLOWER_POLL_MS, leaderTtl / 3));
      r.timer?.unref?.();
    };
    void tick();
  };
  for (const role of opts.roles ?? []) campaign(role);

  // ---- leases this node took (to release them on close)
  const leases = new Set<string>();

  await redis.firstUp(opts.connectTimeoutMs ?? 3000);
  if (!redis.up) log.warn("coordinator: redis not reachable yet, retrying in the background", { node: nodeId });

  return {
    nodeId,
    get connected() {
      return redis.up;
    },
    async withLock<T>(name: string, fn: () => Promise<T>, o: { ttlMs?: number; waitMs?: number } = {}) {
      const ttl = o.ttlMs ?? DEFAULT_LOCK_TTL_MS;
      const deadline = Date.now() + (o.waitMs ?? DEFAULT_WAIT_MS);
      const key = `${prefix}:lock:${name}`;
      const token = `${nodeId}:${crypto.randomUUID()}`;
      for (let attempt = 0; ; attempt++) {
        const c = redis.client();
        let got = false;
        try {
          if (!c) throw new Error("redis not connected");
          got = (await command(c, "SET", [key, token, "NX", "PX", String(ttl)])) === "OK";
        } catch (err) {
          // Redis unreachable: nobody can hold the lock; run unlocked rather than stop (docs/cluster.md).
          unreachable(`lock ${name}`, err);
          if (closed) return null;
          return fn();
        }
        if (got) break;
        const left = deadline - Date.now();
        if (left <= 0 || closed) return null;
        await Bun.sleep(Math.min(left, 5 + fullJitter(attempt, { baseMs: 10, maxMs: 200 })));
      }
      let lost = false;
      const renew = setInterval(async () => {
        const ok = (await quiet(evalScript(RENEW, key, token, ttl), `renewing lock ${name}`)) === 1;
        if (!ok && !lost) {
          lost = true;
          log.warn("coordinator: lock lost while held (expired or redis lost it)", { node: nodeId, lock: name });
        }
      }, ttl / 3);
      try {
        return await fn();
      } finally {
        clearInterval(renew);
        await quiet(evalScript(RELEASE, key, token), `releasing lock ${name}`);
      }
    },
    async acquireLease(name, ttlMs) {
      let held: boolean;
      try {
        held = (await evalScript(TAKE_OR_RENEW, `${prefix}:lease:${name}`, nodeToken, ttlMs)) === 1;
        answering();
      } catch (err) {
        // Redis unreachable: this node goes on alone (the bot answers) rather than stop (docs/cluster.md).
        unreachable(`lease ${name}`, err);
        return !closed;
      }
      if (held) leases.add(name);
      return held;
    },
    async releaseLease(name) {
      leases.delete(name);
      await quiet(evalScript(RELEASE, `${prefix}:lease:${name}`, nodeToken), `releasing lease ${name}`);
    },
    isLeader(role) {
      const r = roles.get(role);
      if (!r) {
        campaign(role);
        return false;
      }
      return r.until > Date.now();
    },
    leading: () => [...roles.entries()].filter(([, r]) => r.until > Date.now()).map(([role]) => role),
    async close() {
      if (closed) return;
      closed = true;
      const held = [...roles.entries()].filter(([, r]) => r.until > Date.now()).map(([role]) => role);
      for (const r of roles.values()) clearTimeout(r.timer);
      // Hand leadership and leases over at once rather than after their ttl.
      await Promise.all([
        ...held.map((role) => quiet(evalScript(RELEASE, `${prefix}:leader:${role}`, nodeToken), "releasing leadership")),
        ...[...leases].map((name) => quiet(evalScript(RELEASE, `${prefix}:lease:${name}`, nodeToken), "releasing lease")),
      ]);
      for (const r of roles.values()) r.until = 0;
      redis.close();
    },
  };
}
